//go:build drillbuild

package ceremony

import (
	"strings"
	"testing"
)

// Virtual YubiKeys are listed with their serial, slot 9d, the PIN and PUK
// counters they report, and every YubiKey action.
func TestTokenChoicesOfVirtualYubiKeys(t *testing.T) {
	if err := vcardAvailable(); err != nil {
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
