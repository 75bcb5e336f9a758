package ceremony

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// TranscriptRecorder records a ceremony's events in its transcript file.
type TranscriptRecorder struct {
	w *transcript.Writer
}

// OpenTranscript starts the transcript of a new ceremony in dir, named
// after the ceremony (DRILL- prefixed in drills). It opens with the tool's
// identity.
func OpenTranscript(dir string, mode Mode, kind, ceremonyID, hsm string) (*TranscriptRecorder, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	name := mode.FileName(fmt.Sprintf("%s-%s-transcript.jsonl", safeName(ceremonyID), kind))
	return OpenTranscriptFile(filepath.Join(dir, name), mode, kind, ceremonyID, hsm)
}

// safeName keeps a ceremony identifier usable in a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

// Path is the transcript's file.
func (t *TranscriptRecorder) Path() string { return t.w.Path() }

// Record implements Recorder.
func (t *TranscriptRecorder) Record(e Event) error {
	entry := transcript.Entry{Step: e.Step, Decision: e.Decision, Message: e.Message}
	if e.Actor.Name != "" || e.Actor.Role != "" {
		entry.Actor = &transcript.Actor{Role: string(e.Actor.Role), Name: e.Actor.Name}
	}
	for _, f := range e.Inputs {
		entry.Inputs = append(entry.Inputs, transcript.File{Name: f.Name, SHA256: f.SHA256})
	}
	for _, f := range e.Outputs {
		entry.Outputs = append(entry.Outputs, transcript.File{Name: f.Name, SHA256: f.SHA256})
	}
	for _, tok := range e.Tokens {
		entry.Tokens = append(entry.Tokens, tokenRecord(tok))
	}
	if e.Exception != nil {
		entry.Exception = &transcript.Exception{What: e.Exception.What, ApprovedBy: e.Exception.ApprovedBy}
	}
	return t.w.Append(entry)
}

func tokenRecord(t token.Info) transcript.Token {
	return transcript.Token{Kind: string(t.Kind), Model: t.Model, Serial: t.Serial, Firmware: t.Firmware, Label: t.Label}
}

// Close implements Recorder: the closing entry says how the ceremony
// ended, and who ended it.
func (t *TranscriptRecorder) Close(c Closing) (string, error) {
	tc := transcript.Closing{Ending: c.Ending.String(), Reason: c.Reason}
	if c.Actor.Name != "" || c.Actor.Role != "" {
		tc.Actor = &transcript.Actor{Role: string(c.Actor.Role), Name: c.Actor.Name}
	}
	return t.w.Finish(tc)
}

// Digest is the hash of the last entry written so far.
func (t *TranscriptRecorder) Digest() string { return t.w.Digest() }
