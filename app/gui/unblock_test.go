package gui

import (
	"testing"
)

// A PKCS#11 token on the Tokens screen is not offered the PUK unblock:
// "PIN blocked?" says to use the token vendor's tool and never to
// re-initialise the token.
func TestTokensScreenPKCS11BlockedPINAdvice(t *testing.T) {
	h, _ := softHSMHarness(t)
	h.locked(func() { h.win.Resize(minimumSize) })
	h.locked(h.shell.tokensScreen)
	h.waitShows(`label "DRILL-custodian-1"`)
	if h.button("Unblock PIN with PUK") != nil {
		t.Error("a PKCS#11 token is offered the PUK unblock")
	}
	h.tap("PIN blocked?")
	h.waitShows("A blocked PIN on")
	for _, want := range []string{"token vendor's tool", "do NOT re-initialise the token"} {
		if !h.shows(want) {
			t.Errorf("the advice does not say %q:\n%s", want, h.describe())
		}
	}
	h.settle()
	h.assertFits(minimumSize)
}
