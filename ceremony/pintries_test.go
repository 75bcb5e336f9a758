package ceremony

import (
	"fmt"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/token"
)

func TestPINTriesAreNamedAndTheLastTryIsRecorded(t *testing.T) {
	yk := token.Info{Kind: token.KindYubiKey, Model: "YubiKey 5", Serial: "123"}
	p11 := token.Info{Kind: token.KindPKCS11, Label: "alice"}
	last := fmt.Errorf("custodian 2: %w", &token.PINError{Token: yk, What: "PIN", RetriesLeft: 1, LastRetry: true})
	blocked := fmt.Errorf("custodian 2: %w", &token.PINError{Token: p11, What: "PIN", Blocked: true})
	if LastTry(last) == nil || Blocked(last) != nil || LastTry(blocked) != nil || Blocked(blocked) == nil {
		t.Fatal("LastTry/Blocked misclassify")
	}
	if a := UnblockAdvice(yk); !strings.Contains(a, "PUK") || !strings.Contains(a, "do NOT reset") {
		t.Errorf("YubiKey advice: %s", a)
	}
	if a := UnblockAdvice(p11); !strings.Contains(a, "vendor's tool") {
		t.Errorf("PKCS#11 advice: %s", a)
	}
	if w := LastTryWarning("Alice", LastTry(last)); !strings.Contains(w, "ONE PIN try left") || !strings.Contains(w, "unblocked with its PUK (on Custodian's Tokens screen, or with ykman). Try only") {
		t.Errorf("warning: %s", w)
	}
	p11last := &token.PINError{Token: p11, What: "PIN", RetriesLeft: 1, LastRetry: true}
	if w := LastTryWarning("Bob", p11last); !strings.Contains(w, "unblocked with the token vendor's tool. Try only") || strings.Count(w, "(") != strings.Count(w, ")") {
		t.Errorf("PKCS#11 warning: %s", w)
	}
	be := &BlockedError{Custodian: "Alice", Err: Blocked(blocked)}
	if !strings.Contains(be.Error(), "Alice cannot open their share") || !strings.Contains(be.Error(), "vendor's tool") {
		t.Errorf("blocked error: %s", be)
	}
	rec := &MemoryRecorder{}
	l := newLifecycle("recovery", Production, rec)
	if err := l.ConfirmLastTry("Alice", yk, ""); err == nil {
		t.Error("a last try without a confirmer was recorded")
	}
	if err := l.ConfirmLastTry("Alice", yk, "witness Wendy"); err != nil {
		t.Fatal(err)
	}
	e := rec.Events[len(rec.Events)-1]
	if e.Step != "recovery.pin.last-try-confirmed" || !strings.Contains(e.Decision, "witness Wendy") || e.Tokens[0].Serial != "123" {
		t.Errorf("recorded %+v", e)
	}
}
