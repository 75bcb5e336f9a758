package ceremony

import (
	"context"
	"fmt"
	"io"

	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// KeyError names the key reference that could not be used, keeping the
// cause (a *token.PINError, token.ErrNotFound, sd.ErrNoShare…) for
// errors.As and errors.Is.
type KeyError struct {
	Index int // 0-based position among the keys given
	Ref   string
	Err   error
}

func (e *KeyError) Error() string { return fmt.Sprintf("key %d (%s): %v", e.Index+1, e.Ref, e.Err) }
func (e *KeyError) Unwrap() error { return e.Err }

// RestoreBlob is the non-interactive recovery behind
// `custodian sd restore-blob` (the job of az's restore-blob, with keys on
// tokens): open each key's share on its token, rebuild the security domain
// (cross-checking two quorums when more keys than the quorum are given, and
// naming a bad share) and wrap it for the exchange key. A key that fails is
// an error naming it: shares are never skipped silently. report is told
// each share opened; everything secret is wiped before returning.
//
// mode selects the admission policy: production refuses drill tokens and
// admits software key files with a warning (told to report); a drill
// refuses hardware keys.
func RestoreBlob(ctx context.Context, mode Mode, tokens *token.Manager, f *sd.File, exchange *sd.ExchangeKey, refs []string, opts token.OpenOptions, random io.Reader, report func(string)) ([]byte, error) {
	if m := f.SharedKeys.Required; len(refs) < m {
		return nil, fmt.Errorf("%d keys given but the security domain needs %d: bring %d more custodians", len(refs), m, m-len(refs))
	}
	var shares []*sd.Share
	defer func() {
		for _, s := range shares {
			s.Wipe()
		}
	}()
	for i, ref := range refs {
		share, path, adm, err := openShare(ctx, AdmissionPolicy{Mode: mode}, tokens, f, ref, nil, opts)
		if err != nil {
			return nil, &KeyError{Index: i, Ref: ref, Err: err}
		}
		if adm.Warning != "" && report != nil {
			report(fmt.Sprintf("WARNING: key %d (%s): %s", i+1, ref, adm.Warning))
		}
		for _, s := range shares {
			if s.X == share.X {
				share.Wipe()
				return nil, &KeyError{Index: i, Ref: ref, Err: fmt.Errorf("opens share x=%d a second time: each custodian counts once", s.X)}
			}
		}
		shares = append(shares, share)
		if report != nil {
			report(fmt.Sprintf("key %d (%s): share x=%d opens and is well-formed [%s]", i+1, ref, share.X, path))
		}
	}
	rec, err := sd.Recover(f, shares)
	if err != nil {
		return nil, fmt.Errorf("recovering the security domain: %w", err)
	}
	defer rec.Wipe()
	blob, err := sd.BuildRestoreBlob(rec, exchange, random)
	if err != nil {
		return nil, fmt.Errorf("building the restore blob: %w", err)
	}
	return blob, nil
}
