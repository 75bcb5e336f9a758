package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadLimitedRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 101), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := filepath.Join(dir, "ok")
	if err := os.WriteFile(ok, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, want string
		kind       error
	}{
		{fifo, "is a FIFO (named pipe), not a regular file", ErrNotRegular},
		{"/dev/null", "is a character device", ErrNotRegular},
		{dir, "is a directory, not a regular file: give a file inside it", ErrNotRegular},
		{big, "101 bytes, over the 100-byte limit", ErrTooLarge},
		{filepath.Join(dir, "nope"), "does not exist", os.ErrNotExist},
	} {
		done := make(chan error, 1)
		go func() { _, err := ReadLimited(c.path, 100); done <- err }()
		select {
		case err := <-done:
			var ie *InputError
			if !errors.As(err, &ie) || !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
				t.Errorf("ReadLimited(%s) = %v; want %q", c.path, err, c.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("ReadLimited(%s) hangs", c.path)
		}
	}
	b, err := ReadLimited(ok, 5)
	if err != nil || string(b) != "hello" {
		t.Fatalf("regular file: %q %v", b, err)
	}
	if err := CheckDir(ok); err == nil || !strings.Contains(err.Error(), "is a regular file, not a folder") {
		t.Fatalf("CheckDir(file) = %v", err)
	}
}
