package piv

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"

	"github.com/custodian-hsm/custodian/crypto/token"
	pivgo "github.com/go-piv/piv-go/v2/piv"
)

// Factory defaults of the YubiKey PIV application.
var (
	defaultPIN = []byte("123456")
	defaultPUK = []byte("12345678")
)

// checkNewSecret validates a new PIN or PUK before it reaches the card.
func checkNewSecret(what string, next, current, factory []byte) error {
	if len(next) < 6 || len(next) > 8 {
		return fmt.Errorf("the new %s must have 6 to 8 characters, not %d", what, len(next))
	}
	if bytes.IndexByte(next, 0xFF) >= 0 {
		return fmt.Errorf("the new %s contains a 0xFF byte, which PIV reserves for padding", what)
	}
	if subtle.ConstantTimeCompare(next, factory) == 1 {
		return fmt.Errorf("the new %s is the factory default: choose another", what)
	}
	if current != nil && subtle.ConstantTimeCompare(next, current) == 1 {
		return fmt.Errorf("the new %s is the same as the current one", what)
	}
	return nil
}

// retriesFor reads the PIN (refPIN) or PUK (refPUK) retries without
// spending one. -1 when the card cannot say.
func (p *Provider) retriesFor(c card, ref byte) (int, error) {
	s, err := openSession(c.reader)
	if err != nil {
		return -1, err
	}
	defer s.close()
	if err := s.checkSerial(c.serial, c.fw); err != nil {
		return -1, err
	}
	if ref == refPIN {
		return s.pinRetries(c.fw)
	}
	if !c.fw.atLeast(5, 3, 0) {
		return -1, nil
	}
	md, err := s.getMetadata(refPUK)
	if err != nil {
		return -1, err
	}
	return md.retries, nil
}

// ChangePIN changes the PIN from current to next (6–8 characters, not the
// factory default). A wrong current PIN is a *token.PINError; with one
// retry left it is not tried unless allowLastRetry. The caller keeps and
// wipes both slices.
func (p *Provider) ChangePIN(ctx context.Context, ref *token.URI, current, next []byte, allowLastRetry bool) error {
	if err := checkNewSecret("PIN", next, current, defaultPIN); err != nil {
		return err
	}
	return p.changeSecret(ctx, ref, "PIN", refPIN, current, next, allowLastRetry,
		func(yk *pivgo.YubiKey) error { return yk.SetPIN(pinString(current), pinString(next)) })
}

// ChangePUK changes the PUK from current to next (6–8 characters, not the
// factory default). A wrong current PUK is a *token.PINError with What
// "PUK".
func (p *Provider) ChangePUK(ctx context.Context, ref *token.URI, current, next []byte, allowLastRetry bool) error {
	if err := checkNewSecret("PUK", next, current, defaultPUK); err != nil {
		return err
	}
	return p.changeSecret(ctx, ref, "PUK", refPUK, current, next, allowLastRetry,
		func(yk *pivgo.YubiKey) error { return yk.SetPUK(pinString(current), pinString(next)) })
}

// Unblock sets a new PIN with the PUK, which also resets the PIN retry
// counter. A wrong PUK is a *token.PINError with What "PUK".
func (p *Provider) Unblock(ctx context.Context, ref *token.URI, puk, newPIN []byte, allowLastRetry bool) error {
	if err := checkNewSecret("PIN", newPIN, nil, defaultPIN); err != nil {
		return err
	}
	return p.changeSecret(ctx, ref, "PUK", refPUK, puk, newPIN, allowLastRetry,
		func(yk *pivgo.YubiKey) error { return yk.Unblock(pinString(puk), pinString(newPIN)) })
}

func (p *Provider) changeSecret(ctx context.Context, ref *token.URI, what string, which byte, current, next []byte, allowLastRetry bool, change func(*pivgo.YubiKey) error) error {
	if _, err := encodePIN(what, current); err != nil {
		return fmt.Errorf("the current %s: %w", what, err)
	}
	c, err := p.find(ctx, ref)
	if err != nil {
		return err
	}
	retries, err := p.retriesFor(c, which)
	if err != nil {
		return fmt.Errorf("reading the %s retries of %s: %w", what, c.info, err)
	}
	if err := checkRetries(c.info, what, retries, allowLastRetry); err != nil {
		return err
	}
	yk, err := p.open(c)
	if err != nil {
		return err
	}
	defer yk.Close()
	if err := change(yk); err != nil {
		if pe := pinErrorFrom(c.info, what, err); pe != err {
			return pe
		}
		return fmt.Errorf("changing the %s of %s: %w", what, c.info, err)
	}
	return nil
}

// askPIN reads the PIN retries, applies the last-retry rule, asks for the
// PIN and verifies it, all in one session on Custodian's own path, so that
// every PIN entry in this package gives the same typed errors. The caller
// wipes the returned PIN.
func (p *Provider) askPIN(ctx context.Context, c card, opts token.OpenOptions, reason string) ([]byte, error) {
	s, err := openSession(c.reader)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := s.checkSerial(c.serial, c.fw); err != nil {
		return nil, err
	}
	retries, err := s.pinRetries(c.fw)
	if err != nil {
		return nil, err
	}
	if err := checkRetries(c.info, "PIN", retries, opts.AllowLastRetry); err != nil {
		return nil, err
	}
	if opts.PIN == nil {
		return nil, fmt.Errorf("%s needs its PIN to %s, and no way to ask for it was given", c.info, reason)
	}
	pin, err := opts.PIN(ctx, token.PINRequest{Token: c.info, What: "PIN", Reason: reason, RetriesLeft: retries})
	if err != nil {
		token.WipeBytes(pin)
		return nil, fmt.Errorf("asking for the PIN of %s: %w", c.info, err)
	}
	if err := s.verifyPIN(c.info, pin); err != nil {
		token.WipeBytes(pin)
		return nil, err
	}
	return pin, nil
}

// managementKeyFor finds the management key of an opened YubiKey: stored
// PIN-protected (the friendly default that SetRandomManagementKey sets
// up, as ykman does), else the factory default when the card says it is
// still set (or cannot say), else Options.ManagementKey. The caller wipes
// the key. isDefault tells whether it is the factory default.
func (p *Provider) managementKeyFor(ctx context.Context, yk *pivgo.YubiKey, c card, pin []byte, mgmtDefault token.Tristate) (key []byte, md *pivgo.Metadata, isDefault bool, err error) {
	md, err = yk.Metadata(pinString(pin))
	if err != nil {
		if pe := pinErrorFrom(c.info, "PIN", err); pe != err {
			return nil, nil, false, pe
		}
		return nil, nil, false, fmt.Errorf("reading the PIN-protected data of %s: %w", c.info, err)
	}
	if md.ManagementKey != nil {
		k := append([]byte(nil), (*md.ManagementKey)...)
		token.WipeBytes(*md.ManagementKey)
		return k, md, false, nil
	}
	if mgmtDefault != token.No {
		k := append([]byte(nil), pivgo.DefaultManagementKey...)
		if mgmtDefault == token.Yes {
			return k, md, true, nil
		}
		// Old firmware cannot say: see whether the default key
		// authenticates, by writing back the PIN-protected data as read.
		if yk.SetMetadata(k, md) == nil {
			return k, md, true, nil
		}
		token.WipeBytes(k)
	}
	if p.opts.ManagementKey == nil {
		return nil, md, false, fmt.Errorf("%s has a management key that is neither stored PIN-protected nor the factory default: Custodian cannot write to it (reset its PIV application, or configure the management key)", c.info)
	}
	key, err = p.opts.ManagementKey(ctx, c.info)
	if err != nil {
		token.WipeBytes(key)
		return nil, md, false, fmt.Errorf("asking for the management key of %s: %w", c.info, err)
	}
	return key, md, false, nil
}

// SetRandomManagementKey replaces the management key by a fresh random
// 24-byte key and stores it in the YubiKey's PIN-protected data object,
// the way ykman's "PIN-protected management key" does: afterwards the PIN
// alone unlocks key generation, and nobody ever sees the management key.
// Firmware 5.4 and later get an AES-192 key, older firmware a 3DES key
// (the same 24 bytes; piv-go picks the algorithm).
//
// The current key is the one stored PIN-protected, else the factory
// default, else Options.ManagementKey. The PIN comes from opts.PIN.
func (p *Provider) SetRandomManagementKey(ctx context.Context, ref *token.URI, opts token.OpenOptions) error {
	c, err := p.find(ctx, ref)
	if err != nil {
		return err
	}
	cr, err := p.readCredentials(c)
	if err != nil {
		return err
	}
	pin, err := p.askPIN(ctx, c, opts, "protect a new random management key with the PIN")
	if err != nil {
		return err
	}
	defer token.WipeBytes(pin)
	yk, err := p.open(c)
	if err != nil {
		return err
	}
	defer yk.Close()
	old, md, _, err := p.managementKeyFor(ctx, yk, c, pin, cr.defaultMgmt)
	if err != nil {
		return err
	}
	defer token.WipeBytes(old)

	next := make([]byte, 24)
	defer token.WipeBytes(next)
	if _, err := rand.Read(next); err != nil {
		return fmt.Errorf("drawing a management key: %w", err)
	}
	if err := yk.SetManagementKey(old, next); err != nil {
		return fmt.Errorf("setting the new management key on %s (the old one is still in place): %w", c.info, err)
	}
	stored := append([]byte(nil), next...)
	md.ManagementKey = &stored
	err = yk.SetMetadata(next, md)
	if err != nil {
		err = yk.SetMetadata(next, md) // once more: a lost key means a PIV reset
	}
	token.WipeBytes(stored)
	if err != nil {
		return fmt.Errorf("%s has a new management key but storing it PIN-protected failed (%v): nobody knows the key now; reset the PIV application (ykman piv reset) and set up the YubiKey again before enrolling", c.info, err)
	}
	// Read it back: the PIN must unlock exactly the key now in force.
	back, err := yk.Metadata(pinString(pin))
	if err != nil || back.ManagementKey == nil || subtle.ConstantTimeCompare(*back.ManagementKey, next) != 1 {
		return fmt.Errorf("%s: the PIN-protected management key does not read back as written (%v)", c.info, err)
	}
	token.WipeBytes(*back.ManagementKey)
	return nil
}
