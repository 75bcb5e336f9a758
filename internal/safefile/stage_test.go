package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestModes(t *testing.T) {
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	umaskOnce = struct {
		sync.Once
		mask os.FileMode
	}{}
	defer func() {
		umaskOnce = struct {
			sync.Once
			mask os.FileMode
		}{}
	}()
	dir := t.TempDir()
	plain, private := filepath.Join(dir, "plain"), filepath.Join(dir, "blob.json")
	if err := Write(plain, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := Write(private, []byte("x"), Private()); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{plain: 0o640, private: 0o600} {
		st, _ := os.Stat(p)
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), want)
		}
	}
}

func TestStalePartialsRemovedAndReported(t *testing.T) {
	dir := t.TempDir()
	// A partial of a dead process (PID 2^22+1 is above the kernel's
	// PID_MAX_LIMIT, so no process has it), one of a live one (ours, in a
	// concurrent write), and someone else's pattern.
	dead := filepath.Join(dir, ".blob.json.partial-4194305-123")
	live := filepath.Join(dir, ".blob.json.partial-"+itoa(os.Getpid())+"-9")
	other := filepath.Join(dir, ".other.partial-4194305-1")
	for _, p := range []string{dead, live, other} {
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var notes []string
	Notice = func(s string) { notes = append(notes, s) }
	defer func() { Notice = nil }()
	if err := Write(filepath.Join(dir, "blob.json"), []byte("whole")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead run's partial is still there")
	}
	for _, p := range []string{live, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], dead) || !strings.Contains(notes[0], "interrupted") {
		t.Errorf("notices: %q", notes)
	}
}

func TestStageCommitAndAbort(t *testing.T) {
	parent := t.TempDir()
	dest := filepath.Join(parent, "frames")
	s, err := Stage(dest)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(filepath.Join(s.Path(), "a"), []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dest); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the destination exists before Commit")
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "a")); err != nil || string(b) != "a" {
		t.Fatalf("committed: %q %v", b, err)
	}
	if _, err := Stage(dest); !errors.Is(err, ErrExists) {
		t.Fatalf("Stage over a non-empty folder: %v", err)
	}
	s2, err := Stage(filepath.Join(parent, "other"))
	if err != nil {
		t.Fatal(err)
	}
	Write(filepath.Join(s2.Path(), "b"), []byte("b"))
	s2.Abort()
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 || ents[0].Name() != "frames" {
		t.Fatalf("left behind after Abort: %v", ents)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestStageFilesAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b"), []byte("old"), 0o600)
	s, err := StageFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	Write(filepath.Join(s.Path(), "a"), []byte("a"))
	Write(filepath.Join(s.Path(), "b"), []byte("new"))
	if err := s.Commit(); !errors.Is(err, ErrExists) {
		t.Fatalf("Commit over an existing file: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "b")); string(b) != "old" {
		t.Fatal("an existing file was replaced")
	}
	s, _ = StageFiles(dir)
	Write(filepath.Join(s.Path(), "a"), []byte("a"))
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("after commit: %v", ents)
	}
}
