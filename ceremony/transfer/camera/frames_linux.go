//go:build linux && (amd64 || arm64 || riscv64)

package camera

import (
	"context"
	"errors"
	"fmt"
	"image"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/custodian-hsm/custodian/internal/v4l2"
)

// Next waits for the newest frame and returns its luminance. It returns at
// most Options.MaxRate frames a second, ctx's error when ctx ends, and a
// DeviceError when the camera sends nothing for Options.Stall or fails.
// The image is reused: it is valid until the next call of Next.
func (c *Camera) Next(ctx context.Context) (*image.Gray, error) {
	if c.closed {
		return nil, &DeviceError{Path: c.dev.Path, Op: "read", Err: errors.New("closed")}
	}
	if err := c.pace(ctx); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(c.opts.Stall)
	for {
		if err := c.wait(ctx, deadline); err != nil {
			return nil, err
		}
		ok, err := c.grab()
		if err != nil {
			return nil, err
		}
		if ok {
			c.last = time.Now()
			return c.gray, nil
		}
	}
}

// pace sleeps until the next frame is due.
func (c *Camera) pace(ctx context.Context) error {
	if c.last.IsZero() {
		return nil
	}
	due := c.last.Add(time.Duration(float64(time.Second) / c.opts.MaxRate))
	d := time.Until(due)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// wait polls the device in short steps so that ctx is noticed promptly.
func (c *Camera) wait(ctx context.Context, deadline time.Time) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return &DeviceError{Path: c.dev.Path, Op: "read", Err: fmt.Errorf("no frame for %v", c.opts.Stall)}
		}
		fds := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 100)
		if errors.Is(err, unix.EINTR) || n == 0 {
			continue
		}
		if err != nil {
			return &DeviceError{Path: c.dev.Path, Op: "poll", Err: err}
		}
		if fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 && fds[0].Revents&unix.POLLIN == 0 {
			return &DeviceError{Path: c.dev.Path, Op: "poll", Err: errors.New("the device reported an error (unplugged?)")}
		}
		return nil
	}
}

// grab converts the newest ready frame into c.gray. It reports false when
// nothing usable was ready (a damaged frame, a spurious wake-up).
func (c *Camera) grab() (bool, error) {
	if c.bufs == nil {
		n, err := unix.Read(c.fd, c.read)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			return false, nil
		}
		if err != nil {
			return false, &DeviceError{Path: c.dev.Path, Op: "read", Err: err}
		}
		return c.convert(c.read[:n])
	}
	b, ok, err := c.dequeue()
	if err != nil || !ok {
		return false, err
	}
	// Older frames are dropped: take whatever is newer, requeue the rest.
	for {
		nb, ok, err := c.dequeue()
		if err != nil {
			c.queue(b.Index)
			return false, err
		}
		if !ok {
			break
		}
		if err := c.queue(b.Index); err != nil {
			return false, err
		}
		b = nb
	}
	defer c.queue(b.Index)
	if b.Flags&v4l2.BufFlagError != 0 || int(b.Index) >= len(c.bufs) {
		return false, nil
	}
	used := min(int(b.BytesUsed), len(c.bufs[b.Index]))
	return c.convert(c.bufs[b.Index][:used])
}

// convert skips a frame that does not convert (a truncated or damaged
// frame happens on a busy USB bus) rather than ending the scan.
func (c *Camera) convert(buf []byte) (bool, error) {
	if err := ToGray(c.gray, c.layout, buf); err != nil {
		return false, nil
	}
	return true, nil
}

func (c *Camera) dequeue() (v4l2.Buffer, bool, error) {
	b := v4l2.Buffer{Type: v4l2.BufTypeVideoCapture, Memory: v4l2.MemoryMmap}
	err := v4l2.Ioctl(c.fd, v4l2.VidiocDQBuf, unsafe.Pointer(&b))
	if errors.Is(err, unix.EAGAIN) {
		return b, false, nil
	}
	if err != nil {
		return b, false, &DeviceError{Path: c.dev.Path, Op: "VIDIOC_DQBUF", Err: err}
	}
	return b, true, nil
}
