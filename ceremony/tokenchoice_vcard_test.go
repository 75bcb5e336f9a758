//go:build drillbuild

package ceremony

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Virtual YubiKeys are listed with their serial, slot 9d, the PIN and PUK
// counters they report, and every YubiKey action. Like the virtual-card
// drills it runs in a subprocess: libpcsclite keeps the first PC/SC
// socket it was given for the whole process, one private pcscd per process.
func TestTokenChoicesOfVirtualYubiKeys(t *testing.T) {
	if os.Getenv("CUSTODIAN_VCARD_CHOICES_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTokenChoicesOfVirtualYubiKeys$", "-test.v")
		cmd.Env = append(os.Environ(), "CUSTODIAN_VCARD_CHOICES_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("token choices of virtual YubiKeys: %v\n%s", err, out)
		}
		if strings.Contains(string(out), "--- SKIP") {
			t.Skipf("virtual YubiKeys unavailable:\n%s", out)
		}
		return
	}
	if err := vcardAvailable(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("virtual YubiKeys are required under CI: %v", err)
		}
		t.Skipf("virtual cards: %v", err)
	}
	tokens, err := newVCardDrillTokens(t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer tokens.Close()
	choices, errs := ListTokenChoices(t.Context(), tokens.Manager())
	if len(choices) != 1 {
		t.Fatalf("want 1 token, got %d (%v)", len(choices), errs)
	}
	c := choices[0]
	t.Logf("%s\n%s\n%s", c.Title(), c.Detail(), c.Ref)
	if c.Kind != "YubiKey" || c.Slot != "9d" || !strings.Contains(c.Title(), "serial ") {
		t.Errorf("%+v", c)
	}
	if c.PINTries == "-1" || c.PUKTries == "-1" {
		t.Errorf("tries %q %q", c.PINTries, c.PUKTries)
	}
	for _, a := range []TokenAction{ActionEnroll, ActionAttest, ActionChangePIN, ActionChangePUK, ActionManagementKey} {
		if !c.Can(a) {
			t.Errorf("a YubiKey cannot %s", a)
		}
	}
}
