//go:build drillbuild

package gui

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/piv"
	"github.com/custodian-hsm/custodian/internal/testinfra/rigtest"
	"github.com/custodian-hsm/custodian/internal/testinfra/virtualpiv"
	"github.com/custodian-hsm/custodian/internal/testinfra/virtualpiv/rig"
)

// drillPUK is the PUK the vcard drill tokens are given (ceremony's
// drilltokens_vcard.go); drillPIN their PIN.
const (
	drillPUK = "27182818"
	drillPIN = "314159"
)

func needVCard(t *testing.T) {
	t.Helper()
	if err := rig.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and the virtual-card rig cannot run: %v", err)
		}
		t.Skipf("virtual-card rig unavailable: %v", err)
	}
}

// startVCardDrill starts a 2-of-3 drill on virtual YubiKeys and waits
// for its first enrollment. Provisioning the cards (a private pcscd,
// PIN, PUK and management key of each) takes seconds, and minutes on a
// loaded machine: it waits longer than the harness does. The drill's
// rig is closed when the test ends, so the next test may start one.
func startVCardDrill(t *testing.T, h *harness) {
	t.Helper()
	t.Cleanup(func() {
		// Wait for a provisioning still under way, then end the drill.
		for i := 0; i < 600 && h.shows("Preparing the drill tokens"); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		h.locked(h.shell.endDrill)
	})
	h.tap("Start drill")
	h.waitShows("Drill — set-up")
	h.locked(func() {
		for _, o := range h.all() {
			if r, ok := o.(*widget.RadioGroup); ok {
				r.SetSelected(string(ceremony.VCardTokens))
			}
		}
	})
	h.tap("Start the drill")
	deadline := time.Now().Add(3 * time.Minute)
	for !h.shows("Activation — custodian 1 of 3") {
		if time.Now().After(deadline) {
			t.Fatalf("the vcard drill did not start in 3 minutes:\n%s", h.describe())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// vcardDrillToRecovery walks a 2-of-3 drill on virtual YubiKeys to the
// recovery's first custodian and returns the recovery on screen.
func vcardDrillToRecovery(t *testing.T, h *harness) *recoveryWizard {
	t.Helper()
	startVCardDrill(t, h)
	h.enrollAll(h.tap)
	h.tap("Write the operator package")
	h.waitShows("Operator package written")
	h.tap("OK")
	h.tap("Operator: activate the drill HSM")
	h.waitShows("Activation — share self-tests")
	for k := 1; k <= 3; k++ {
		h.tap(fmt.Sprintf("Custodian %d of 3 — Custodian %d: insert your token", k, k))
		if k < 3 {
			h.waitShows(fmt.Sprintf("Custodian %d of 3 — Custodian %d: share opened", k, k))
		}
	}
	h.tap("Prove the quorum recovers")
	h.waitShows("Activation — complete")
	h.tap("Witness sign-off")
	h.tap("Sign off")
	h.tap("Operator: start recovery on the drill HSM")
	h.tap("It matches what the HSM returned")
	h.waitShows("Recovery — custodian 1")
	var rw *recoveryWizard
	h.locked(func() { rw, _ = h.shell.wizard.(*recoveryWizard) })
	if rw == nil {
		t.Fatal("no recovery on screen")
	}
	return rw
}

// spendPINTries enters wrong PINs on custodian i's drill token until n
// tries are left, and returns the tries left.
func spendPINTries(t *testing.T, s *ceremony.DrillSession, i, n int) int {
	t.Helper()
	m, ref := s.Tokens.Manager(), s.Tokens.Ref(i)
	// The screen's token list must not hold the card meanwhile.
	tokenUse.Lock()
	defer tokenUse.Unlock()
	for {
		h, err := m.Health(t.Context(), ref, token.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if h.PINRetries <= n {
			return h.PINRetries
		}
		// A wrong current PIN costs one try (the last one only with
		// allowLastRetry, given here: this is the test, not Custodian).
		_ = m.ChangeCredential(t.Context(), ref, "PIN", []byte("000000"), []byte("271828"), true)
	}
}

func pinTries(t *testing.T, s *ceremony.DrillSession, i int) int {
	t.Helper()
	tokenUse.Lock()
	defer tokenUse.Unlock()
	h, err := s.Tokens.Manager().Health(t.Context(), s.Tokens.Ref(i), token.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return h.PINRetries
}

// The transcript of the drill running in the work folder, read back and
// verified up to its last entry.
func runningTranscript(t *testing.T, h *harness) []transcript.Entry {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(h.shell.workDir, "DRILL-*", "*transcript.jsonl"))
	if len(matches) != 1 {
		t.Fatalf("drill transcripts: %v", matches)
	}
	v, err := transcript.VerifyFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	return v.Entries
}

// At a recovery on virtual YubiKeys: custodian 1's token is down to one
// PIN try. Opening shows the warning with "Do not try" focused; declining
// tries nothing (the counter stays at 1, no share opens); confirming is
// recorded in the transcript, naming the custodian, before the try, and
// the share opens. Custodian 2's token is blocked: the advice (PUK,
// ykman) is shown, the opened share is kept and nothing is wiped; the
// custodian unblocks with the PUK from the dialog, and opens their share.
func TestRecoveryLastPINTryAndBlockedTokenOnVirtualYubiKeys(t *testing.T) {
	needVCard(t)
	if rigtest.OwnProcess(t) {
		return
	}
	h := newHarness(t)
	h.locked(func() { h.win.Resize(minimumSize) })
	rw := vcardDrillToRecovery(t, h)
	session := rw.session
	var mu sync.Mutex
	var wiped []string
	rw.r.WipeHook(func(label string) { mu.Lock(); wiped = append(wiped, label); mu.Unlock() })

	if left := spendPINTries(t, session, 0, 1); left != 1 {
		t.Fatalf("custodian 1's token has %d tries left, want 1", left)
	}
	h.tap("Open my share on my token")
	h.waitShows("One PIN try left")
	for _, want := range []string{"Custodian 1: ", "has ONE PIN try left", "blocks the token", "Only Custodian 1 decides"} {
		if !h.shows(want) {
			t.Errorf("the last-try dialog does not say %q:\n%s", want, h.describe())
		}
	}
	h.assertFits(minimumSize)
	safe := h.button("Do not try")
	h.waitFor("Do not try to have the focus", func() (ok bool) {
		h.locked(func() { ok = h.canvas().Focused() == fyne.Focusable(safe) })
		return ok
	})
	h.tap("Do not try")
	h.waitShows("did not use the last PIN try")
	if got := pinTries(t, session, 0); got != 1 {
		t.Errorf("declining the last try left %d tries, want 1 (nothing tried)", got)
	}
	if h.shows("1 of 2 shares") || len(rw.r.Custodians()) != 0 {
		t.Fatal("declining the last try opened a share")
	}
	for _, e := range runningTranscript(t, h) {
		if strings.HasSuffix(e.Step, "last-try-confirmed") {
			t.Fatalf("a declined last try was recorded as confirmed: %+v", e)
		}
	}

	h.tap("Open my share on my token")
	h.waitShows("One PIN try left")
	h.tap("Use the last try")
	h.waitShows("Share opened")
	h.dismissDialogs()
	h.waitShows("1 of 2 shares")
	if got := pinTries(t, session, 0); got != 3 {
		t.Errorf("after the right PIN on the last try %d tries are left, want 3", got)
	}
	confirmed := -1
	entries := runningTranscript(t, h)
	for i, e := range entries {
		if e.Step == "recovery.pin.last-try-confirmed" && e.Actor != nil && e.Actor.Name == "Custodian 1" && strings.Contains(e.Decision, "confirmed by Custodian 1") {
			confirmed = i
		}
	}
	if confirmed < 0 || confirmed+1 >= len(entries) || entries[confirmed+1].Step != "recovery.share.opened" {
		t.Fatalf("the transcript does not record the confirmation right before the share opened: %d of %d entries", confirmed, len(entries))
	}

	// Custodian 2's token is blocked.
	if left := spendPINTries(t, session, 1, 0); left != 0 {
		t.Fatalf("custodian 2's token has %d tries left, want 0", left)
	}
	h.tap("Open my share on my token")
	h.waitShows("PIN blocked: Custodian 2")
	for _, want := range []string{"Custodian 2 cannot open their share", "with its PUK", "ykman piv access unblock-pin", "do NOT reset", "The shares opened so far are kept"} {
		if !h.shows(want) {
			t.Errorf("the blocked dialog does not say %q:\n%s", want, h.describe())
		}
	}
	h.assertFits(minimumSize)
	if held := rw.r.Held(); len(held) != 1 || len(wiped) != 0 {
		t.Errorf("after the blocked token the recovery holds %v and wiped %v; want custodian 1's share kept", held, wiped)
	}
	h.tap("Unblock with the PUK now")
	h.waitShows("Unblock PIN with PUK")
	h.typeInto("PUK", drillPUK)
	h.typeInto("new PIN (6", drillPIN)
	h.typeInto("new PIN again", drillPIN)
	h.tap("Unblock")
	h.waitShows("PIN unblocked")
	h.tap("Close")
	if got := pinTries(t, session, 1); got != 3 {
		t.Errorf("after the unblock custodian 2's token has %d tries, want 3", got)
	}
	unblocked := false
	for _, e := range runningTranscript(t, h) {
		unblocked = unblocked || (e.Step == "recovery.pin.unblocked" && e.Actor != nil && e.Actor.Name == "Custodian 2")
	}
	if !unblocked {
		t.Error("the unblock during the recovery is not in its transcript")
	}
	if !h.shows("1 of 2 shares") {
		t.Fatalf("the recovery lost its opened share:\n%s", h.describe())
	}
	h.tap("Open my share on my token")
	h.waitShows("Share opened")
	h.dismissDialogs()
	h.waitShows("2 of 2 shares")
	h.tap("Cancel ceremony")
	h.tap("Yes")
	h.waitShows("Start drill")
}

// The Tokens screen unblocks a virtual YubiKey's blocked PIN with its
// PUK: the PUK and the new PIN (twice) are typed masked, the PUK field
// first and focused; a wrong PUK says how many PUK tries are left and
// changes nothing; the right PUK sets the new PIN, which then works, and
// the fields are cleared once their text is taken.
func TestTokensScreenUnblocksAVirtualYubiKeyWithItsPUK(t *testing.T) {
	needVCard(t)
	if rigtest.OwnProcess(t) {
		return
	}
	r := rigtest.StartForTest(t, 1)
	m := token.NewManager(piv.New(piv.Options{AttestationRoots: r.AttestationRoot(), DrillSerials: r.Serials()}))
	serial := fmt.Sprint(r.Cards()[0].Serial())
	ref := "yubikey:serial=" + serial
	health := func() token.Health {
		tokenUse.Lock()
		defer tokenUse.Unlock()
		hl, err := m.Health(t.Context(), ref, token.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return hl
	}
	tokenUse.Lock()
	for range 3 {
		_ = m.ChangeCredential(t.Context(), ref, "PIN", []byte("000000"), []byte("271828"), true)
	}
	tokenUse.Unlock()
	if hl := health(); hl.PINRetries != 0 {
		t.Fatalf("the PIN is not blocked: %d tries", hl.PINRetries)
	}
	h := newHarness(t)
	h.shell.tokens = m
	h.locked(func() { h.win.Resize(minimumSize) })
	h.locked(h.shell.tokensScreen)
	h.waitShows("serial " + serial)
	h.settle()
	h.assertFits(minimumSize)

	unblock := func(puk, pin, again string) (fields []*widget.Entry) {
		h.tap("Unblock PIN with PUK")
		h.waitShows("Unblock the PIN of")
		for _, p := range []string{"PUK", "new PIN (6", "new PIN again"} {
			e := h.entry(p)
			if e == nil {
				t.Fatalf("no %q field:\n%s", p, h.describe())
			}
			fields = append(fields, e)
		}
		h.waitFor("the PUK field to have the focus", func() (ok bool) {
			h.locked(func() { ok = h.canvas().Focused() == fyne.Focusable(fields[0]) })
			return ok
		})
		h.locked(func() {
			for _, e := range fields {
				if !e.Password {
					t.Errorf("the %q field does not mask what is typed", e.PlaceHolder)
				}
			}
		})
		h.typeInto("PUK", puk)
		h.typeInto("new PIN (6", pin)
		h.typeInto("new PIN again", again)
		h.tap("Unblock")
		return fields
	}
	unblock(string(virtualpiv.DefaultPUK), "271828", "271829")
	h.waitShows("the two new PINs differ")
	h.tap("Close")

	fields := unblock("87654321", "271828", "271828")
	h.waitShows("PIN not unblocked")
	h.waitShows("Wrong PUK")
	h.waitShows("2 PUK tries left")
	h.locked(func() {
		for _, e := range fields {
			if e.Text != "" {
				t.Errorf("the %q field still holds what was typed", e.PlaceHolder)
			}
		}
	})
	if hl := health(); hl.PINRetries != 0 || hl.PUKRetries != 2 {
		t.Errorf("after a wrong PUK: PIN tries %d, PUK tries %d; want 0 and 2", hl.PINRetries, hl.PUKRetries)
	}
	h.tap("Close")

	unblock(string(virtualpiv.DefaultPUK), "271828", "271828")
	h.waitShows("PIN unblocked")
	if hl := health(); hl.PINRetries != 3 {
		t.Errorf("after the unblock %d PIN tries, want 3", hl.PINRetries)
	}
	tokenUse.Lock()
	err := m.ChangeCredential(t.Context(), ref, "PIN", []byte("271828"), []byte("314159"), false)
	tokenUse.Unlock()
	if err != nil {
		t.Errorf("the new PIN set on the Tokens screen does not work: %v", err)
	}

	// Changing the PIN with one try left asks first, "Do not try" the
	// default; declining sends nothing.
	tokenUse.Lock()
	for range 2 {
		_ = m.ChangeCredential(t.Context(), ref, "PIN", []byte("000000"), []byte("271828"), true)
	}
	tokenUse.Unlock()
	if hl := health(); hl.PINRetries != 1 {
		t.Fatalf("%d PIN tries, want 1", hl.PINRetries)
	}
	change := func() {
		h.tap("Change PIN")
		h.waitShows("Change PIN of")
		var fields []*widget.Entry
		h.locked(func() {
			for _, o := range h.all() {
				if e, ok := o.(*widget.Entry); ok && e.Password {
					fields = append(fields, e)
				}
			}
		})
		if len(fields) != 3 {
			t.Fatalf("the Change PIN dialog has %d masked fields", len(fields))
		}
		h.locked(func() {
			for i, v := range []string{"314159", "271828", "271828"} {
				h.canvas().Focus(fields[i])
				for _, r := range v {
					fields[i].TypedRune(r)
				}
			}
		})
		h.tap("Change")
		h.waitShows("One PIN try left")
	}
	change()
	h.tap("Do not try")
	if hl := health(); hl.PINRetries != 1 {
		t.Errorf("declining the last try left %d PIN tries, want 1", hl.PINRetries)
	}
	change()
	h.tap("Use the last try")
	h.waitShows("PIN changed")
	if hl := health(); hl.PINRetries != 3 {
		t.Errorf("after the change with the right PIN %d tries, want 3", hl.PINRetries)
	}
}

// confirmedLastTry says whether the transcript records step confirmed by
// who, right before the entry next.
func confirmedLastTry(t *testing.T, h *harness, step, who, next string) bool {
	t.Helper()
	entries := runningTranscript(t, h)
	for i, e := range entries[:len(entries)-1] {
		if e.Step == step && e.Actor != nil && e.Actor.Name == who && strings.Contains(e.Decision, "confirmed by "+who) {
			return entries[i+1].Step == next
		}
	}
	return false
}

// The activation asks before a last PIN try too, at enrollment (the key
// is generated with the PIN) and at the share self-test, and records the
// confirmation before the try.
func TestActivationLastPINTryOnVirtualYubiKeys(t *testing.T) {
	needVCard(t)
	if rigtest.OwnProcess(t) {
		return
	}
	h := newHarness(t)
	startVCardDrill(t, h)
	var session *ceremony.DrillSession
	h.locked(func() { session = h.shell.drill.Session })
	if left := spendPINTries(t, session, 0, 1); left != 1 {
		t.Fatalf("custodian 1's token has %d tries left", left)
	}
	h.tap("Generate the key on the token")
	h.waitShows("One PIN try left")
	h.tap("Use the last try")
	h.waitShows("Custodian enrolled")
	h.tap("OK")
	if !confirmedLastTry(t, h, "activation.pin.last-try-confirmed", "Custodian 1", "activation.enroll") {
		t.Errorf("the enrollment's last try is not recorded before the enrollment:\n%v", runningTranscript(t, h))
	}
	for k := 2; k <= 3; k++ {
		h.tap("Generate the key on the token")
		h.waitShows("Custodian enrolled")
		h.tap("OK")
	}
	h.tap("Write the operator package")
	h.waitShows("Operator package written")
	h.tap("OK")
	h.tap("Operator: activate the drill HSM")
	h.waitShows("Activation — share self-tests")
	if left := spendPINTries(t, session, 1, 1); left != 1 {
		t.Fatalf("custodian 2's token has %d tries left", left)
	}
	h.tap("Custodian 2 of 3 — Custodian 2: insert your token")
	h.waitShows("One PIN try left")
	h.tap("Do not try")
	h.waitShows("did not use the last PIN try")
	h.tap("Custodian 2 of 3 — Custodian 2: insert your token")
	h.waitShows("One PIN try left")
	h.tap("Use the last try")
	h.waitShows("Custodian 2 of 3 — Custodian 2: share opened")
	if !confirmedLastTry(t, h, "activation.pin.last-try-confirmed", "Custodian 2", "activation.self-test") {
		t.Error("the self-test's last try is not recorded before the self-test")
	}
	h.tap("Cancel ceremony")
	h.tap("Yes")
	h.waitShows("Start drill")
}
