package ceremony

import (
	"errors"
	"fmt"
	"strings"

	"github.com/custodian-hsm/custodian/crypto/token"
)

// LastTry returns the token's refusal when err is a token down to its
// last PIN try, which the backend does not spend without a confirmation
// (nil otherwise). The front-end tells the custodian, asks for an explicit
// confirmation, records it with ConfirmLastTry and tries again with
// token.OpenOptions.AllowLastRetry.
func LastTry(err error) *token.PINError {
	var pe *token.PINError
	if errors.As(err, &pe) && pe.LastRetry && !pe.Blocked {
		return pe
	}
	return nil
}

// Blocked returns the token's refusal when err is a blocked PIN (nil
// otherwise); UnblockAdvice says what to do.
func Blocked(err error) *token.PINError {
	var pe *token.PINError
	if errors.As(err, &pe) && pe.Blocked {
		return pe
	}
	return nil
}

// UnblockAdvice says how a blocked token is unblocked: with its PUK for a
// YubiKey, with the vendor's tool for a PKCS#11 token. Custodian never
// resets a token: that would destroy the custodian's key.
func UnblockAdvice(tok token.Info) string {
	switch tok.Kind {
	case token.KindYubiKey:
		return fmt.Sprintf("unblock %s with its PUK (Custodian's Tokens screen, or `ykman piv access unblock-pin`), which sets a new PIN; do NOT reset the YubiKey: that destroys the custodian's key", tok)
	case token.KindPKCS11:
		return fmt.Sprintf("unblock %s with the token vendor's tool (the security officer's PIN or PUK sets a new user PIN); do NOT re-initialise the token: that destroys the custodian's key", tok)
	}
	return fmt.Sprintf("%s cannot be unblocked by Custodian", tok)
}

// LastTryWarning is what the custodian is told before the last try.
func LastTryWarning(custodian string, pe *token.PINError) string {
	what := pe.What
	if what == "" {
		what = "PIN"
	}
	return fmt.Sprintf("%s: %s has ONE %s try left. A wrong %s now blocks the token; then %s. Try only if you are sure of the %s.",
		custodian, pe.Token, what, what, unblockHow(pe.Token.Kind), what)
}

// unblockHow is UnblockAdvice in a few words, for the last-try warning.
func unblockHow(k token.Kind) string {
	switch k {
	case token.KindYubiKey:
		return "it must be unblocked with its PUK (on Custodian's Tokens screen, or with ykman)"
	case token.KindPKCS11:
		return "it must be unblocked with the token vendor's tool"
	}
	return "Custodian cannot unblock it"
}

// ConfirmLastTry records that custodian was told their token has one PIN
// try left and confirmed (with confirmedBy, who saw it) that they want to
// try. The front-end then tries again with AllowLastRetry.
func (l *Lifecycle) ConfirmLastTry(custodian string, tok token.Info, confirmedBy string) error {
	if strings.TrimSpace(confirmedBy) == "" {
		return errors.New("the last PIN try needs an explicit confirmation: say who confirmed it")
	}
	return l.record(Event{Step: l.workflow + ".pin.last-try-confirmed", Actor: Actor{RoleCustodian, custodian}, Tokens: []token.Info{tok},
		Decision: "told that one PIN try is left; chose to try (confirmed by " + confirmedBy + ")"})
}

// BlockedError is a custodian whose token's PIN is blocked: the ceremony
// cannot use their share until the token is unblocked.
type BlockedError struct {
	Custodian string
	Err       *token.PINError
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("%s cannot open their share: %v; %s", e.Custodian, e.Err, UnblockAdvice(e.Err.Token))
}

func (e *BlockedError) Unwrap() error { return e.Err }
