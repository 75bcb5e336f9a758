package ceremony

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// openShare opens a custodian's share on their token, once the admission
// policy has admitted the key: the key must be the enrolled one (same
// certificate bytes, since the SD names shares by their SHA-256), then the
// share is decrypted on the token and validated.
func openShare(ctx context.Context, policy AdmissionPolicy, tokens *token.Manager, f *sd.File, keyRef string, want *x509.Certificate, opts token.OpenOptions) (*sd.Share, string, *Admission, error) {
	key, adm, err := policy.OpenKey(ctx, tokens, keyRef, opts)
	if err != nil {
		return nil, "", nil, err
	}
	defer key.Close()
	if want != nil && !key.Certificate().Equal(want) {
		return nil, "", nil, fmt.Errorf("the token at %s holds another certificate than the one enrolled: is it the right token?", keyRef)
	}
	share, err := sd.OpenShare(f, key)
	if err != nil {
		return nil, "", nil, err
	}
	return share, key.DecryptPath(), adm, nil
}

func recordException(record func(Event) error, step, what, approvedBy string) error {
	if strings.TrimSpace(what) == "" || strings.TrimSpace(approvedBy) == "" {
		return errors.New("an exception needs what deviated from the script and who approved it")
	}
	return record(Event{Step: step, Actor: Actor{RoleWitness, approvedBy}, Exception: &Exception{What: what, ApprovedBy: approvedBy}})
}

// signOffEvent is a witness's sign-off (or refusal) as the record keeps
// it.
func signOffEvent(step, witness string, agree bool, note string) (Event, error) {
	if strings.TrimSpace(witness) == "" {
		return Event{}, errors.New("a sign-off needs the witness's name")
	}
	decision := "agrees with the record"
	if !agree {
		if strings.TrimSpace(note) == "" {
			return Event{}, errors.New("a witness who does not agree must say why")
		}
		decision = "DOES NOT AGREE with the record"
	}
	return Event{Step: step, Actor: Actor{RoleWitness, strings.TrimSpace(witness)}, Decision: decision, Message: note}, nil
}

// fileRefOnDisk fingerprints a file just written.
func fileRefOnDisk(dir, name string) FileRef {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return FileRef{Name: name, SHA256: "unreadable: " + err.Error()}
	}
	return RefOf(name, b)
}

// oneLine folds a multi-line report for a transcript line or an error.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
