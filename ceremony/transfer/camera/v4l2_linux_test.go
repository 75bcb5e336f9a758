//go:build linux && (amd64 || arm64 || riscv64)

package camera

import (
	"testing"
	"unsafe"
)

// The structures must have the kernel's sizes, or every ioctl number is
// wrong and the kernel answers ENOTTY. The figures are sizeof, offsetof
// and VIDIOC_* as printed by a C program built against Debian 12's
// linux/videodev2.h on x86-64.
func TestV4L2LayoutMatchesTheKernel(t *testing.T) {
	for _, c := range []struct {
		name      string
		size      uintptr
		want      uintptr
		req, wreq uintptr
	}{
		{"v4l2_capability", unsafe.Sizeof(v4l2Capability{}), 104, vidiocQueryCap, 0x80685600},
		{"v4l2_fmtdesc", unsafe.Sizeof(v4l2FmtDesc{}), 64, vidiocEnumFmt, 0xc0405602},
		{"v4l2_format", unsafe.Sizeof(v4l2Format{}), 208, vidiocSFmt, 0xc0d05605},
		{"v4l2_requestbuffers", unsafe.Sizeof(v4l2RequestBuffers{}), 20, vidiocReqBufs, 0xc0145608},
		{"v4l2_buffer", unsafe.Sizeof(v4l2Buffer{}), 88, vidiocQueryBuf, 0xc0585609},
		{"VIDIOC_QBUF", 88, 88, vidiocQBuf, 0xc058560f},
		{"VIDIOC_DQBUF", 88, 88, vidiocDQBuf, 0xc0585611},
		{"VIDIOC_STREAMON", 4, 4, vidiocStreamOn, 0x40045612},
		{"VIDIOC_STREAMOFF", 4, 4, vidiocStreamOff, 0x40045613},
	} {
		if c.size != c.want {
			t.Errorf("%s is %d bytes, the kernel's is %d", c.name, c.size, c.want)
		}
		if c.req != c.wreq {
			t.Errorf("%s ioctl is %#x, the kernel's is %#x", c.name, c.req, c.wreq)
		}
	}
	if off := unsafe.Offsetof(v4l2Buffer{}.Offset); off != 64 {
		t.Errorf("v4l2_buffer.m is at %d, the kernel's at 64", off)
	}
	if off := unsafe.Offsetof(v4l2Format{}.Pix); off != 8 {
		t.Errorf("v4l2_format.fmt is at %d, the kernel's at 8", off)
	}
}
