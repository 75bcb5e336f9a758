package transcript

import (
	"bytes"
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
