package ceremony

import (
	"errors"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11/softhsm"
)

// A PKCS#11 token cannot be unblocked from Custodian: UnblockPIN refuses
// before touching it, with the vendor-tool advice, and the Tokens screen
// is not offered the action.
func TestUnblockPINRefusesPKCS11WithTheVendorToolAdvice(t *testing.T) {
	mod, err := softhsm.Module()
	if err != nil {
		t.Skip(err)
	}
	m := token.NewManager(pkcs11.New(pkcs11.Options{ModulePath: mod, Drill: true, ConfigFile: "-"}))
	ref := "pkcs11:token=DRILL-custodian-1?module-path=" + mod
	err = UnblockPIN(t.Context(), m, ref, []byte("12345678"), []byte("271828"), []byte("271828"), false)
	if !errors.Is(err, ErrNoUnblock) || !strings.Contains(err.Error(), "vendor's tool") || !strings.Contains(err.Error(), "DRILL-custodian-1") {
		t.Errorf("unblocking a PKCS#11 token: %v", err)
	}
	u, _ := token.ParseURI(ref)
	if CanUnblockPIN(m, token.Info{Kind: token.KindPKCS11, Ref: u}) {
		t.Error("a PKCS#11 token is offered the PUK unblock")
	}
}

// What a refused unblock says: the PUK tries left, the last PUK try, a
// blocked PUK (reset needed, which destroys the key); nothing for other
// errors.
func TestPUKAdviceNamesTriesAndTheReset(t *testing.T) {
	yk := token.Info{Kind: token.KindYubiKey, Model: "YubiKey 5", Serial: "123"}
	for _, c := range []struct {
		pe   *token.PINError
		want []string
	}{
		{&token.PINError{Token: yk, What: "PUK", RetriesLeft: 2}, []string{"Wrong PUK", "2 PUK tries left", "PIN is unchanged"}},
		{&token.PINError{Token: yk, What: "PUK", RetriesLeft: 1}, []string{"ONE PUK try left"}},
		{&token.PINError{Token: yk, What: "PUK", RetriesLeft: 1, LastRetry: true}, []string{"ONE try left", "Try only if you are sure"}},
		{&token.PINError{Token: yk, What: "PUK", Blocked: true}, []string{"PUK of", "is blocked", "ykman piv reset", "DESTROYS the custodian's key"}},
	} {
		got := PUKAdvice(errors.Join(errors.New("context"), c.pe))
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%+v: advice %q lacks %q", c.pe, got, w)
			}
		}
	}
	if got := PUKAdvice(&token.PINError{Token: yk, What: "PIN", RetriesLeft: 2}); got != "" {
		t.Errorf("a PIN error got PUK advice %q", got)
	}
}

// An unblock during a ceremony is recorded, naming the custodian and the
// token, and nothing secret.
func TestPINUnblockedIsRecorded(t *testing.T) {
	rec := &MemoryRecorder{}
	l := newLifecycle("recovery", Production, rec)
	yk := token.Info{Kind: token.KindYubiKey, Model: "YubiKey 5", Serial: "123"}
	if err := l.RecordPINUnblocked("Bob", yk); err != nil {
		t.Fatal(err)
	}
	e := rec.Events[len(rec.Events)-1]
	if e.Step != "recovery.pin.unblocked" || e.Actor.Name != "Bob" || e.Tokens[0].Serial != "123" {
		t.Errorf("recorded %+v", e)
	}
}
