package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	p11 "github.com/miekg/pkcs11"

	"github.com/custodian-hsm/custodian/crypto/token"
)

// Options configure the provider. They are fixed when Custodian starts.
type Options struct {
	// Modules are modules named by whoever started Custodian
	// (--pkcs11-module), added to the system's well-known ones.
	Modules []string
	// ModulePath is one more such module (kept for callers that name one).
	ModulePath string
	// ConfigFile lists further modules (default DefaultConfigFile; "-"
	// reads none).
	ConfigFile string
	// Drill allows SoftHSM and $CUSTODIAN_PKCS11_MODULE. A production
	// provider never loads either.
	Drill bool
}

// Provider is the "pkcs11:" backend.
type Provider struct {
	opts     Options
	mods     []Module
	problems []error
}

// New returns the PKCS#11 provider over the modules the options allow.
// Modules that fail their checks are left out and reported by Problems.
func New(opts Options) *Provider {
	if opts.ModulePath != "" {
		opts.Modules = append(append([]string(nil), opts.Modules...), opts.ModulePath)
	}
	p := &Provider{opts: opts}
	p.mods, p.problems = buildModules(opts)
	return p
}

var _ token.Provider = (*Provider)(nil)

// Scheme is "pkcs11".
func (p *Provider) Scheme() string { return token.SchemePKCS11 }

// Token-info flags (PKCS#11 v2.40 §5.6, CK_TOKEN_INFO).
const (
	flagUserPINCountLow    = 0x00010000
	flagUserPINFinalTry    = 0x00020000
	flagUserPINLocked      = 0x00040000
	flagUserPINToBeChanged = 0x00080000
	flagTokenInitialized   = 0x00000400
)

// slotToken is a token in a slot of a module.
type slotToken struct {
	module string // resolved path
	slot   uint
	info   p11.TokenInfo
	drill  bool // a SoftHSM module or token
}

func (s slotToken) tokenInfo() token.Info {
	label := strings.TrimSpace(s.info.Label)
	serial := strings.TrimSpace(s.info.SerialNumber)
	manuf := strings.TrimSpace(s.info.ManufacturerID)
	model := strings.TrimSpace(s.info.Model)
	return token.Info{
		Kind: token.KindPKCS11, Manufacturer: manuf, Model: model, Serial: serial, Label: label,
		Firmware: fmt.Sprintf("%d.%d", s.info.FirmwareVersion.Major, s.info.FirmwareVersion.Minor),
		Ref: &token.URI{Scheme: token.SchemePKCS11,
			Path:  map[string]string{"token": label, "serial": serial},
			Query: map[string]string{"module-path": s.module}},
		Drill: s.drill,
	}
}

// tokens lists the initialised tokens of a module. SoftHSM is recognised
// by its identity (C_GetInfo's manufacturer, the token's manufacturer,
// the resolved file name), never by what a reference says: its tokens are
// drill tokens, and a production provider refuses the module outright.
func (p *Provider) tokens(m Module) ([]slotToken, error) {
	ctx, err := module(m.Resolved)
	if err != nil {
		return nil, err
	}
	drill := m.Drill
	if li, err := ctx.GetInfo(); err == nil && strings.Contains(li.ManufacturerID, "SoftHSM") {
		drill = true
	}
	if drill && !p.opts.Drill {
		return nil, &ModuleError{Path: m.Path, Reason: "it is SoftHSM, a drill module: never used by a production ceremony (use --drill)"}
	}
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("listing the slots of %s: %w", m.Resolved, err)
	}
	var out []slotToken
	for _, s := range slots {
		ti, err := ctx.GetTokenInfo(s)
		if err != nil || ti.Flags&flagTokenInitialized == 0 {
			continue
		}
		// A SoftHSM token reached through another module (a proxy such as
		// p11-kit) is no more production than SoftHSM itself.
		softhsm := strings.Contains(ti.ManufacturerID, "SoftHSM")
		if softhsm && !p.opts.Drill {
			continue
		}
		// Whether a token is a drill token is decided by how it was made
		// (a drill module, SoftHSM), never by a reader's name: a virtual
		// card seen through OpenSC or ykcs11 is a PKCS#11 token like any
		// other, whose key attributes are only a claim (admitted in
		// production only under a witnessed exception).
		d := drill || softhsm
		out = append(out, slotToken{module: m.Resolved, slot: s, info: ti, drill: d})
	}
	return out, nil
}

// tokenAttrs are the token attributes a reference may name; each one it
// names must match. Attributes Custodian cannot check are refused rather
// than ignored, so a reference never selects more than it says.
var tokenAttrs = []string{"serial", "token", "manufacturer", "model", "slot-id"}

func attrValue(t slotToken, name string) string {
	switch name {
	case "serial":
		return strings.TrimSpace(t.info.SerialNumber)
	case "token":
		return strings.TrimSpace(t.info.Label)
	case "manufacturer":
		return strings.TrimSpace(t.info.ManufacturerID)
	case "model":
		return strings.TrimSpace(t.info.Model)
	case "slot-id":
		return strconv.FormatUint(uint64(t.slot), 10)
	case "module-path":
		return t.module
	}
	return ""
}

// find selects the one token a reference names, among the modules it may
// use, before any login. Every named attribute must match; two matches
// are an *token.AmbiguousError naming the attributes that differ.
func (p *Provider) find(ref *token.URI) (slotToken, error) {
	for k := range ref.Path {
		switch k {
		case "serial", "token", "manufacturer", "model", "slot-id", "object", "id", "type":
		default:
			return slotToken{}, &token.URIError{Err: fmt.Errorf("attribute %s is not one Custodian matches tokens on: use serial, token, manufacturer, model or slot-id", k)}
		}
	}
	mods, err := p.selectModules(ref.Query)
	if err != nil {
		return slotToken{}, err
	}
	var all, found []slotToken
	var errs []error
	for _, m := range mods {
		ts, err := p.tokens(m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, ts...)
	}
	for _, t := range all {
		ok := true
		for _, a := range tokenAttrs {
			if want, named := ref.Path[a]; named && attrValue(t, a) != want {
				ok = false
			}
		}
		if ok {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		var names []string
		for _, t := range all {
			names = append(names, t.tokenInfo().String())
		}
		present := "none"
		if len(names) > 0 {
			present = strings.Join(names, ", ")
		}
		if len(errs) > 0 {
			// Kept for errors.As: a refused module is the real answer.
			return slotToken{}, fmt.Errorf("no token matches %s (tokens present: %s): %w; %w", ref, present, token.ErrNotFound, errors.Join(errs...))
		}
		return slotToken{}, fmt.Errorf("no token matches %s (tokens present: %s): %w", ref, present, token.ErrNotFound)
	}
	return slotToken{}, ambiguous(ref, found)
}

// ambiguous names what tells the matching tokens apart.
func ambiguous(ref *token.URI, found []slotToken) error {
	e := &token.AmbiguousError{Ref: ref.String()}
	for _, t := range found {
		info := t.tokenInfo()
		info.Ref = info.Ref.With("slot-id", attrValue(t, "slot-id"))
		e.Matches = append(e.Matches, info)
	}
	// slot-id is the last resort: slot numbers change when readers are
	// plugged in another order.
	for _, a := range []string{"serial", "token", "manufacturer", "model", "module-path", "slot-id"} {
		if a == "slot-id" && len(e.Distinguish) > 0 {
			break
		}
		vals := map[string]bool{}
		for _, t := range found {
			vals[attrValue(t, a)] = true
		}
		if len(vals) == len(found) {
			e.Distinguish = append(e.Distinguish, a)
		}
	}
	return e
}

// Describe implements token.Describer: the one token a reference names,
// found without logging in.
func (p *Provider) Describe(_ context.Context, ref *token.URI) (token.Info, error) {
	mu.Lock()
	defer mu.Unlock()
	defer idle()
	t, err := p.find(ref)
	if err != nil {
		return token.Info{Kind: token.KindPKCS11, Ref: ref}, err
	}
	return t.tokenInfo(), nil
}

// List implements token.Provider: the tokens of every module this
// provider may load. A module that fails does not hide the others.
func (p *Provider) List(context.Context) ([]token.Info, error) {
	mu.Lock()
	defer mu.Unlock()
	defer idle()
	var infos []token.Info
	errs := append([]error(nil), p.problems...)
	for _, m := range p.mods {
		ts, err := p.tokens(m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, t := range ts {
			infos = append(infos, t.tokenInfo())
		}
	}
	return infos, errors.Join(errs...)
}

// Health implements token.Provider. PKCS#11 reports PIN retries only as
// flags (count low, final try, locked), so the exact count is unknown
// (-1) unless the token is down to its last try or locked.
func (p *Provider) Health(_ context.Context, ref *token.URI, _ token.OpenOptions) (token.Health, error) {
	mu.Lock()
	defer mu.Unlock()
	defer idle()
	t, err := p.find(ref)
	if err != nil {
		return token.Health{}, err
	}
	return healthOf(t.info.Flags), nil
}

func healthOf(flags uint) token.Health {
	h := token.Health{PINRetries: -1, PUKRetries: -1}
	switch {
	case flags&flagUserPINLocked != 0:
		h.PINRetries = 0
		h.Warnings = append(h.Warnings, "the user PIN is locked: the security officer must reset it")
	case flags&flagUserPINFinalTry != 0:
		h.PINRetries = 1
		h.Warnings = append(h.Warnings, "one PIN try left: a wrong PIN locks the token")
	case flags&flagUserPINCountLow != 0:
		h.Warnings = append(h.Warnings, "a wrong PIN was entered since the last good one (exact tries left unknown)")
	}
	if flags&flagUserPINToBeChanged != 0 {
		h.DefaultPIN = token.Yes
		h.Warnings = append(h.Warnings, "the token asks for its user PIN to be changed before use")
	}
	return h
}
