//go:build drillbuild

package ceremony

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/piv"
	"github.com/custodian-hsm/custodian/internal/testinfra/rigtest"
	"github.com/custodian-hsm/custodian/internal/testinfra/virtualpiv"
)

// tries reads a virtual YubiKey's PIN and PUK counters.
func tries(t *testing.T, m *token.Manager, ref string) (pin, puk int) {
	t.Helper()
	h, err := m.Health(t.Context(), ref, token.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return h.PINRetries, h.PUKRetries
}

// A virtual YubiKey whose PIN is blocked by wrong PINs is unblocked with
// its PUK: two new PINs that differ never reach the card, a wrong PUK
// costs one PUK try and says how many are left, the right PUK sets the
// new PIN (which then works) and resets the PIN tries; a PUK worn down to
// its last try is not tried without the confirmation, and a blocked PUK
// says that only a reset (which destroys the key) helps.
func TestUnblockPINWithPUKOnAVirtualYubiKey(t *testing.T) {
	if rigtest.OwnProcess(t) {
		return
	}
	r := rigtest.StartForTest(t, 1)
	m := token.NewManager(piv.New(piv.Options{AttestationRoots: r.AttestationRoot(), DrillSerials: r.Serials()}))
	ref := fmt.Sprintf("yubikey:serial=%d", r.Cards()[0].Serial())
	ctx := t.Context()
	for range 3 {
		_ = m.ChangeCredential(ctx, ref, "PIN", []byte("000000"), []byte("271828"), true)
	}
	if pin, _ := tries(t, m, ref); pin != 0 {
		t.Fatalf("after three wrong PINs %d tries are left", pin)
	}
	_, puk0 := tries(t, m, ref)
	t.Logf("PIN blocked; %d PUK tries", puk0)

	newPIN := []byte("271828")
	if err := UnblockPIN(ctx, m, ref, virtualpiv.DefaultPUK, newPIN, []byte("271829"), false); !errors.Is(err, ErrPINsDiffer) {
		t.Errorf("two different new PINs: %v", err)
	}
	if _, puk := tries(t, m, ref); puk != puk0 {
		t.Errorf("differing new PINs cost a PUK try: %d → %d", puk0, puk)
	}
	err := UnblockPIN(ctx, m, ref, []byte("87654321"), newPIN, newPIN, false)
	var pe *token.PINError
	if !errors.As(err, &pe) || pe.What != "PUK" || pe.RetriesLeft != puk0-1 {
		t.Fatalf("wrong PUK: %v", err)
	}
	if a := PUKAdvice(err); !strings.Contains(a, fmt.Sprintf("%d PUK tries left", puk0-1)) {
		t.Errorf("wrong PUK advice: %s", a)
	}
	if strings.Contains(err.Error(), "87654321") || strings.Contains(err.Error(), "271828") {
		t.Errorf("the error shows a PUK or PIN: %v", err)
	}
	if err := UnblockPIN(ctx, m, ref, virtualpiv.DefaultPUK, newPIN, newPIN, false); err != nil {
		t.Fatalf("unblock with the right PUK: %v", err)
	}
	if pin, _ := tries(t, m, ref); pin != 3 {
		t.Errorf("after the unblock %d PIN tries, want 3", pin)
	}
	// The new PIN is the PIN now.
	if err := m.ChangeCredential(ctx, ref, "PIN", newPIN, []byte("314159"), false); err != nil {
		t.Errorf("the new PIN does not work: %v", err)
	}

	// Wear the PUK down to its last try, then block it.
	for _, p := tries(t, m, ref); p > 1; _, p = tries(t, m, ref) {
		_ = UnblockPIN(ctx, m, ref, []byte("87654321"), newPIN, newPIN, false)
	}
	err = UnblockPIN(ctx, m, ref, []byte("87654321"), newPIN, newPIN, false)
	if !errors.As(err, &pe) || !pe.LastRetry || !strings.Contains(PUKAdvice(err), "ONE try left") {
		t.Fatalf("last PUK try without confirmation: %v", err)
	}
	if _, p := tries(t, m, ref); p != 1 {
		t.Errorf("the refused last PUK try was spent: %d left", p)
	}
	_ = UnblockPIN(ctx, m, ref, []byte("87654321"), newPIN, newPIN, true)
	err = UnblockPIN(ctx, m, ref, virtualpiv.DefaultPUK, newPIN, newPIN, true)
	if !errors.As(err, &pe) || !pe.Blocked || pe.What != "PUK" || !strings.Contains(PUKAdvice(err), "ykman piv reset") {
		t.Errorf("blocked PUK: %v / %s", err, PUKAdvice(err))
	}
}
