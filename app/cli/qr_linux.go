//go:build linux

package cli

import "github.com/custodian-hsm/custodian/ceremony/transfer/qr"

func openCamera(device string) (qr.FrameSource, error) { return qr.OpenWebcam(device) }
