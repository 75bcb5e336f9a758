package usb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func sumLine(name string, data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:]) + "  " + name + "\n"
}

// Every SHA256SUMS entry is accounted for: one naming a file outside the
// folder, one naming a missing file and one naming a FIFO are reported;
// an unlisted file is reported; a FIFO on the medium is not read.
func TestImportDirAccountsForEverySum(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "medium")
	os.Mkdir(dir, 0o755)
	os.Mkdir(filepath.Join(parent, "outside"), 0o755)
	os.WriteFile(filepath.Join(parent, "outside", "file"), []byte("secret"), 0o644)
	good := []byte("hello\n")
	os.WriteFile(filepath.Join(dir, "a.txt"), good, 0o644)
	os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("x"), 0o644)
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	sums := sumLine("a.txt", good) + sumLine("../outside/file", []byte("secret")) + sumLine("gone.txt", []byte("x")) + sumLine("pipe", nil)
	os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sums), 0o644)

	rep, err := Importer{}.ImportDir(context.Background(), dir, nil)
	if err == nil {
		t.Fatal("a damaged folder imported without error")
	}
	all := strings.Join(rep.Problems, "\n")
	for _, want := range []string{
		`lists "../outside/file", which is not a file inside the folder`,
		"lists gone.txt, which is missing from the medium",
		"lists pipe, which is a FIFO (named pipe), not a regular file",
		"pipe is a FIFO (named pipe), not a regular file: not imported",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("problems do not say %q:\n%s", want, all)
		}
	}
	var unlisted bool
	for _, f := range rep.Files {
		if filepath.Base(f.Path) == "extra.txt" && f.Checksum == NotListed {
			unlisted = true
		}
		if strings.Contains(f.Path, "outside") {
			t.Errorf("read a file outside the folder: %s", f.Path)
		}
	}
	if !unlisted {
		t.Error("the unlisted file is not reported")
	}
	for _, bad := range []string{"../../x", "/etc/passwd", "..", "sub/a.txt", ""} {
		if _, err := (Importer{}).ImportDir(context.Background(), dir, []string{bad}); !errors.Is(err, ErrBadName) {
			t.Errorf("name %q: %v", bad, err)
		}
	}
}
