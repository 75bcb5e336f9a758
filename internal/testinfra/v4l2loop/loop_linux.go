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

	"github.com/custodian-hsm/custodian/internal/v4l2"
)

// Find returns vivid's capture and output nodes among dir's video*.
func Find(dir string) (capture, output string, err error) {
	paths, _ := filepath.Glob(filepath.Join(dir, "video*"))
	for _, p := range paths {
		fd, err := unix.Open(p, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		var c v4l2.Capability
		err = v4l2.Ioctl(fd, v4l2.VidiocQueryCap, unsafe.Pointer(&c))
		unix.Close(fd)
		if err != nil || !strings.HasPrefix(string(c.Driver[:]), "vivid") {
			continue
		}
		caps := c.NodeCaps()
		if caps&v4l2.CapVideoCapture != 0 && capture == "" {
			capture = p
		}
		if caps&v4l2.CapVideoOutput != 0 && output == "" {
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
	q := v4l2.QueryCtrl{ID: v4l2.CtrlFlagNextCtrl}
	for v4l2.Ioctl(fd, v4l2.VidiocQueryCtrl, unsafe.Pointer(&q)) == nil {
		if v4l2.CString(q.Name[:]) == want {
			c := v4l2.Control{ID: q.ID, Value: value}
			if err := v4l2.Ioctl(fd, v4l2.VidiocSCtrl, unsafe.Pointer(&c)); err != nil {
				return fmt.Errorf("setting %q: %w", want, err)
			}
			return nil
		}
		q = v4l2.QueryCtrl{ID: q.ID | v4l2.CtrlFlagNextCtrl}
	}
	return fmt.Errorf("vivid has no %q control", want)
}

// Output is vivid's output node, streaming.
type Output struct {
	fd     int
	bufs   [][]byte
	Layout v4l2.PixFormat
}

// OpenOutput sets the output to fourcc at w×h, progressive, and maps its
// buffers.
func OpenOutput(path string, fourcc uint32, w, h int) (*Output, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	o := &Output{fd: fd}
	f := v4l2.Format{Type: v4l2.BufTypeVideoOutput, Pix: v4l2.PixFormat{Width: uint32(w), Height: uint32(h), PixelFormat: fourcc, Field: 1}}
	if err := v4l2.Ioctl(fd, v4l2.VidiocSFmt, unsafe.Pointer(&f)); err != nil {
		o.Close()
		return nil, fmt.Errorf("output S_FMT: %w", err)
	}
	if f.Pix.PixelFormat != fourcc || int(f.Pix.Width) != w || int(f.Pix.Height) != h {
		o.Close()
		return nil, fmt.Errorf("output gave %dx%d %08x, want %dx%d %08x", f.Pix.Width, f.Pix.Height, f.Pix.PixelFormat, w, h, fourcc)
	}
	o.Layout = f.Pix
	rb := v4l2.RequestBuffers{Count: 4, Type: v4l2.BufTypeVideoOutput, Memory: v4l2.MemoryMmap}
	if err := v4l2.Ioctl(fd, v4l2.VidiocReqBufs, unsafe.Pointer(&rb)); err != nil {
		o.Close()
		return nil, fmt.Errorf("output REQBUFS: %w", err)
	}
	for i := uint32(0); i < rb.Count; i++ {
		b := v4l2.Buffer{Index: i, Type: v4l2.BufTypeVideoOutput, Memory: v4l2.MemoryMmap}
		if err := v4l2.Ioctl(fd, v4l2.VidiocQueryBuf, unsafe.Pointer(&b)); err != nil {
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
	typ := int32(v4l2.BufTypeVideoOutput)
	if err := v4l2.Ioctl(o.fd, v4l2.VidiocStreamOn, unsafe.Pointer(&typ)); err != nil {
		return fmt.Errorf("output STREAMON: %w", err)
	}
	defer v4l2.Ioctl(o.fd, v4l2.VidiocStreamOff, unsafe.Pointer(&typ))
	for ctx.Err() == nil {
		fds := []unix.PollFd{{Fd: int32(o.fd), Events: unix.POLLOUT}}
		if n, err := unix.Poll(fds, 100); err != nil && !errors.Is(err, unix.EINTR) {
			return err
		} else if n == 0 {
			continue
		}
		b := v4l2.Buffer{Type: v4l2.BufTypeVideoOutput, Memory: v4l2.MemoryMmap}
		if err := v4l2.Ioctl(o.fd, v4l2.VidiocDQBuf, unsafe.Pointer(&b)); err != nil {
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
	b := v4l2.Buffer{Index: i, Type: v4l2.BufTypeVideoOutput, Memory: v4l2.MemoryMmap, BytesUsed: uint32(n), Field: 1}
	if err := v4l2.Ioctl(o.fd, v4l2.VidiocQBuf, unsafe.Pointer(&b)); err != nil {
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
