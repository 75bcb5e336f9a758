package ceremony

import (
	"errors"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/token"
)

// SoftHSM tokens are listed by name with a PIN counter that is a number
// or "unknown", never -1, and only the actions PKCS#11 can do.
func TestTokenChoicesOfSoftHSMTokens(t *testing.T) {
	tokens, err := newSoftHSMDrillTokens(t.TempDir(), 2)
	if err != nil {
		t.Skipf("SoftHSM: %v", err)
	}
	defer tokens.Close()
	choices, errs := ListTokenChoices(t.Context(), tokens.Manager())
	if len(choices) != 2 {
		t.Fatalf("want 2 tokens, got %d (%v)", len(choices), errs)
	}
	for _, c := range choices {
		if c.Kind != "PKCS#11 token" || c.PINTries == "-1" || c.PINTries == "" {
			t.Errorf("%+v", c)
		}
		if !strings.Contains(c.Title(), "label ") || strings.Contains(c.Detail(), "-1") {
			t.Errorf("title %q detail %q", c.Title(), c.Detail())
		}
		if !c.Can(ActionEnroll) || c.Can(ActionChangePUK) || c.Can(ActionManagementKey) {
			t.Errorf("PKCS#11 actions: %v", c.Actions)
		}
		if !strings.HasPrefix(c.Ref, "pkcs11:") {
			t.Errorf("ref %q", c.Ref)
		}
		t.Logf("%s\n%s\n%s", c.Title(), c.Detail(), c.Ref)
	}
}

func TestDescribeYubiKey(t *testing.T) {
	in := token.Info{Kind: token.KindYubiKey, Model: "YubiKey 5 NFC", Serial: "12345678",
		Ref: &token.URI{Scheme: token.SchemeYubiKey, Query: map[string]string{"serial": "12345678"}}}
	c := DescribeToken(in, &token.Health{PINRetries: 3, PUKRetries: -1}, nil)
	if got := c.Title(); got != "YubiKey 5 NFC · serial 12345678 · slot 9d" {
		t.Errorf("title %q", got)
	}
	if c.PINTries != "3" || c.PUKTries != "unknown" || !strings.Contains(c.Detail(), "production") {
		t.Errorf("%+v %q", c, c.Detail())
	}
	c = DescribeToken(in, nil, errors.New("card removed"))
	if c.PINTries != "unknown" || !strings.Contains(c.Detail(), "card removed") {
		t.Errorf("%q", c.Detail())
	}
}
