//go:build drillbuild

package ceremony

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/piv"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11"
	"github.com/custodian-hsm/custodian/internal/testinfra/rigtest"
)

// A PKCS#11 token whose counter really counts: the virtual YubiKey seen
// through Yubico's ykcs11 (SoftHSM 2.6.1 never reports a last try or a
// locked PIN). Down to one try, opening is refused before any PIN is
// asked and LastTry names it; at none, Blocked names it and the advice
// is the vendor's tool, not the PUK screen.
func TestPKCS11LastTryAndBlockedThroughYKCS11(t *testing.T) {
	var mod string
	for _, m := range pkcs11.SystemModules {
		if _, err := os.Stat(m); err == nil && strings.Contains(m, "ykcs11") {
			mod = m
		}
	}
	if mod == "" {
		t.Skip("ykcs11 not installed")
	}
	if rigtest.OwnProcess(t) {
		return
	}
	r := rigtest.StartForTest(t, 1)
	yk := token.NewManager(piv.New(piv.Options{AttestationRoots: r.AttestationRoot(), DrillSerials: r.Serials()}))
	ykRef := fmt.Sprintf("yubikey:serial=%d", r.Cards()[0].Serial())
	p11 := token.NewManager(pkcs11.New(pkcs11.Options{Modules: []string{mod}, ConfigFile: "-"}))
	infos, _ := p11.List(t.Context())
	var tok *token.Info
	for i := range infos {
		if strings.HasPrefix(infos[i].Manufacturer, "Yubico") {
			tok = &infos[i]
		}
	}
	if tok == nil {
		t.Skip("this ykcs11 does not see the rig's card")
	}
	ref := tok.Ref.String()
	asked := token.OpenOptions{PIN: func(context.Context, token.PINRequest) ([]byte, error) {
		t.Error("the PIN was asked for")
		return []byte("000000"), nil
	}}
	spend := func() { _ = yk.ChangeCredential(t.Context(), ykRef, "PIN", []byte("000000"), []byte("271828"), true) }
	spend()
	spend()
	_, err := p11.OpenKey(t.Context(), ref, asked)
	pe := LastTry(err)
	if pe == nil || pe.Token.Kind != token.KindPKCS11 {
		t.Fatalf("one try left through ykcs11: %v", err)
	}
	if w := LastTryWarning("Alice", pe); !strings.Contains(w, "vendor's tool") {
		t.Errorf("warning: %s", w)
	}
	// The confirmed last try, with a wrong PIN, through the module
	// (ykcs11 now holds the card: the PIV path cannot reach it).
	_, err = p11.OpenKey(t.Context(), ref, token.OpenOptions{AllowLastRetry: true, PIN: func(context.Context, token.PINRequest) ([]byte, error) {
		return []byte("000000"), nil
	}})
	if Blocked(err) == nil {
		t.Errorf("a wrong PIN on the last try: %v", err)
	}
	_, err = p11.OpenKey(t.Context(), ref, asked)
	pe = Blocked(err)
	if pe == nil {
		t.Fatalf("blocked through ykcs11: %v", err)
	}
	if a := UnblockAdvice(pe.Token); !strings.Contains(a, "vendor's tool") || strings.Contains(a, "Tokens screen") {
		t.Errorf("advice for a PKCS#11 token: %s", a)
	}
}
