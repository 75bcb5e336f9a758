// Package v4l2 is the kernel's Video4Linux2 interface as Go sees it: the
// structures of linux/videodev2.h, the VIDIOC_* ioctl numbers and the
// ioctl call, for the camera reader (ceremony/transfer/camera) and the
// test-only vivid loopback (internal/testinfra/v4l2loop), which must agree
// on every byte of them.
//
// It holds declarations only, no policy: it never opens a device, never
// chooses a format and imports nothing of Custodian, so the production
// binary may link it without linking any test infrastructure. The
// declarations exist on 64-bit little-endian Linux only (amd64, arm64,
// riscv64), where ioctl numbers use the generic encoding; elsewhere the
// package is empty and its users build their stubs rather than a guess.
package v4l2
