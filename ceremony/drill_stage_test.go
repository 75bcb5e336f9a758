package ceremony

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// failingRecorder accepts n events, then fails every record: a disk that
// fills in the middle of a drill.
type failingRecorder struct {
	MemoryRecorder
	n int
}

func (f *failingRecorder) Record(e Event) error {
	if f.n == 0 {
		return errors.New("injected: the transcript cannot be written")
	}
	f.n--
	return f.MemoryRecorder.Record(e)
}

// parentEntries lists what is in dir's parent: the drill's final folder
// and any staging folder would show up here.
func parentEntries(t *testing.T, parent string) []string {
	t.Helper()
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// A drill that fails after it started (an injected transcript error in
// the middle of the activation, or an interruption right after the
// start) leaves no folder under the final name and no staging folder
// next to it. Its record stays: the closed transcript, when there is one
// on disk, is kept next to the destination and ends as the drill ended.
func TestFailedDrillLeavesNothing(t *testing.T) {
	for name, cfg := range map[string]DrillConfig{
		"a step fails": {Recorder: &failingRecorder{n: 4}},
		"interrupted":  {Started: func(d *DrillRun) { d.Abandon("interrupted (SIGINT)") }},
	} {
		wantKept := name == "interrupted" // the failing recorder writes nothing to disk
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			cfg.Custodians, cfg.Quorum, cfg.Dir = 3, 2, filepath.Join(parent, "drill")
			var staged string
			started := cfg.Started
			cfg.Started = func(d *DrillRun) {
				staged = d.Dir()
				if st, err := os.Stat(staged); err != nil || !st.IsDir() || filepath.Dir(staged) != parent {
					t.Errorf("the drill does not run in a staging folder next to its destination: %s %v", staged, err)
				}
				if started != nil {
					started(d)
				}
			}
			report, err := RunDrill(context.Background(), cfg)
			if err == nil {
				t.Fatalf("the drill did not fail:\n%s", report)
			}
			left := parentEntries(t, parent)
			if wantKept {
				if len(left) != 1 || left[0] != "drill-abandoned-transcript.jsonl" || report.Transcript != filepath.Join(parent, left[0]) {
					t.Fatalf("an interrupted drill left %v in %s (report names %q), want only its transcript", left, parent, report.Transcript)
				}
				v, err := transcript.VerifyFile(report.Transcript)
				if err != nil {
					t.Errorf("the kept transcript does not verify: %v", err)
				} else if v.Ending() != "abandoned" {
					t.Errorf("the kept transcript ends %q, want abandoned", v.Ending())
				}
				if !strings.Contains(report.String(), "its closed transcript is kept at "+report.Transcript) {
					t.Errorf("the report does not say where the transcript is:\n%s", report)
				}
			} else if len(left) != 0 || report.Transcript != "" {
				t.Errorf("a failed drill left %v in %s (report names %q)", left, parent, report.Transcript)
			}
			if staged == "" {
				t.Fatal("the drill never started")
			}
			if len(report.Files) != 0 {
				t.Errorf("the report names files that were removed: %q", report.Files)
			}
			if !strings.Contains(report.String(), "its folder was removed") {
				t.Errorf("the report does not say the folder was removed:\n%s", report)
			}
		})
	}
}

// A staging folder that an interrupted drill left (its process gone) is
// removed by the next drill to the same folder, which says so; the new
// drill's folder then appears whole, with its mode kept owner-only, and
// the report names the files where they are.
func TestDrillRemovesStaleStagingFolder(t *testing.T) {
	parent := t.TempDir()
	// PID 2^22+1 is above the kernel's PID_MAX_LIMIT: no process has it.
	stale := filepath.Join(parent, ".drill.staging-4194305-123456")
	if err := os.MkdirAll(filepath.Join(stale, "DRILL-hsm"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "DRILL-custodian-1.key"), []byte("half a drill"), 0o600); err != nil {
		t.Fatal(err)
	}
	var notes []string
	safefile.Notice = func(s string) { notes = append(notes, s) }
	defer func() { safefile.Notice = nil }()
	dir := filepath.Join(parent, "drill")
	report, err := RunDrill(context.Background(), DrillConfig{Custodians: 3, Quorum: 2, Dir: dir})
	if err != nil {
		t.Fatalf("%v\n%s", err, report)
	}
	if left := parentEntries(t, parent); len(left) != 1 || left[0] != "drill" {
		t.Errorf("next to the drill: %v, want only drill", left)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], stale) || !strings.Contains(notes[0], "interrupted") {
		t.Errorf("notices: %q", notes)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("the drill folder: %v %v, want mode 0700", st, err)
	}
	for _, f := range append([]string{report.Transcript}, report.Files...) {
		if !strings.HasPrefix(f, dir+string(filepath.Separator)) {
			t.Errorf("the report names %s, not a file in %s", f, dir)
		} else if _, err := os.Stat(f); err != nil {
			t.Errorf("the report names %s: %v", f, err)
		}
	}
	assertDrillNames(t, dir)
}
