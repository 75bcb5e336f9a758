//go:build linux

package cli

import (
	"github.com/custodian-hsm/custodian/ceremony/transfer/qr"
	"golang.org/x/sys/unix"
)

func openCamera(device string) (qr.FrameSource, error) { return qr.OpenWebcam(device) }

// freeBytes is the space an unprivileged writer has left on dir's file
// system.
func freeBytes(dir string) (uint64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return st.Bavail * uint64(st.Bsize), true
}
