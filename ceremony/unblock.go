package ceremony

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/custodian-hsm/custodian/crypto/token"
)

// pinUnblocker is a backend that sets a new PIN with the PUK (YubiKeys,
// crypto/token/piv). It is declared here, not in crypto/token, because
// only the ceremony layer (for the Tokens screen) calls it.
type pinUnblocker interface {
	Unblock(ctx context.Context, ref *token.URI, puk, newPIN []byte, allowLastRetry bool) error
}

// ErrNoUnblock says a token's backend cannot unblock its PIN from
// Custodian (PKCS#11 tokens, key files): use the vendor's tool.
var ErrNoUnblock = errors.New("this token's PIN cannot be unblocked from Custodian")

// ErrPINsDiffer is returned when the new PIN and its repetition differ.
var ErrPINsDiffer = errors.New("the two new PINs differ: nothing was sent to the token; type the new PIN twice again")

// UnblockPIN sets a new PIN on the token ref names with its PUK, which
// also resets the PIN's try counter. newPIN and again must be equal
// (compared in constant time); nothing reaches the token otherwise. The
// caller wipes puk, newPIN and again.
//
// A wrong PUK is a *token.PINError with What "PUK" and the PUK tries
// left; with one PUK try left it is not tried unless allowLastPUKTry; a
// blocked PUK is a *token.PINError with Blocked set (PUKAdvice says what
// then). A token whose backend cannot unblock is ErrNoUnblock, with
// UnblockAdvice in the message.
func UnblockPIN(ctx context.Context, m *token.Manager, ref string, puk, newPIN, again []byte, allowLastPUKTry bool) error {
	u, err := token.ParseURI(ref)
	if err != nil {
		return err
	}
	p, err := m.Provider(u.Scheme)
	if err != nil {
		return err
	}
	ub, ok := p.(pinUnblocker)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoUnblock, UnblockAdvice(token.Info{Kind: token.KindOf(u), Ref: u, Label: u.Get("token")}))
	}
	if len(newPIN) != len(again) || subtle.ConstantTimeCompare(newPIN, again) != 1 {
		return ErrPINsDiffer
	}
	if len(puk) == 0 {
		return errors.New("the PUK is empty: type the token's PUK (8 characters on a YubiKey set up by Custodian or ykman)")
	}
	return ub.Unblock(ctx, u, puk, newPIN, allowLastPUKTry)
}

// CanUnblockPIN says whether Custodian can unblock the PIN of tok (with
// its PUK): only YubiKeys, through their backend.
func CanUnblockPIN(m *token.Manager, tok token.Info) bool {
	if tok.Ref == nil {
		return false
	}
	p, err := m.Provider(tok.Ref.Scheme)
	if err != nil {
		return false
	}
	_, ok := p.(pinUnblocker)
	return ok
}

// PUKAdvice says what an unblock's refusal means for the person at the
// token: a wrong PUK with the tries left, the last PUK try, or a blocked
// PUK, which only a reset of the PIV application clears — and a reset
// destroys the custodian's key. "" when err is not about the PUK.
func PUKAdvice(err error) string {
	var pe *token.PINError
	if !errors.As(err, &pe) || pe.What != "PUK" {
		return ""
	}
	switch {
	case pe.Blocked:
		return fmt.Sprintf("The PUK of %s is blocked too: the PIN can no longer be unblocked. Only a reset of the PIV application (`ykman piv reset`) makes the YubiKey usable again, and a reset DESTROYS the custodian's key: their share is then lost for good. Another custodian must open theirs; after the ceremony the custodian enrolls a new key at the next rotation.", pe.Token)
	case pe.LastRetry:
		return fmt.Sprintf("The PUK of %s has ONE try left: a wrong PUK now blocks it, and then the PIN cannot be unblocked at all. Try only if you are sure of the PUK.", pe.Token)
	case pe.RetriesLeft == 1:
		return fmt.Sprintf("Wrong PUK for %s: ONE PUK try left. A wrong PUK next time blocks it for good.", pe.Token)
	case pe.RetriesLeft >= 0:
		return fmt.Sprintf("Wrong PUK for %s: %d PUK tries left. The PIN is unchanged.", pe.Token, pe.RetriesLeft)
	}
	return fmt.Sprintf("Wrong PUK for %s. The PIN is unchanged.", pe.Token)
}

// RecordPINUnblocked records that custodian's token, blocked during the
// ceremony, was unblocked with its PUK (UnblockPIN) so that they may open
// again. Nothing secret is recorded: which token, and that it happened.
func (l *Lifecycle) RecordPINUnblocked(custodian string, tok token.Info) error {
	return l.record(Event{Step: l.workflow + ".pin.unblocked", Actor: Actor{RoleCustodian, custodian}, Tokens: []token.Info{tok},
		Message: "the blocked PIN was unblocked with the PUK (a new PIN set, the PIN tries reset)"})
}
