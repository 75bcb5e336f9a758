package safefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteCreatesFileWithContents(t *testing.T) {
	p := filepath.Join(t.TempDir(), "blob.json")
	var last int64
	if err := Write(p, []byte("hello"), WithPerm(0o600), WithProgress(func(done, total int64) { last = done })); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read back %q, %v", got, err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if last != 5 {
		t.Errorf("progress ended at %d, want 5", last)
	}
}

func TestWriteNeverOverwrites(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sd.json")
	if err := os.WriteFile(p, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Write(p, []byte("new"))
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "never overwrites") {
		t.Fatalf("Write over an existing file = %v", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "original" {
		t.Errorf("existing file changed to %q", got)
	}
	assertNoPartials(t, filepath.Dir(p))
}

func TestWriteEmptyFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "empty")
	if err := Write(p, nil); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(p); err != nil || st.Size() != 0 {
		t.Fatalf("stat %v %v", st, err)
	}
}

func TestWriteIntoMissingDirectoryLeavesNothing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "no", "such", "dir", "f")
	if err := Write(p, []byte("x")); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}

func TestWriteIntoReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions; the loop-mounted read-only medium test in ceremony/transfer covers EROFS")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	err := Write(filepath.Join(dir, "f"), []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "permission") {
		t.Fatalf("Write into read-only dir = %v", err)
	}
}

func TestReadLimited(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadLimited(p, 100); err != nil || len(b) != 100 {
		t.Fatalf("ReadLimited at the limit: %d bytes, %v", len(b), err)
	}
	if _, err := ReadLimited(p, 99); err == nil || !strings.Contains(err.Error(), "over the 99-byte limit") {
		t.Fatalf("ReadLimited over the limit: %v", err)
	}
	if _, err := ReadLimited(dir, 99); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("ReadLimited of a directory: %v", err)
	}
}

func assertNoPartials(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".partial-") {
			t.Errorf("left a partial file %s", e.Name())
		}
	}
}

func TestCopyExclusiveFallback(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "tmp"), filepath.Join(dir, "final")
	os.WriteFile(from, []byte("data"), 0o640)
	if err := copyExclusive(from, to); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(to); string(b) != "data" {
		t.Errorf("copied %q", b)
	}
	if _, err := os.Stat(from); err == nil {
		t.Error("the temporary file was left behind")
	}
	os.WriteFile(from, []byte("other"), 0o640)
	if err := copyExclusive(from, to); !errors.Is(err, fs.ErrExist) {
		t.Errorf("copy over an existing file: %v", err)
	}
	if b, _ := os.ReadFile(to); string(b) != "data" {
		t.Error("the existing file was changed")
	}
}
