package transcript

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fixedClock() func() time.Time {
	t := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Minute); return t }
}

// genuine writes a closed transcript of five steps and returns its lines.
func genuine(t *testing.T) (string, [][]byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.jsonl")
	w, err := Create(path, Opening{Ceremony: Ceremony{ID: "C-1", Kind: "activation", Mode: "DRILL", HSM: "h"}, Tool: Tool{Version: "v1", SHA256: "ab"}, Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"activation.setup", "activation.enroll", "activation.enroll", "activation.sd.verified"} {
		if err := w.Append(Entry{Step: step, Actor: &Actor{Role: "witness", Name: "W"}, Outputs: []File{{Name: "cert.cer", SHA256: "00"}}}); err != nil {
			t.Fatal(err)
		}
	}
	final, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	v, err := Verify(bytes.NewReader(data))
	if err != nil || !v.OK() || !v.Closed || v.Final != final || len(v.Entries) != 6 {
		t.Fatalf("genuine transcript: %+v %v", v, err)
	}
	return path, bytes.SplitAfter(data, []byte("\n"))[:6]
}

func join(lines [][]byte) []byte { return bytes.Join(lines, nil) }

func verifyBytes(t *testing.T, data []byte) *Verification {
	t.Helper()
	v, err := Verify(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func wantProblem(t *testing.T, name string, v *Verification, line int, text string) {
	t.Helper()
	if v.OK() {
		t.Errorf("%s: not detected", name)
		return
	}
	for _, p := range v.Problems {
		if p.Line == line && strings.Contains(p.Message, text) {
			return
		}
	}
	t.Errorf("%s: want a problem at line %d containing %q, got %v", name, line, text, v.Problems)
}

func TestTamperingIsDetectedAndLocated(t *testing.T) {
	_, lines := genuine(t)
	clone := func() [][]byte {
		c := make([][]byte, len(lines))
		for i, l := range lines {
			c[i] = append([]byte(nil), l...)
		}
		return c
	}

	edited := clone()
	edited[2] = bytes.Replace(edited[2], []byte(`"name":"W"`), []byte(`"name":"M"`), 1)
	wantProblem(t, "edit", verifyBytes(t, join(edited)), 3, "was edited")

	editLast := clone()
	editLast[5] = bytes.Replace(editLast[5], []byte("after 6"), []byte("after 7"), 1)
	wantProblem(t, "edit of the closing entry", verifyBytes(t, join(editLast)), 6, "was edited")

	deleted := append(clone()[:2], clone()[3:]...)
	wantProblem(t, "delete", verifyBytes(t, join(deleted)), 3, "sequence number 3 where 2")

	inserted := clone()
	inserted = append(inserted[:3], append([][]byte{inserted[2]}, inserted[3:]...)...)
	wantProblem(t, "insert", verifyBytes(t, join(inserted)), 4, "does not follow")

	swapped := clone()
	swapped[2], swapped[3] = swapped[3], swapped[2]
	wantProblem(t, "reorder", verifyBytes(t, join(swapped)), 3, "sequence number 3 where 2")

	truncated := clone()[:4]
	wantProblem(t, "truncate", verifyBytes(t, join(truncated)), 4, "not closed")

	cut := join(clone())
	cut = cut[:len(cut)-20]
	wantProblem(t, "cut mid-line", verifyBytes(t, cut), 6, "cut off mid-entry")

	headless := clone()[1:]
	wantProblem(t, "beginning removed", verifyBytes(t, join(headless)), 1, "does not start with its opening entry")

	appended := append(clone(), clone()[3])
	wantProblem(t, "entry after close", verifyBytes(t, join(appended)), 6, "closing entry in the middle")

	garbage := clone()
	garbage[1] = []byte("{not json\n")
	wantProblem(t, "garbage line", verifyBytes(t, join(garbage)), 2, "not a transcript entry")
}

func TestCreateNeverOverwrites(t *testing.T) {
	path, _ := genuine(t)
	if _, err := Create(path, Opening{}); err == nil || !strings.Contains(err.Error(), "never overwritten") {
		t.Errorf("Create over an existing transcript: %v", err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
}

func TestEntriesAreDeterministicAndMarkedDrill(t *testing.T) {
	_, a := genuine(t)
	_, b := genuine(t)
	if !bytes.Equal(join(a), join(b)) {
		t.Error("the same steps with the same clock produced different transcripts")
	}
	if !bytes.Contains(a[1], []byte(`"drill":true`)) {
		t.Error("a drill entry does not say drill")
	}
}

func TestClosedWriterRefusesMore(t *testing.T) {
	w, err := Create(filepath.Join(t.TempDir(), "t"), Opening{Ceremony: Ceremony{Mode: "PRODUCTION"}})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := w.Append(Entry{Step: "x"}); err == nil {
		t.Error("appended to a closed transcript")
	}
}

// signOffTranscript writes a closed transcript whose third line is a
// witness refusing to sign.
func signOffTranscript(t *testing.T) [][]byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.jsonl")
	w, err := Create(path, Opening{Ceremony: Ceremony{ID: "C-2", Kind: "recovery", Mode: "PRODUCTION"}, Tool: Tool{Version: "v1", SHA256: "ab"}, Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(Entry{Step: "recovery.blob.built", Message: "blob built"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(Entry{Step: "recovery.sign-off", Actor: &Actor{Role: "witness", Name: "W"}, Decision: "DOES NOT AGREE with the record", Message: "the blob hash differs"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(Closing{Ending: EndSignedOff}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	return bytes.SplitAfter(data, []byte("\n"))[:4]
}

// rechain recomputes every hash and link from line `from` (0-based) on,
// over the lines' exact bytes, as a forger with the file (but not the
// paper) would.
func rechain(t *testing.T, lines [][]byte, from int) [][]byte {
	t.Helper()
	out := make([][]byte, len(lines))
	prev := Genesis
	for i, l := range lines {
		l = bytes.TrimSuffix(l, []byte("\n"))
		if i >= from {
			l = setMember(l, "prev", prev)
			l = setMember(l, "hash", "")
			h, ok := lineHash(l)
			if !ok {
				t.Fatalf("line %d has no hash member", i+1)
			}
			l = setMember(l, "hash", h)
		}
		out[i] = append(l, '\n')
		var e struct{ Hash string }
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
	}
	return out
}

// setMember replaces the value of the last string member name in a line.
func setMember(line []byte, name, value string) []byte {
	key := []byte(`"` + name + `":"`)
	i := bytes.LastIndex(line, key) + len(key)
	j := i + bytes.IndexByte(line[i:], '"')
	return append(append(append([]byte(nil), line[:i]...), value...), line[j:]...)
}

func TestNonCanonicalLinesAreRefusedAndNamed(t *testing.T) {
	lines := signOffTranscript(t)
	if v := verifyBytes(t, join(lines)); !v.OK() || v.Ending() != EndSignedOff {
		t.Fatalf("genuine: %v, ending %q", v.Problems, v.Ending())
	}
	edit := func(line int, old, new string) [][]byte {
		c := make([][]byte, len(lines))
		copy(c, lines)
		if !bytes.Contains(c[line], []byte(old)) {
			t.Fatalf("line %d has no %s", line+1, old)
		}
		c[line] = bytes.Replace(c[line], []byte(old), []byte(new), 1)
		return c
	}
	dupDecision := edit(2, `"decision":"DOES NOT`, `"decision":"agrees with the record","decision":"DOES NOT`)
	wantProblem(t, "duplicated decision", verifyBytes(t, join(dupDecision)), 3, `member "decision" appears more than once`)
	// Even with the line's hash recomputed over its exact bytes and the
	// chain re-linked, the duplicated member is refused.
	wantProblem(t, "duplicated decision, re-chained", verifyBytes(t, join(rechain(t, dupDecision, 2))), 3, `member "decision" appears more than once`)
	dupStep := edit(1, `"step":`, `"step":"recovery.setup","step":`)
	wantProblem(t, "duplicated step, re-chained", verifyBytes(t, join(rechain(t, dupStep, 1))), 2, `member "step" appears more than once`)
	dupNested := edit(2, `"role":"witness"`, `"role":"witness","name":"X"`)
	wantProblem(t, "duplicated nested member", verifyBytes(t, join(rechain(t, dupNested, 2))), 3, `member "name" appears more than once`)
	reordered := edit(1, `"seq":1,"time":"2026-11-23T09:02:00Z"`, `"time":"2026-11-23T09:02:00Z","seq":1`)
	wantProblem(t, "reordered members, re-chained", verifyBytes(t, join(rechain(t, reordered, 1))), 2, "not in the canonical encoding")
	spaced := edit(1, `,"step":`, `, "step": `)
	wantProblem(t, "extra spaces, re-chained", verifyBytes(t, join(rechain(t, spaced, 1))), 2, "not in the canonical encoding")
	escaped := edit(1, `"blob built"`, `"blob \u0062uilt"`)
	wantProblem(t, "escaped characters, re-chained", verifyBytes(t, join(rechain(t, escaped, 1))), 2, "not in the canonical encoding")
}

func TestRechainedEditFailsAgainstTheSignedDigest(t *testing.T) {
	lines := signOffTranscript(t)
	signed := verifyBytes(t, join(lines)).Final
	forged := make([][]byte, len(lines))
	copy(forged, lines)
	forged[2] = bytes.Replace(forged[2], []byte("DOES NOT AGREE with"), []byte("agrees with"), 1)
	forged = rechain(t, forged, 2)
	v := verifyBytes(t, join(forged))
	if !v.OK() {
		t.Fatalf("the re-chained forgery should verify on its own (that is the attack): %v", v.Problems)
	}
	v.CheckDigest(signed)
	wantProblem(t, "re-chained edit against the paper", v, 4, "is not the digest on the signed record "+signed)

	genuine := verifyBytes(t, join(lines))
	genuine.CheckDigest(signed)
	if !genuine.OK() {
		t.Errorf("the genuine transcript fails against its own digest: %v", genuine.Problems)
	}
}

func TestSealClosesAnInterruptedTranscriptOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.jsonl")
	w, err := Create(path, Opening{Ceremony: Ceremony{ID: "C-3", Kind: "drill", Mode: "DRILL"}, Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(Entry{Step: "activation.setup"}); err != nil {
		t.Fatal(err)
	}
	w.f.Close() // the power goes off
	before, _ := os.ReadFile(path)
	at := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	v, err := Seal(path, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() || v.Ending() != EndInterrupted || len(v.Entries) != 3 {
		t.Fatalf("sealed: %v ending %q entries %d", v.Problems, v.Ending(), len(v.Entries))
	}
	last := v.Entries[2]
	if last.Time != "2026-11-24T08:00:00Z" || !strings.Contains(last.Message, "after step activation.setup") || !last.Drill {
		t.Errorf("closing entry: %+v", last)
	}
	after, _ := os.ReadFile(path)
	if !bytes.HasPrefix(after, before) {
		t.Error("sealing changed the existing entries")
	}
	var refused *SealRefusedError
	if _, err := Seal(path, nil); !errors.As(err, &refused) || !strings.Contains(err.Error(), "already closed") {
		t.Errorf("sealing twice: %v", err)
	}

	// An altered, unclosed transcript is left alone.
	altered := bytes.Replace(before, []byte("activation.setup"), []byte("activation.setuP"), 1)
	path2 := filepath.Join(t.TempDir(), "t.jsonl")
	os.WriteFile(path2, altered, 0o600)
	if _, err := Seal(path2, nil); !errors.As(err, &refused) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("sealing an altered transcript: %v", err)
	}
	if got, _ := os.ReadFile(path2); !bytes.Equal(got, altered) {
		t.Error("sealing an altered transcript wrote to it")
	}
	// As is one cut off mid-line.
	path3 := filepath.Join(t.TempDir(), "t.jsonl")
	os.WriteFile(path3, before[:len(before)-10], 0o600)
	if _, err := Seal(path3, nil); !errors.As(err, &refused) || !strings.Contains(err.Error(), "cut off") {
		t.Errorf("sealing a cut transcript: %v", err)
	}
}
