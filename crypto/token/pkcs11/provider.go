package pkcs11

import (
	"context"
	"fmt"
	"strings"

	p11 "github.com/miekg/pkcs11"

	"github.com/custodian-hsm/custodian/crypto/token"
)

// Options configure the provider.
type Options struct {
	// ModulePath is the default PKCS#11 module.
	ModulePath string
}

// Provider is the "pkcs11:" backend.
type Provider struct {
	opts Options
}

// New returns the PKCS#11 provider.
func New(opts Options) *Provider { return &Provider{opts: opts} }

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
	module string
	slot   uint
	info   p11.TokenInfo
}

func (s slotToken) tokenInfo() token.Info {
	label := strings.TrimSpace(s.info.Label)
	serial := strings.TrimSpace(s.info.SerialNumber)
	manuf := strings.TrimSpace(s.info.ManufacturerID)
	model := strings.TrimSpace(s.info.Model)
	drill := strings.Contains(manuf, "SoftHSM")
	if drill {
		model += " (software token, DRILL)"
	}
	return token.Info{
		Kind: token.KindPKCS11, Manufacturer: manuf, Model: model, Serial: serial, Label: label,
		Firmware: fmt.Sprintf("%d.%d", s.info.FirmwareVersion.Major, s.info.FirmwareVersion.Minor),
		Ref: &token.URI{Scheme: token.SchemePKCS11,
			Path:  map[string]string{"token": label, "serial": serial},
			Query: map[string]string{"module-path": s.module}},
		Drill: drill,
	}
}

// tokens lists the initialised tokens of a module.
func tokens(path string) ([]slotToken, error) {
	ctx, err := module(path)
	if err != nil {
		return nil, err
	}
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("listing the slots of %s: %w", path, err)
	}
	var out []slotToken
	for _, s := range slots {
		ti, err := ctx.GetTokenInfo(s)
		if err != nil || ti.Flags&flagTokenInitialized == 0 {
			continue
		}
		out = append(out, slotToken{module: path, slot: s, info: ti})
	}
	return out, nil
}

// find selects the token a reference names (token label and/or serial).
func (p *Provider) find(ref *token.URI) (slotToken, error) {
	mod, err := p.resolveModule(ref.Query)
	if err != nil {
		return slotToken{}, err
	}
	all, err := tokens(mod)
	if err != nil {
		return slotToken{}, err
	}
	label, serial := ref.Get("token"), ref.Get("serial")
	var found []slotToken
	for _, t := range all {
		if (label == "" || strings.TrimSpace(t.info.Label) == label) && (serial == "" || strings.TrimSpace(t.info.SerialNumber) == serial) {
			found = append(found, t)
		}
	}
	var names []string
	for _, t := range all {
		names = append(names, fmt.Sprintf("%q (serial %s)", strings.TrimSpace(t.info.Label), strings.TrimSpace(t.info.SerialNumber)))
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) == 0:
		return slotToken{}, fmt.Errorf("no token %s in %s (tokens present: %s): %w", describeRef(label, serial), mod, strings.Join(names, ", "), token.ErrNotFound)
	}
	return slotToken{}, fmt.Errorf("%d tokens match %s in %s: add serial= to the reference", len(found), describeRef(label, serial), mod)
}

func describeRef(label, serial string) string {
	switch {
	case label != "" && serial != "":
		return fmt.Sprintf("labelled %q with serial %s", label, serial)
	case label != "":
		return fmt.Sprintf("labelled %q", label)
	case serial != "":
		return "with serial " + serial
	}
	return "at all"
}

// List implements token.Provider: the tokens of the default module.
func (p *Provider) List(context.Context) ([]token.Info, error) {
	mu.Lock()
	defer mu.Unlock()
	mod, err := p.resolveModule(nil)
	if err != nil {
		return nil, err
	}
	all, err := tokens(mod)
	if err != nil {
		return nil, err
	}
	var infos []token.Info
	for _, t := range all {
		infos = append(infos, t.tokenInfo())
	}
	return infos, nil
}

// Health implements token.Provider. PKCS#11 reports PIN retries only as
// flags (count low, final try, locked), so the exact count is unknown
// (-1) unless the token is down to its last try or locked.
func (p *Provider) Health(_ context.Context, ref *token.URI, _ token.OpenOptions) (token.Health, error) {
	mu.Lock()
	defer mu.Unlock()
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
