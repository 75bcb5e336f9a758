package ceremony

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/custodian-hsm/custodian/ceremony/identity"
	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// RunTranscriptName is a transcript name unique to one run of a command:
// the command, the UTC time and a random suffix, DRILL- prefixed in drills
// (for example custodian-sd-restore-blob-20261123T090000Z-3f9a1c-transcript.jsonl).
func RunTranscriptName(mode Mode, command string, now time.Time) string {
	var suffix [3]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	name := fmt.Sprintf("custodian-%s-%s-%s-transcript.jsonl", safeName(strings.ReplaceAll(command, " ", "-")), now.UTC().Format("20060102T150405Z"), hex.EncodeToString(suffix[:]))
	return mode.FileName(name)
}

// OpenTranscriptFile starts the transcript of a new ceremony at path,
// which must not exist (a transcript is never overwritten).
func OpenTranscriptFile(path string, mode Mode, kind, ceremonyID, hsm string) (*TranscriptRecorder, error) {
	id := identity.Current()
	w, err := transcript.Create(path, transcript.Opening{
		Ceremony: transcript.Ceremony{ID: ceremonyID, Kind: kind, Mode: mode.String(), HSM: hsm},
		Tool:     transcript.Tool{Version: id.String(), SHA256: id.Hex(), Words: id.Words()},
	})
	if err != nil {
		return nil, err
	}
	return &TranscriptRecorder{w: w}, nil
}

// ChecksumFile is the name of the checksum list in every folder handed to
// the operator (DRILL-SHA256SUMS in a drill, like every drill file).
const ChecksumFile = "SHA256SUMS"

// ChecksumCommand is the command that checks a folder's files, run from
// the folder's parent.
func ChecksumCommand(dir, sumsName string) string {
	return fmt.Sprintf("cd %s && sha256sum -c %s", shellQuote(dir), sumsName)
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// WriteChecksums writes the folder's SHA256SUMS (mode.FileName) listing
// names (relative to dir) in the format `sha256sum -c` reads, each read
// back from disk. It must be the last file written into dir; it is
// written atomically and never overwrites. It returns the list's name and
// fingerprint.
func WriteChecksums(dir string, mode Mode, names []string) (FileRef, error) {
	var b bytes.Buffer
	for _, name := range names {
		if name == "" || filepath.IsAbs(name) || strings.ContainsAny(name, "\n\\") || strings.HasPrefix(filepath.Clean(name), "..") {
			return FileRef{}, fmt.Errorf("%q cannot be listed in %s: names are relative to the folder", name, ChecksumFile)
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return FileRef{}, fmt.Errorf("reading %s back for %s: %w", name, ChecksumFile, err)
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), name)
	}
	sumsName := mode.FileName(ChecksumFile)
	if err := safefile.Write(filepath.Join(dir, sumsName), b.Bytes(), safefile.WithPerm(0o644)); err != nil {
		return FileRef{}, err
	}
	return RefOf(sumsName, b.Bytes()), nil
}

// Fail ends the workflow because a step failed and it cannot go on:
// cancelled by Custodian itself, with the cause as the reason. Every
// secret is wiped and the transcript closed.
func (l *Lifecycle) Fail(cause error) (*Outcome, error) {
	return l.finish(Cancelled, System, "stopped: "+oneLine(cause.Error()), "cancelled")
}

// ShareCheck is the share self-test on its own (`custodian sd check-share`):
// one custodian opens their own share, without the quorum, proving that
// the token, the PIN and the share work. The share is wiped at once.
type ShareCheck struct {
	*Lifecycle
	mode   Mode
	tokens *token.Manager
	loaded bool
}

// ShareCheckResult is what the custodian sees: nothing secret.
type ShareCheckResult struct {
	ShareX, Shares, Quorum int
	Certificate            FileRef
	Subject                string
	DecryptPath            string
	Token                  token.Info
	// Admission is the policy's verdict on the key: its class and, for a
	// software key file, the warning recorded in the transcript.
	Admission *Admission
}

// NewShareCheck starts a share self-test.
func NewShareCheck(mode Mode, tokens *token.Manager, rec Recorder) *ShareCheck {
	return &ShareCheck{Lifecycle: newLifecycle("share-check", mode, rec), mode: mode, tokens: tokens}
}

// Check opens the share of the key at keyRef in the security domain
// sdData and ends the workflow: completed when the share opens and is
// well-formed, cancelled by Custodian (with the cause) when not.
func (c *ShareCheck) Check(ctx context.Context, sdName string, sdData []byte, keyRef string, opts token.OpenOptions) (*ShareCheckResult, error) {
	c.moveTo("open")
	f, err := sd.ParseFile(sdData)
	if err != nil {
		c.Fail(err)
		return nil, fmt.Errorf("%s: %w", sdName, err)
	}
	ref := RefOf(sdName, sdData)
	if !c.loaded {
		if err := c.record(Event{Step: "share-check.sd.loaded", Actor: System, Inputs: []FileRef{ref},
			Message: fmt.Sprintf("security domain: %d shares, quorum %d", len(f.SharedKeys.EncShares), f.SharedKeys.Required)}); err != nil {
			return nil, err
		}
		c.loaded = true
	}
	key, adm, err := AdmissionPolicy{Mode: c.mode}.OpenKey(ctx, c.tokens, keyRef, opts)
	if err != nil {
		c.failStep(keyRef, err)
		return nil, err
	}
	defer key.Close()
	share, err := sd.OpenShare(f, key)
	if err != nil {
		c.failStep(keyRef, err)
		return nil, err
	}
	res := &ShareCheckResult{ShareX: share.X, Shares: len(f.SharedKeys.EncShares), Quorum: f.SharedKeys.Required,
		Certificate: RefOf("certificate", key.Certificate().Raw), Subject: key.Certificate().Subject.CommonName,
		DecryptPath: key.DecryptPath(), Token: adm.Facts.Token, Admission: adm}
	share.Wipe()
	if err := c.record(Event{Step: "share-check.opened", Actor: Actor{RoleCustodian, res.Subject}, Inputs: []FileRef{ref}, Tokens: []token.Info{res.Token},
		Message: fmt.Sprintf("share x=%d of %d opens on the token and is well-formed (%s); certificate SHA-256 %s; the share was wiped; %s", res.ShareX, res.Shares, res.DecryptPath, res.Certificate.SHA256, adm.Summary())}); err != nil {
		return nil, err
	}
	_, err = c.complete(fmt.Sprintf("share x=%d opens", res.ShareX))
	return res, err
}

// failStep records a failure; it ends the check unless the token only
// asks for a confirmation of its last PIN try (see LastTry).
func (c *ShareCheck) failStep(keyRef string, err error) {
	_ = c.record(Event{Step: "share-check.failed", Actor: System, Tokens: []token.Info{tokenInfoOf(keyRef)}, Message: err.Error()})
	if LastTry(err) == nil {
		c.Fail(err)
	}
}

// tokenInfoOf describes a token from its reference, for the record.
func tokenInfoOf(keyRef string) token.Info {
	u, err := token.ParseURI(keyRef)
	if err != nil {
		return token.Info{}
	}
	return token.Info{Kind: token.KindOf(u), Serial: u.Get("serial"), Label: u.Get("token"), Ref: u}
}

// Enrollment is a single custodian's enrollment on its own
// (`custodian token enroll`), recorded with the same event as an
// activation's enrollment.
type Enrollment struct {
	*Lifecycle
	mode       Mode
	tokens     *token.Manager
	ceremonyID string
}

// NewEnrollment starts a single enrollment.
func NewEnrollment(mode Mode, ceremonyID string, tokens *token.Manager, rec Recorder) *Enrollment {
	return &Enrollment{Lifecycle: newLifecycle("token-enroll", mode, rec), mode: mode, tokens: tokens, ceremonyID: ceremonyID}
}

// Enroll generates the custodian's key on the token, records it and ends
// the workflow (completed, or cancelled by Custodian with the cause). The
// certificate is written by the caller, then recorded with Written.
func (e *Enrollment) Enroll(ctx context.Context, name, tokenRef string, req token.EnrollRequest, opts token.OpenOptions) (*token.Enrollment, error) {
	enr, _, err := e.EnrollWithException(ctx, name, tokenRef, req, opts, nil)
	return enr, err
}

// EnrollWithException is Enroll with a witnessed exception for a key whose
// origin cannot be verified (the admission policy decides whether it needs
// one); the record names the exception and its witness.
func (e *Enrollment) EnrollWithException(ctx context.Context, name, tokenRef string, req token.EnrollRequest, opts token.OpenOptions, ex *WitnessedException) (*token.Enrollment, *Admission, error) {
	e.moveTo("enroll")
	req.Name, req.CeremonyID = name, e.ceremonyID
	enr, adm, err := AdmissionPolicy{Mode: e.mode, Exception: ex}.Enroll(ctx, e.tokens, tokenRef, req, opts)
	if err != nil {
		_ = e.record(Event{Step: "token-enroll.failed", Actor: Actor{RoleCustodian, name}, Tokens: []token.Info{tokenInfoOf(tokenRef)}, Message: err.Error()})
		if LastTry(err) == nil {
			e.Fail(err)
		}
		return nil, nil, fmt.Errorf("enrolling %s: %w", name, err)
	}
	tok := enr.Token
	if tok.Kind == "" {
		tok = token.Info{Kind: token.KindOf(enr.Ref), Serial: enr.Ref.Get("serial"), Label: enr.Ref.Get("token"), Ref: enr.Ref}
	}
	ev := Event{Step: "token-enroll.enroll", Actor: Actor{RoleCustodian, name},
		Outputs: []FileRef{RefOf("certificate", enr.Certificate.Raw)}, Tokens: []token.Info{tok},
		Message: fmt.Sprintf("custodian %s enrolled: key %s; %s", name, enr.Ref, adm.Summary())}
	if adm.Exception != nil {
		ev.Exception = &Exception{What: fmt.Sprintf("%s's key admitted without a verified attestation: %s", name, adm.Exception.Reason), ApprovedBy: adm.Exception.ApprovedBy}
	}
	if err := e.record(ev); err != nil {
		return nil, nil, err
	}
	return enr, adm, nil
}

// Written records the certificate file written and ends the enrollment.
func (e *Enrollment) Written(file FileRef) (*Outcome, error) {
	if err := e.record(Event{Step: "token-enroll.certificate", Actor: System, Outputs: []FileRef{file},
		Message: "certificate written to " + file.Name}); err != nil {
		return nil, err
	}
	return e.complete("certificate " + file.Name + " written")
}

// WriteBlobFile writes the restore blob to path (the CLI's --out), records
// it and finishes the recovery's export step.
func (r *Recovery) WriteBlobFile(path string, opts ...safefile.Option) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.need(RecExport); err != nil {
		return err
	}
	// The blob carries the security domain: owner-only, whatever the umask.
	if err := safefile.Write(path, r.blob, append([]safefile.Option{safefile.Private()}, opts...)...); err != nil {
		return err
	}
	if err := r.record(Event{Step: "recovery.export", Actor: System, Outputs: []FileRef{RefOf(filepath.Base(path), r.blob)},
		Message: "restore blob written to " + path}); err != nil {
		return err
	}
	r.moveTo(RecDone)
	return nil
}

// Complete ends a recovery run from the command line, where no witness
// signs at the terminal: the transcript is closed "completed".
func (r *Recovery) Complete() (*Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.need(RecDone); err != nil {
		return nil, err
	}
	return r.complete("restore blob written")
}
