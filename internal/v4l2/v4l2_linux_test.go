//go:build linux && (amd64 || arm64 || riscv64)

package v4l2

import (
	"testing"
	"unsafe"
)

// The structures must have the kernel's sizes, or every ioctl number is
// wrong and the kernel answers ENOTTY. The figures are sizeof, offsetof
// and VIDIOC_* as printed by a C program built against Debian 12's
// linux/videodev2.h on x86-64.
func TestLayoutMatchesTheKernel(t *testing.T) {
	for _, c := range []struct {
		name      string
		size      uintptr
		want      uintptr
		req, wreq uintptr
	}{
		{"v4l2_capability", unsafe.Sizeof(Capability{}), 104, VidiocQueryCap, 0x80685600},
		{"v4l2_fmtdesc", unsafe.Sizeof(FmtDesc{}), 64, VidiocEnumFmt, 0xc0405602},
		{"v4l2_format", unsafe.Sizeof(Format{}), 208, VidiocSFmt, 0xc0d05605},
		{"v4l2_requestbuffers", unsafe.Sizeof(RequestBuffers{}), 20, VidiocReqBufs, 0xc0145608},
		{"v4l2_buffer", unsafe.Sizeof(Buffer{}), 88, VidiocQueryBuf, 0xc0585609},
		{"VIDIOC_QBUF", 88, 88, VidiocQBuf, 0xc058560f},
		{"VIDIOC_DQBUF", 88, 88, VidiocDQBuf, 0xc0585611},
		{"VIDIOC_STREAMON", 4, 4, VidiocStreamOn, 0x40045612},
		{"VIDIOC_STREAMOFF", 4, 4, VidiocStreamOff, 0x40045613},
		{"v4l2_control", unsafe.Sizeof(Control{}), 8, VidiocSCtrl, 0xc008561c},
		{"v4l2_queryctrl", unsafe.Sizeof(QueryCtrl{}), 68, VidiocQueryCtrl, 0xc0445624},
	} {
		if c.size != c.want {
			t.Errorf("%s is %d bytes, the kernel's is %d", c.name, c.size, c.want)
		}
		if c.req != c.wreq {
			t.Errorf("%s ioctl is %#x, the kernel's is %#x", c.name, c.req, c.wreq)
		}
	}
	if off := unsafe.Offsetof(Buffer{}.Offset); off != 64 {
		t.Errorf("v4l2_buffer.m is at %d, the kernel's at 64", off)
	}
	if off := unsafe.Offsetof(Format{}.Pix); off != 8 {
		t.Errorf("v4l2_format.fmt is at %d, the kernel's at 8", off)
	}
}

func TestNodeCapsPrefersTheNodesOwn(t *testing.T) {
	driver := Capability{Capabilities: CapVideoCapture | CapVideoOutput}
	if got := driver.NodeCaps(); got != CapVideoCapture|CapVideoOutput {
		t.Errorf("without device caps: %#x, want the driver's", got)
	}
	node := Capability{Capabilities: CapVideoCapture | CapVideoOutput | CapDeviceCaps, DeviceCaps: CapVideoOutput}
	if got := node.NodeCaps(); got != CapVideoOutput {
		t.Errorf("with device caps: %#x, want the node's %#x", got, CapVideoOutput)
	}
}

func TestCStringStopsAtTheFirstNUL(t *testing.T) {
	for in, want := range map[string]string{"vivid\x00\x00x": "vivid", "full": "full", "\x00": ""} {
		if got := CString([]byte(in)); got != want {
			t.Errorf("CString(%q) = %q, want %q", in, got, want)
		}
	}
}
