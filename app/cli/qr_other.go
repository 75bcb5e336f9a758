//go:build !linux

package cli

import (
	"errors"

	"github.com/custodian-hsm/custodian/ceremony/transfer/qr"
)

func openCamera(string) (qr.FrameSource, error) {
	return nil, errors.New("camera scanning needs Linux (V4L2); use qr decode with photos instead")
}

// freeBytes is not measured on this system.
func freeBytes(string) (uint64, bool) { return 0, false }
