//go:build linux && (amd64 || arm64 || riscv64)

package v4l2

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Capability is struct v4l2_capability (VIDIOC_QUERYCAP).
type Capability struct {
	Driver       [16]byte
	Card         [32]byte
	BusInfo      [32]byte
	Version      uint32
	Capabilities uint32
	DeviceCaps   uint32
	Reserved     [3]uint32
}

// NodeCaps are the capabilities of the node that was asked: DeviceCaps
// where the driver fills it in, else the whole driver's Capabilities.
func (c *Capability) NodeCaps() uint32 {
	if c.Capabilities&CapDeviceCaps != 0 {
		return c.DeviceCaps
	}
	return c.Capabilities
}

// FmtDesc is struct v4l2_fmtdesc (VIDIOC_ENUM_FMT).
type FmtDesc struct {
	Index       uint32
	Type        uint32
	Flags       uint32
	Description [32]byte
	PixelFormat uint32
	MbusCode    uint32
	Reserved    [3]uint32
}

// PixFormat is struct v4l2_pix_format.
type PixFormat struct {
	Width, Height, PixelFormat, Field uint32
	BytesPerLine, SizeImage           uint32
	Colorspace, Priv, Flags           uint32
	YcbcrEnc, Quantization, XferFunc  uint32
}

// Format is struct v4l2_format (VIDIOC_S_FMT) with its single-planar
// member: the union after Type is 200 bytes, 8-aligned (it holds pointers
// in struct v4l2_window).
type Format struct {
	Type uint32
	_    uint32
	Pix  PixFormat
	_    [200 - 48]byte
}

// RequestBuffers is struct v4l2_requestbuffers (VIDIOC_REQBUFS).
type RequestBuffers struct {
	Count, Type, Memory, Capabilities uint32
	Flags                             uint8
	_                                 [3]uint8
}

// Timecode is struct v4l2_timecode.
type Timecode struct {
	Type, Flags                     uint32
	Frames, Seconds, Minutes, Hours uint8
	UserBits                        [4]uint8
}

// Buffer is struct v4l2_buffer (VIDIOC_QUERYBUF, VIDIOC_QBUF,
// VIDIOC_DQBUF).
type Buffer struct {
	Index, Type, BytesUsed, Flags, Field uint32
	_                                    uint32
	Timestamp                            unix.Timeval
	Timecode                             Timecode
	Sequence, Memory                     uint32
	Offset                               uint64 // union m: offset, userptr, planes, fd
	Length                               uint32
	_                                    uint32
	RequestFD                            int32
	_                                    uint32
}

// QueryCtrl is struct v4l2_queryctrl (VIDIOC_QUERYCTRL).
type QueryCtrl struct {
	ID, Type                           uint32
	Name                               [32]byte
	Minimum, Maximum, Step, DefaultVal int32
	Flags                              uint32
	Reserved                           [2]uint32
}

// Control is struct v4l2_control (VIDIOC_S_CTRL).
type Control struct{ ID, Value uint32 }

// Buffer types, memory kinds, capability bits and control flags.
const (
	BufTypeVideoCapture = 1
	BufTypeVideoOutput  = 2
	MemoryMmap          = 1
	BufFlagError        = 0x40 // the driver says the frame is damaged

	CapVideoCapture = 0x00000001
	CapVideoOutput  = 0x00000002
	CapReadWrite    = 0x01000000
	CapStreaming    = 0x04000000
	CapDeviceCaps   = 0x80000000

	CtrlFlagNextCtrl = 0x80000000
)

func ioc(dir, nr, size uintptr) uintptr { return dir<<30 | size<<16 | 'V'<<8 | nr }

const (
	iocWrite = 1
	iocRead  = 2
)

// The VIDIOC_* requests.
var (
	VidiocQueryCap  = ioc(iocRead, 0, unsafe.Sizeof(Capability{}))
	VidiocEnumFmt   = ioc(iocRead|iocWrite, 2, unsafe.Sizeof(FmtDesc{}))
	VidiocSFmt      = ioc(iocRead|iocWrite, 5, unsafe.Sizeof(Format{}))
	VidiocReqBufs   = ioc(iocRead|iocWrite, 8, unsafe.Sizeof(RequestBuffers{}))
	VidiocQueryBuf  = ioc(iocRead|iocWrite, 9, unsafe.Sizeof(Buffer{}))
	VidiocQBuf      = ioc(iocRead|iocWrite, 15, unsafe.Sizeof(Buffer{}))
	VidiocDQBuf     = ioc(iocRead|iocWrite, 17, unsafe.Sizeof(Buffer{}))
	VidiocStreamOn  = ioc(iocWrite, 18, unsafe.Sizeof(int32(0)))
	VidiocStreamOff = ioc(iocWrite, 19, unsafe.Sizeof(int32(0)))
	VidiocSCtrl     = ioc(iocRead|iocWrite, 28, unsafe.Sizeof(Control{}))
	VidiocQueryCtrl = ioc(iocRead|iocWrite, 36, unsafe.Sizeof(QueryCtrl{}))
)

// Ioctl makes the request on fd with arg (a pointer to the request's
// structure), retrying on EINTR: a signal during a blocking call is not a
// failure.
func Ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// CString is a fixed-size, NUL-terminated field of a structure as a
// string (all of it when there is no NUL).
func CString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
