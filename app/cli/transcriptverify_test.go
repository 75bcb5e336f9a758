package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
)

// writeTranscript writes a short transcript, closed or left open as a
// crash leaves it, and returns its path.
func writeTranscript(t *testing.T, closed bool) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.jsonl")
	w, err := transcript.Create(path, transcript.Opening{Ceremony: transcript.Ceremony{ID: "C", Kind: "recovery", Mode: "DRILL"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(transcript.Entry{Step: "recovery.sign-off", Decision: "DOES NOT AGREE with the record", Message: "wrong blob"}); err != nil {
		t.Fatal(err)
	}
	if !closed {
		return path, w.Digest()
	}
	digest, err := w.Finish(transcript.Closing{Ending: transcript.EndSignedOff})
	if err != nil {
		t.Fatal(err)
	}
	return path, digest
}

func TestTranscriptVerifyChecksTheSignedDigest(t *testing.T) {
	path, digest := writeTranscript(t, true)
	fp, _ := fingerprint.FromHex(digest)
	for _, d := range []string{digest, fp.GroupedHex(), fp.WordString(), strings.ReplaceAll(fp.WordString(), " · ", " / ")} {
		out := mustRun(t, "transcript", "verify", path, "--digest", d)
		if !strings.Contains(out, "final digest: "+fp.GroupedHex()) || !strings.Contains(out, "matches the signed record") || !strings.Contains(out, "ended: signed off") {
			t.Errorf("--digest %q:\n%s", d, out)
		}
	}
	before := mustRead(t, path)
	other := fingerprint.Of([]byte("another record"))
	out, errOut, code := run(t, "transcript", "verify", "--digest", other.Hex(), path)
	if code != 1 || !strings.Contains(out, "is not the digest on the signed record "+other.Hex()) {
		t.Errorf("wrong digest: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := run(t, "transcript", "verify", path, "--digest", "abcd"); code != 2 || !strings.Contains(errOut, "--digest") {
		t.Errorf("malformed digest: exit %d %s", code, errOut)
	}
	// A duplicated member is named even though the hash was not checked
	// against the paper.
	dup := filepath.Join(t.TempDir(), "dup.jsonl")
	os.WriteFile(dup, bytes.Replace(before, []byte(`"decision":"DOES`), []byte(`"decision":"agrees with the record","decision":"DOES`), 1), 0o600)
	out, _, code = run(t, "transcript", "verify", dup)
	if code != 1 || !regexp.MustCompile(`ALTERED line 2: .*member "decision" appears more than once`).MatchString(out) {
		t.Errorf("duplicated member: exit %d\n%s", code, out)
	}
	if !bytes.Equal(mustRead(t, path), before) {
		t.Error("verify wrote to the transcript")
	}
}

func TestTranscriptSealThroughTheCLI(t *testing.T) {
	path, _ := writeTranscript(t, false)
	if _, _, code := run(t, "transcript", "verify", path); code != 1 {
		t.Fatalf("an unclosed transcript verified: exit %d", code)
	}
	out := mustRun(t, "transcript", "seal", path)
	if !strings.Contains(out, `closing entry "interrupted" appended after 2 entries`) || !strings.Contains(out, "final digest: ") {
		t.Errorf("seal:\n%s", out)
	}
	if out := mustRun(t, "transcript", "verify", path); !strings.Contains(out, "ended: interrupted") {
		t.Errorf("verify after seal:\n%s", out)
	}
	sealed := mustRead(t, path)
	if _, errOut, code := run(t, "transcript", "seal", path); code != 1 || !strings.Contains(errOut, "already closed") {
		t.Errorf("sealing twice: exit %d %s", code, errOut)
	}
	open, _ := writeTranscript(t, false)
	altered := bytes.Replace(mustRead(t, open), []byte("wrong blob"), []byte("right blob"), 1)
	os.WriteFile(open, altered, 0o600)
	out, errOut, code := run(t, "transcript", "seal", open)
	if code != 1 || !strings.Contains(out, "ALTERED line 2") || !strings.Contains(errOut, "left alone") {
		t.Errorf("sealing an altered transcript: exit %d\n%s%s", code, out, errOut)
	}
	if !bytes.Equal(mustRead(t, open), altered) || !bytes.Equal(mustRead(t, path), sealed) {
		t.Error("a refused seal wrote")
	}
}
