package piv

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/custodian-hsm/custodian/crypto/token"
	pivgo "github.com/go-piv/piv-go/v2/piv"
)

// Health reports PIN and PUK retries, whether the PIN, PUK and management
// key are still the factory defaults (firmware 5.3 and later say so) and
// which key slots are free. It needs no PIN and spends no retry.
func (p *Provider) Health(ctx context.Context, ref *token.URI, opts token.OpenOptions) (token.Health, error) {
	c, err := p.find(ctx, ref)
	if err != nil {
		return token.Health{}, err
	}
	h := token.Health{PINRetries: -1, PUKRetries: -1}

	yk, err := p.open(c)
	if err != nil {
		return h, err
	}
	free, slotWarn := freeSlots(yk, c.fw)
	yk.Close()
	h.FreeSlots = free
	if slotWarn != "" {
		h.Warnings = append(h.Warnings, slotWarn)
	}

	cr, err := p.readCredentials(c)
	if err != nil {
		return h, err
	}
	h.PINRetries, h.PUKRetries = cr.pinRetries, cr.pukRetries
	h.DefaultPIN, h.DefaultPUK, h.DefaultManagementKey = cr.defaultPIN, cr.defaultPUK, cr.defaultMgmt

	switch {
	case h.PINRetries == 0:
		h.Warnings = append(h.Warnings, "PIN is blocked: unblock it with the PUK")
	case h.PINRetries == 1:
		h.Warnings = append(h.Warnings, "PIN has one retry left: a wrong PIN blocks it")
	}
	switch {
	case h.PUKRetries == 0:
		h.Warnings = append(h.Warnings, "PUK is blocked: a blocked PIN could then only be cleared by resetting the PIV application, which destroys its keys")
	case h.PUKRetries == 1:
		h.Warnings = append(h.Warnings, "PUK has one retry left")
	}
	if d := cr.defaults(); len(d) > 0 {
		h.Warnings = append(h.Warnings, fmt.Sprintf("factory default %s still set: change before enrolling", strings.Join(d, ", ")))
	}
	if !c.fw.atLeast(5, 3, 0) {
		h.Warnings = append(h.Warnings, fmt.Sprintf("firmware %s cannot report default credentials or the PUK counter (needs 5.3)", c.fw))
	}
	if len(h.FreeSlots) == 0 && slotWarn == "" {
		h.Warnings = append(h.Warnings, "no free key slot")
	} else if !containsKeyManagementSlot(h.FreeSlots) && slotWarn == "" {
		h.Warnings = append(h.Warnings, "no free key-management slot (9d or 82–95)")
	}
	if c.info.Drill {
		h.Warnings = append(h.Warnings, "virtual card: for drills only, never for a real security domain")
	}
	return h, nil
}

func containsKeyManagementSlot(slots []string) bool {
	for _, s := range slots {
		if s == "9d" || (s >= "82" && s <= "95") {
			return true
		}
	}
	return false
}

// freeSlots lists the key slots that hold no key: GET METADATA on
// firmware 5.3 and later; before that, a slot without an attestation and
// without a certificate is taken as free, and the warning says so.
func freeSlots(yk *pivgo.YubiKey, fw version) (free []string, warning string) {
	for _, name := range allSlots() {
		slot, _ := slotFor(name)
		used, err := slotUsed(yk, fw, slot)
		if err != nil {
			return nil, fmt.Sprintf("could not read slot %s: %v", name, err)
		}
		if !used {
			free = append(free, name)
		}
	}
	if !fw.atLeast(5, 3, 0) {
		warning = "free slots are judged by attestation and certificates (firmware before 5.3 has no slot metadata)"
	}
	return free, warning
}

// slotUsed says whether a slot holds a key.
func slotUsed(yk *pivgo.YubiKey, fw version, slot pivgo.Slot) (bool, error) {
	if fw.atLeast(5, 3, 0) {
		_, err := yk.KeyInfo(slot)
		if errors.Is(err, pivgo.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	if fw.atLeast(4, 3, 0) {
		_, err := yk.Attest(slot)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, pivgo.ErrNotFound) {
			return true, nil // an imported key cannot be attested, but it is a key
		}
	}
	_, err := yk.Certificate(slot)
	if errors.Is(err, pivgo.ErrNotFound) {
		return false, nil
	}
	return true, nil
}

// credentials is what the card says about its PIN, PUK and management key.
type credentials struct {
	pinRetries, pukRetries              int
	defaultPIN, defaultPUK, defaultMgmt token.Tristate
}

func (cr credentials) defaults() []string {
	var d []string
	if cr.defaultPIN == token.Yes {
		d = append(d, "PIN")
	}
	if cr.defaultPUK == token.Yes {
		d = append(d, "PUK")
	}
	if cr.defaultMgmt == token.Yes {
		d = append(d, "management key")
	}
	return d
}

// readCredentials asks the card, over Custodian's own path, about its
// credentials: piv-go does not expose the default flags of GET METADATA.
func (p *Provider) readCredentials(c card) (credentials, error) {
	cr := credentials{pinRetries: -1, pukRetries: -1}
	s, err := openSession(c.reader)
	if err != nil {
		return cr, fmt.Errorf("reading the credentials of %s: %w", c.info, err)
	}
	defer s.close()
	if err := s.checkSerial(c.serial, c.fw); err != nil {
		return cr, err
	}
	if !c.fw.atLeast(5, 3, 0) {
		cr.pinRetries, err = s.pinRetries(c.fw)
		return cr, err
	}
	for _, q := range []struct {
		ref     byte
		retries *int
		def     *token.Tristate
	}{
		{refPIN, &cr.pinRetries, &cr.defaultPIN},
		{refPUK, &cr.pukRetries, &cr.defaultPUK},
		{refManagement, nil, &cr.defaultMgmt},
	} {
		md, err := s.getMetadata(q.ref)
		if err != nil {
			return cr, fmt.Errorf("reading the metadata of %02X on %s: %w", q.ref, c.info, err)
		}
		if q.retries != nil {
			*q.retries = md.retries
		}
		*q.def = md.isDefault
	}
	return cr, nil
}

// DefaultCredentialsError is returned by Enroll when the YubiKey still has
// a factory-default PIN, PUK or management key: anyone who picks up the
// key could use it. Change them first (ChangePIN, ChangePUK,
// SetRandomManagementKey).
type DefaultCredentialsError struct {
	Token                   token.Info
	PIN, PUK, ManagementKey bool
}

func (e *DefaultCredentialsError) Error() string {
	var d []string
	if e.PIN {
		d = append(d, "PIN")
	}
	if e.PUK {
		d = append(d, "PUK")
	}
	if e.ManagementKey {
		d = append(d, "management key")
	}
	return fmt.Sprintf("%s still has the factory default %s: change %s before enrolling a custodian key", e.Token, joinAnd(d), itOrThem(len(d)))
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func itOrThem(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}
