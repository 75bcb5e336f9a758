package ceremony

import (
	"testing"

	"github.com/custodian-hsm/custodian/crypto/sgx"
)

// A check made before the ceremony (the CLI's, before it writes anything)
// lends its attestation verification to the ceremony's own check of the
// same certificate in the same mode at the same clock; anything else is
// verified again, and a check not made by CheckExchangeKey lends nothing.
func TestExchangeKeyPriorVerificationReused(t *testing.T) {
	cert := liveExchange(t)
	first, err := CheckExchangeKey(cert, ExchangeKeyPolicy{Mode: Production, At: liveAt})
	if err != nil {
		t.Fatal(err)
	}
	again, err := CheckExchangeKey(cert, ExchangeKeyPolicy{Mode: Production, At: liveAt, Prior: first})
	if err != nil || again.Result != first.Result {
		t.Fatalf("the prior verification was not reused: %v (same result: %v)", err, again.Result == first.Result)
	}
	// Each decision is still the policy's own: the same prior under a
	// clock two years on is verified again, and refused (expired).
	later, err := CheckExchangeKey(cert, ExchangeKeyPolicy{Mode: Production, At: liveAt.AddDate(2, 0, 0), Prior: first})
	if later.Result == first.Result || err == nil {
		t.Errorf("another clock reused the verification: %v", err)
	}
	drill, _ := CheckExchangeKey(cert, ExchangeKeyPolicy{Mode: Drill, At: liveAt, Prior: first})
	if drill.Result == first.Result {
		t.Error("another mode (other roots) reused the verification")
	}
	other := *cert
	other.Raw = append([]byte(nil), cert.Raw...)
	other.Raw[len(other.Raw)-1] ^= 1
	if c, _ := CheckExchangeKey(&other, ExchangeKeyPolicy{Mode: Production, At: liveAt, Prior: first}); c.Result == first.Result {
		t.Error("other certificate bytes reused the verification")
	}
	// A check made up by a caller carries no verification: its verdict
	// is not taken.
	forged := &ExchangeKeyCheck{Result: &sgx.Result{Verdict: sgx.Genuine}}
	if c, _ := CheckExchangeKey(cert, ExchangeKeyPolicy{Mode: Production, At: liveAt, Prior: forged}); c.Result == forged.Result {
		t.Error("a made-up check's verdict was taken")
	}
}
