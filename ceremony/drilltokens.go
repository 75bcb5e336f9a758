package ceremony

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/soft"
)

// TokenKind is the kind of drill token.
type TokenKind string

// Drill token kinds.
const (
	SoftTokens    TokenKind = "soft"    // software key files (the default: needs nothing installed)
	SoftHSMTokens TokenKind = "softhsm" // SoftHSM2 PKCS#11 tokens
	VCardTokens   TokenKind = "vcard"   // virtual YubiKeys through pcscd and vpcd
)

// ErrNeedsDrillBuild says virtual YubiKeys were asked of the production
// build. They are test infrastructure (a card emulator and a private
// pcscd), linked only into the drill build.
var ErrNeedsDrillBuild = errors.New("virtual YubiKeys (vcard) are only in the drill build: " +
	"build it with `make build-drill` (bin/custodian-drill); this production build drills with soft or softhsm tokens")

// ParseTokenKind checks a drill token kind. vcard is refused with
// ErrNeedsDrillBuild in the production build.
func ParseTokenKind(s string) (TokenKind, error) {
	switch TokenKind(s) {
	case SoftTokens, SoftHSMTokens:
		return TokenKind(s), nil
	case VCardTokens:
		if _, ok := drillProvisioners[VCardTokens]; !ok {
			return "", ErrNeedsDrillBuild
		}
		return VCardTokens, nil
	case "":
		return SoftTokens, nil
	}
	return "", fmt.Errorf("drill token kind %q is not soft, softhsm or vcard", s)
}

// drillPIN is the PIN of every drill token. It is a drill fixture, held
// only in memory and handed to tokens through the PIN callback; it is never
// written to a file, which the drill's secret scan checks.
var drillPIN = []byte("314159")

// DrillTokens provisions one drill token per custodian.
type DrillTokens interface {
	// Manager serves the tokens' references.
	Manager() *token.Manager
	// Ref is where custodian i (0-based) enrolls.
	Ref(i int) string
	// Options opens custodian i's token (PIN callback with the drill PIN).
	Options(i int) token.OpenOptions
	// WrongPIN opens custodian i's token with a wrong PIN (fault drill).
	WrongPIN(i int) token.OpenOptions
	// Close stops whatever the tokens needed (pcscd, SoftHSM config).
	Close() error
}

func pinFunc(pin []byte) token.PINFunc {
	return func(context.Context, token.PINRequest) ([]byte, error) {
		return append([]byte(nil), pin...), nil
	}
}

// softDrillTokens are key files in the drill directory.
type softDrillTokens struct {
	dir     string
	manager *token.Manager
}

func newSoftDrillTokens(dir string) *softDrillTokens {
	return &softDrillTokens{dir: dir, manager: token.NewManager(soft.New())}
}

func (s *softDrillTokens) Manager() *token.Manager { return s.manager }
func (s *softDrillTokens) Ref(i int) string {
	return "file:" + filepath.Join(s.dir, fmt.Sprintf("DRILL-custodian-%d.key", i+1))
}
func (s *softDrillTokens) Options(int) token.OpenOptions  { return token.OpenOptions{} }
func (s *softDrillTokens) WrongPIN(int) token.OpenOptions { return token.OpenOptions{} }
func (s *softDrillTokens) Close() error                   { return nil }
