//go:build linux && (amd64 || arm64 || riscv64)

// Package v4l2loop drives the kernel's vivid test driver as a video
// loopback, so a test can show frames on a V4L2 output and read them back
// through a V4L2 capture device with package camera: a real kernel driver,
// real ioctls, mmap streaming, with no camera attached. It is test-only
// infrastructure and must never be linked into the production binary.
//
// vivid copies output frames to capture when its "Loop Video" control is
// set and both ends are HDMI with the same size, pixel format and field
// order (load it with node_types=0x101 input_types=0x3 output_types=0x1).
package v4l2loop

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

type capability struct {
	Driver       [16]byte
	Card         [32]byte
	BusInfo      [32]byte
	Version      uint32
	Capabilities uint32
	DeviceCaps   uint32
	Reserved     [3]uint32
}

type pixFormat struct {
	Width, Height, PixelFormat, Field uint32
	BytesPerLine, SizeImage           uint32
	Colorspace, Priv, Flags           uint32
	YcbcrEnc, Quantization, XferFunc  uint32
}

type format struct {
	Type uint32
	_    uint32
	Pix  pixFormat
	_    [200 - 48]byte
}

type requestBuffers struct {
	Count, Type, Memory, Capabilities uint32
	Flags                             uint8
	_                                 [3]uint8
}

type buffer struct {
	Index, Type, BytesUsed, Flags, Field uint32
	_                                    uint32
	Timestamp                            unix.Timeval
	Timecode                             [16]byte
	Sequence, Memory                     uint32
	Offset                               uint64
	Length                               uint32
	_                                    uint32
	RequestFD                            int32
	_                                    uint32
}

type queryCtrl struct {
	ID, Type                           uint32
	Name                               [32]byte
	Minimum, Maximum, Step, DefaultVal int32
	Flags                              uint32
	Reserved                           [2]uint32
}

type control struct{ ID, Value uint32 }

func ioc(dir, nr, size uintptr) uintptr { return dir<<30 | size<<16 | 'V'<<8 | nr }

var (
	vidiocQueryCap  = ioc(2, 0, unsafe.Sizeof(capability{}))
	vidiocSFmt      = ioc(3, 5, unsafe.Sizeof(format{}))
	vidiocReqBufs   = ioc(3, 8, unsafe.Sizeof(requestBuffers{}))
	vidiocQueryBuf  = ioc(3, 9, unsafe.Sizeof(buffer{}))
	vidiocQBuf      = ioc(3, 15, unsafe.Sizeof(buffer{}))
	vidiocDQBuf     = ioc(3, 17, unsafe.Sizeof(buffer{}))
	vidiocStreamOn  = ioc(1, 18, 4)
	vidiocStreamOff = ioc(1, 19, 4)
	vidiocSCtrl     = ioc(3, 28, unsafe.Sizeof(control{}))
	vidiocQueryCtrl = ioc(3, 36, unsafe.Sizeof(queryCtrl{}))
)

const (
	typeOutput   = 2
	memoryMmap   = 1
	capCapture   = 0x1
	capOutput    = 0x2
	capDevCaps   = 0x80000000
	ctrlNextCtrl = 0x80000000
)

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
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

// Find returns vivid's capture and output nodes among dir's video*.
func Find(dir string) (capture, output string, err error) {
	paths, _ := filepath.Glob(filepath.Join(dir, "video*"))
	for _, p := range paths {
		fd, err := unix.Open(p, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		var c capability
		err = ioctl(fd, vidiocQueryCap, unsafe.Pointer(&c))
		unix.Close(fd)
		if err != nil || !strings.HasPrefix(string(c.Driver[:]), "vivid") {
			continue
		}
		caps := c.Capabilities
		if caps&capDevCaps != 0 {
			caps = c.DeviceCaps
		}
		if caps&capCapture != 0 && capture == "" {
			capture = p
		}
		if caps&capOutput != 0 && output == "" {
			output = p
		}
	}
	if capture == "" || output == "" {
		return "", "", fmt.Errorf("no vivid capture and output nodes in %s (modprobe vivid node_types=0x101 input_types=0x3 output_types=0x1)", dir)
	}
	return capture, output, nil
}

// SetLoop turns on the capture node's "Loop Video" control and turns off
// its on-screen text, which vivid draws over the top left of every frame
// (over a code's finder pattern).
func SetLoop(capture string) error {
	if err := SetControl(capture, "OSD Text Mode", 2); err != nil { // 2: None
		return err
	}
	return SetControl(capture, "Loop Video", 1)
}

// SetControl sets a control found by name (vivid's ids differ between
// kernel versions).
func SetControl(capture, want string, value uint32) error {
	fd, err := unix.Open(capture, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	q := queryCtrl{ID: ctrlNextCtrl}
	for ioctl(fd, vidiocQueryCtrl, unsafe.Pointer(&q)) == nil {
		name := string(q.Name[:])
		if i := strings.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if name == want {
			c := control{ID: q.ID, Value: value}
			if err := ioctl(fd, vidiocSCtrl, unsafe.Pointer(&c)); err != nil {
				return fmt.Errorf("setting %q: %w", want, err)
			}
			return nil
		}
		q = queryCtrl{ID: q.ID | ctrlNextCtrl}
	}
	return fmt.Errorf("vivid has no %q control", want)
}

// Output is vivid's output node, streaming.
type Output struct {
	fd     int
	bufs   [][]byte
	Layout pixFormat
}

// OpenOutput sets the output to fourcc at w×h, progressive, and maps its
// buffers.
func OpenOutput(path string, fourcc uint32, w, h int) (*Output, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	o := &Output{fd: fd}
	f := format{Type: typeOutput, Pix: pixFormat{Width: uint32(w), Height: uint32(h), PixelFormat: fourcc, Field: 1}}
	if err := ioctl(fd, vidiocSFmt, unsafe.Pointer(&f)); err != nil {
		o.Close()
		return nil, fmt.Errorf("output S_FMT: %w", err)
	}
	if f.Pix.PixelFormat != fourcc || int(f.Pix.Width) != w || int(f.Pix.Height) != h {
		o.Close()
		return nil, fmt.Errorf("output gave %dx%d %08x, want %dx%d %08x", f.Pix.Width, f.Pix.Height, f.Pix.PixelFormat, w, h, fourcc)
	}
	o.Layout = f.Pix
	rb := requestBuffers{Count: 4, Type: typeOutput, Memory: memoryMmap}
	if err := ioctl(fd, vidiocReqBufs, unsafe.Pointer(&rb)); err != nil {
		o.Close()
		return nil, fmt.Errorf("output REQBUFS: %w", err)
	}
	for i := uint32(0); i < rb.Count; i++ {
		b := buffer{Index: i, Type: typeOutput, Memory: memoryMmap}
		if err := ioctl(fd, vidiocQueryBuf, unsafe.Pointer(&b)); err != nil {
			o.Close()
			return nil, fmt.Errorf("output QUERYBUF: %w", err)
		}
		m, err := unix.Mmap(fd, int64(b.Offset), int(b.Length), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			o.Close()
			return nil, fmt.Errorf("output mmap: %w", err)
		}
		o.bufs = append(o.bufs, m)
	}
	return o, nil
}

// Show streams frames (each a raw buffer in the output's layout), each for
// hold, round and round until ctx ends.
func (o *Output) Show(ctx context.Context, frames [][]byte, hold time.Duration) error {
	start := time.Now()
	current := func() []byte { return frames[int(time.Since(start)/hold)%len(frames)] }
	for i := range o.bufs {
		if err := o.queue(uint32(i), current()); err != nil {
			return err
		}
	}
	typ := int32(typeOutput)
	if err := ioctl(o.fd, vidiocStreamOn, unsafe.Pointer(&typ)); err != nil {
		return fmt.Errorf("output STREAMON: %w", err)
	}
	defer ioctl(o.fd, vidiocStreamOff, unsafe.Pointer(&typ))
	for ctx.Err() == nil {
		fds := []unix.PollFd{{Fd: int32(o.fd), Events: unix.POLLOUT}}
		if n, err := unix.Poll(fds, 100); err != nil && !errors.Is(err, unix.EINTR) {
			return err
		} else if n == 0 {
			continue
		}
		b := buffer{Type: typeOutput, Memory: memoryMmap}
		if err := ioctl(o.fd, vidiocDQBuf, unsafe.Pointer(&b)); err != nil {
			if errors.Is(err, unix.EAGAIN) {
				continue
			}
			return fmt.Errorf("output DQBUF: %w", err)
		}
		if err := o.queue(b.Index, current()); err != nil {
			return err
		}
	}
	return nil
}

func (o *Output) queue(i uint32, frame []byte) error {
	n := copy(o.bufs[i], frame)
	b := buffer{Index: i, Type: typeOutput, Memory: memoryMmap, BytesUsed: uint32(n), Field: 1}
	if err := ioctl(o.fd, vidiocQBuf, unsafe.Pointer(&b)); err != nil {
		return fmt.Errorf("output QBUF: %w", err)
	}
	return nil
}

// Close unmaps the buffers and closes the node.
func (o *Output) Close() error {
	for _, m := range o.bufs {
		unix.Munmap(m)
	}
	o.bufs = nil
	return unix.Close(o.fd)
}
