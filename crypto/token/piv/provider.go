package piv

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/pcsc"
	pivgo "github.com/go-piv/piv-go/v2/piv"
)

// Options configure the YubiKey provider.
type Options struct {
	// AttestationRoots verify attestation chains. Nil means Yubico's PIV
	// attestation roots and intermediates, as published by Yubico and
	// embedded in piv-go. Drills and tests pass the virtual card's test
	// root here; production never should.
	AttestationRoots *x509.CertPool
	// DrillSerials are the serial numbers of the virtual YubiKeys a drill
	// made (its rig's cards): they, and only they, are listed as drill
	// cards. Whether a card is a drill card is decided by how it was made,
	// never by its reader's name, which anyone can choose. Production
	// passes none.
	DrillSerials []uint32
	// ManagementKey is asked for the PIV management key when it is neither
	// stored PIN-protected on the YubiKey nor the factory default (a key
	// set up by other tools). Nil means such keys cannot be enrolled on;
	// SetRandomManagementKey is the friendly way out. The provider wipes
	// the returned slice.
	ManagementKey func(ctx context.Context, tok token.Info) ([]byte, error)
}

// Provider is the "yubikey:" token backend.
type Provider struct {
	opts Options
}

// New returns a YubiKey provider.
func New(opts Options) *Provider {
	return &Provider{opts: opts}
}

var _ token.Provider = (*Provider)(nil)

// Scheme is "yubikey".
func (p *Provider) Scheme() string { return token.SchemeYubiKey }

// card is a YubiKey found in a reader.
type card struct {
	reader     string
	serial     uint32
	fw         version
	formFactor pivgo.Formfactor
	info       token.Info
}

// isDrillCard says whether a card is one of the drill's virtual cards.
func (p *Provider) isDrillCard(serial uint32) bool {
	return slices.Contains(p.opts.DrillSerials, serial)
}

// List returns the YubiKeys present. Readers without a card and cards
// that are not YubiKeys are skipped; a reader whose card another program
// holds exclusively is reported in the error, next to the YubiKeys found.
func (p *Provider) List(ctx context.Context) ([]token.Info, error) {
	cards, err := p.cards(ctx)
	var infos []token.Info
	for _, c := range cards {
		infos = append(infos, c.info)
	}
	return infos, err
}

func (p *Provider) cards(ctx context.Context) ([]card, error) {
	pctx, err := pcsc.EstablishContext()
	if err != nil {
		return nil, fmt.Errorf("listing smart-card readers: %w", err)
	}
	readers, err := pctx.ListReaders()
	pctx.Release()
	if err != nil {
		return nil, fmt.Errorf("listing smart-card readers: %w", err)
	}
	var cards []card
	var errs []error
	for _, reader := range readers {
		if err := ctx.Err(); err != nil {
			return cards, err
		}
		c, ok, err := p.probe(reader)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			cards = append(cards, c)
		}
	}
	return cards, errors.Join(errs...)
}

// probe looks at the card in one reader. ok is false for an empty reader
// or a card that is not a YubiKey.
func (p *Provider) probe(reader string) (c card, ok bool, err error) {
	// Our own shared-mode session first: it tells an empty reader or a
	// card without the PIV application or Yubico's GET VERSION (skip)
	// from a card another program holds (report), with typed errors.
	s, err := openSession(reader)
	switch {
	case errors.Is(err, pcsc.ErrNoSmartcard), errors.Is(err, pcsc.ErrRemovedCard),
		errors.Is(err, pcsc.ErrUnpoweredCard), errors.Is(err, pcsc.ErrUnresponsiveCard):
		return card{}, false, nil
	case isStatusError(err):
		return card{}, false, nil // no PIV application
	case err != nil:
		return card{}, false, fmt.Errorf("reader %q: %w", reader, err)
	}
	r, err := s.exchange(pcsc.Command{INS: insGetVersion, Ne: 256})
	s.close()
	if err != nil {
		return card{}, false, fmt.Errorf("reader %q: %w", reader, err)
	}
	if !r.OK() || len(r.Data) != 3 {
		return card{}, false, nil // a PIV card, but not a YubiKey
	}
	yk, err := pivgo.Open(reader)
	if err != nil {
		return card{}, false, fmt.Errorf("reader %q: the YubiKey is busy or unreadable (another program may hold it: gpg-agent/scdaemon, ykman, a browser): %w", reader, err)
	}
	defer yk.Close()
	serial, err := yk.Serial()
	if err != nil {
		return card{}, false, fmt.Errorf("reader %q: reading the YubiKey's serial number: %w", reader, err)
	}
	v := yk.Version()
	c = card{reader: reader, serial: serial, fw: version{v.Major, v.Minor, v.Patch}}
	if ff, err := yk.FormFactor(); err == nil {
		c.formFactor = ff
	}
	c.info = p.infoFor(c)
	return c, true, nil
}

func isStatusError(err error) bool {
	var se *pcsc.StatusError
	return errors.As(err, &se)
}

func (p *Provider) infoFor(c card) token.Info {
	info := token.Info{
		Kind:         token.KindYubiKey,
		Manufacturer: "Yubico",
		Serial:       strconv.FormatUint(uint64(c.serial), 10),
		Firmware:     c.fw.String(),
		Ref:          &token.URI{Scheme: token.SchemeYubiKey, Path: map[string]string{"serial": strconv.FormatUint(uint64(c.serial), 10)}, Query: map[string]string{}},
	}
	if p.isDrillCard(c.serial) {
		info.Model = "virtual YubiKey, DRILL"
		info.Drill = true
		return info
	}
	model := "YubiKey"
	if c.fw.major >= 4 {
		model += " " + strconv.Itoa(c.fw.major)
	}
	if c.formFactor != 0 {
		model += " " + c.formFactor.String()
	}
	info.Model = model
	return info
}

// find returns the YubiKey a reference names: by serial, or the only one
// present when the reference names none.
func (p *Provider) find(ctx context.Context, ref *token.URI) (card, error) {
	if ref == nil || ref.Scheme != token.SchemeYubiKey {
		return card{}, fmt.Errorf("%q is not a yubikey: reference", ref.String())
	}
	cards, listErr := p.cards(ctx)
	want := ref.Get("serial")
	if want != "" {
		for _, c := range cards {
			if strconv.FormatUint(uint64(c.serial), 10) == want {
				return c, nil
			}
		}
		if listErr != nil {
			return card{}, fmt.Errorf("YubiKey serial %s: %w (and: %v)", want, token.ErrNotFound, listErr)
		}
		return card{}, fmt.Errorf("YubiKey serial %s is not plugged in: %w", want, token.ErrNotFound)
	}
	switch len(cards) {
	case 0:
		if listErr != nil {
			return card{}, fmt.Errorf("no YubiKey found: %w (and: %v)", token.ErrNotFound, listErr)
		}
		return card{}, fmt.Errorf("no YubiKey found (is it plugged in, and pcscd running?): %w", token.ErrNotFound)
	case 1:
		return cards[0], nil
	}
	var serials []string
	for _, c := range cards {
		serials = append(serials, strconv.FormatUint(uint64(c.serial), 10))
	}
	return card{}, fmt.Errorf("%d YubiKeys are plugged in (serials %s): name one with yubikey:serial=N", len(cards), strings.Join(serials, ", "))
}

// Describe implements token.Describer: the one YubiKey the reference
// names, found without logging in.
func (p *Provider) Describe(ctx context.Context, ref *token.URI) (token.Info, error) {
	c, err := p.find(ctx, ref)
	if err != nil {
		return token.Info{Kind: token.KindYubiKey, Ref: ref}, err
	}
	return c.info, nil
}

// open opens the card with piv-go and checks it is still the YubiKey we
// found. piv-go holds the card exclusively until yk.Close.
func (p *Provider) open(c card) (*pivgo.YubiKey, error) {
	yk, err := pivgo.Open(c.reader)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", c.info, err)
	}
	serial, err := yk.Serial()
	if err != nil {
		yk.Close()
		return nil, fmt.Errorf("reading the serial of %s: %w", c.info, err)
	}
	if serial != c.serial {
		yk.Close()
		return nil, fmt.Errorf("the YubiKey in reader %q is now serial %d, not %d: was it swapped?", c.reader, serial, c.serial)
	}
	return yk, nil
}

// slotFor maps a slot name ("9d", "82"…) to piv-go's slot.
func slotFor(name string) (pivgo.Slot, error) {
	id, err := token.ParsePIVSlot(name)
	if err != nil {
		return pivgo.Slot{}, err
	}
	switch id {
	case 0x9a:
		return pivgo.SlotAuthentication, nil
	case 0x9c:
		return pivgo.SlotSignature, nil
	case 0x9d:
		return pivgo.SlotKeyManagement, nil
	case 0x9e:
		return pivgo.SlotCardAuthentication, nil
	}
	s, ok := pivgo.RetiredKeyManagementSlot(uint32(id))
	if !ok {
		return pivgo.Slot{}, fmt.Errorf("slot %s is not a PIV key slot", name)
	}
	return s, nil
}

// allSlots are the key slots Custodian reports on: the four standard
// ones and the twenty retired key-management slots.
func allSlots() []string {
	s := []string{"9a", "9c", "9d", "9e"}
	for i := 0x82; i <= 0x95; i++ {
		s = append(s, fmt.Sprintf("%02x", i))
	}
	return s
}

// pinString hands a PIN held in a []byte to piv-go, whose API takes
// strings, without making a string copy of our own: the string aliases
// the slice, so wiping the slice afterwards wipes it too. piv-go only
// reads it during the call (its own padded copy is beyond our reach). The
// string must not be used after the slice is wiped.
func pinString(pin []byte) string {
	if len(pin) == 0 {
		return ""
	}
	return unsafe.String(&pin[0], len(pin))
}

// pinErrorFrom converts piv-go's authentication error into the typed
// token error.
func pinErrorFrom(tok token.Info, what string, err error) error {
	var ae pivgo.AuthErr
	if errors.As(err, &ae) {
		if ae.Retries == 0 {
			return &token.PINError{Token: tok, What: what, Blocked: true}
		}
		return &token.PINError{Token: tok, What: what, RetriesLeft: ae.Retries}
	}
	return err
}

// checkRetries applies the rule every PIN entry follows: a blocked PIN is
// reported without trying, and with one retry left the backend tries only
// when the caller says the person was warned.
func checkRetries(tok token.Info, what string, retries int, allowLast bool) error {
	switch {
	case retries == 0:
		return &token.PINError{Token: tok, What: what, Blocked: true}
	case retries == 1 && !allowLast:
		return &token.PINError{Token: tok, What: what, RetriesLeft: 1, LastRetry: true}
	}
	return nil
}
