//go:build linux && (amd64 || arm64 || riscv64)

package camera

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Without a capture device the answer is ErrNoCamera, whose text says what
// to do; a node that is not a V4L2 device is not listed.
func TestListInWithoutACamera(t *testing.T) {
	dir := t.TempDir()
	if _, err := ListIn(dir); !errors.Is(err, ErrNoCamera) {
		t.Fatalf("empty /dev: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "video0"), nil, 0o600)
	if _, err := ListIn(dir); !errors.Is(err, ErrNoCamera) {
		t.Fatalf("a plain file named video0: %v", err)
	}
	if !strings.Contains(ErrNoCamera.Error(), "connect a USB camera, or scan image files instead") {
		t.Errorf("the message does not say what to do: %q", ErrNoCamera)
	}
}

func TestOpenSaysWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "video7"), Options{}); !errors.Is(err, ErrNoCamera) {
		t.Errorf("a missing node: %v", err)
	}
	plain := filepath.Join(dir, "video0")
	os.WriteFile(plain, nil, 0o600)
	_, err := Open(plain, Options{})
	var de *DeviceError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "VIDIOC_QUERYCAP") {
		t.Errorf("a plain file: %v", err)
	}
	if os.Geteuid() != 0 { // root opens any file
		os.Chmod(plain, 0)
		var pe *PermissionError
		if _, err := Open(plain, Options{}); !errors.As(err, &pe) || !strings.Contains(err.Error(), "group video") {
			t.Errorf("an unreadable node: %v", err)
		}
	}
	if msg := (&PermissionError{Path: "/dev/video0"}).Error(); !strings.Contains(msg, "group video") {
		t.Errorf("the permission message: %q", msg)
	}
}
