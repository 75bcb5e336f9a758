package gui

import (
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11/softhsm"
)

// softHSMHarness is a harness whose token manager sees a private SoftHSM
// with one token, DRILL-custodian-1.
func softHSMHarness(t *testing.T) (*harness, *softhsm.Instance) {
	t.Helper()
	hsm, err := softhsm.Start(filepath.Join(t.TempDir(), "softhsm"))
	if err != nil {
		t.Skipf("SoftHSM: %v", err)
	}
	if err := hsm.InitToken("DRILL-custodian-1", []byte("87654321"), []byte("314159")); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	h.shell.tokens = token.NewManager(pkcs11.New(pkcs11.Options{ModulePath: hsm.Module, Drill: true, ConfigFile: "-"}))
	return h, hsm
}

// The Tokens screen names each token, says "unknown" for a PIN counter the
// token does not report (never -1), offers only what PKCS#11 can do, fits
// 1024×768, and shows a token plugged in while it is on screen.
func TestTokensScreenByNameWithKindActionsAndLive(t *testing.T) {
	h, hsm := softHSMHarness(t)
	h.locked(func() { h.win.Resize(minimumSize) })
	h.locked(h.shell.tokensScreen)
	h.waitShows(`label "DRILL-custodian-1"`)
	h.waitShows("PIN tries left: unknown")
	h.settle()
	h.assertFits(minimumSize)
	for _, s := range []string{": -1", "Change PUK", "Random management key"} {
		h.locked(func() {
			for _, txt := range h.texts() {
				if strings.Contains(txt, s) {
					t.Errorf("the Tokens screen shows %q for a SoftHSM token: %q", s, txt)
				}
			}
		})
	}
	if h.button("Enroll a key") == nil {
		t.Error("no Enroll action for a PKCS#11 token")
	}
	// A second token appears without pressing anything.
	if err := hsm.InitToken("DRILL-custodian-2", []byte("87654321"), []byte("314159")); err != nil {
		t.Fatal(err)
	}
	h.waitShows(`label "DRILL-custodian-2"`)
	// Leaving the screen stops the polling.
	h.locked(h.shell.home)
	h.locked(func() {
		if h.shell.leave != nil {
			t.Error("the Tokens screen left a hook running")
		}
	})
}

// Choosing a token by name in the recovery fills its reference; the
// reference stays typeable.
func TestRecoveryTokenPickerFillsTheReference(t *testing.T) {
	h, _ := softHSMHarness(t)
	h.locked(func() { h.win.Resize(minimumSize) })
	h.startProductionRecovery()
	h.waitShows("Recovery — confirm the exchange key")
	h.typeInto("operator's name", "Oscar Operator")
	h.tap("It matches what the HSM returned")
	h.waitShows(`label "DRILL-custodian-1"`)
	h.assertFits(minimumSize)
	var radio *widget.RadioGroup
	h.locked(func() {
		for _, o := range h.all() {
			if r, ok := o.(*widget.RadioGroup); ok && len(r.Options) == 1 {
				radio = r
			}
		}
	})
	if radio == nil {
		t.Fatalf("no token list on the recovery's custodian screen:\n%s", h.describe())
	}
	h.locked(func() { radio.SetSelected(radio.Options[0]) })
	ref := h.entry("token reference")
	h.locked(func() {
		if !strings.HasPrefix(ref.Text, "pkcs11:") || !strings.Contains(ref.Text, "DRILL-custodian-1") {
			t.Errorf("choosing the token filled %q", ref.Text)
		}
		if ref.Disabled() {
			t.Error("the reference cannot be typed")
		}
	})
}
