//go:build linux && (amd64 || arm64 || riscv64)

package camera

import (
	"errors"
	"fmt"
	"image"
	"path/filepath"
	"sort"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/custodian-hsm/custodian/internal/v4l2"
)

// List returns the capture devices present, in /dev order.
func List() ([]Device, error) { return ListIn("/dev") }

// ListIn lists the capture devices among dir's video* nodes. A node that is
// not a capture device (a USB camera's metadata node, an output, a plain
// file) is left out. With no capture device it returns ErrNoCamera, or the
// PermissionError of a node the user may not open, which is then the
// likelier reason.
func ListIn(dir string) ([]Device, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "video*"))
	if err != nil {
		return nil, err
	}
	sort.Slice(paths, func(i, j int) bool { return nodeLess(paths[i], paths[j]) })
	var found []Device
	var denied error
	for _, p := range paths {
		fd, err := openNode(p)
		if err != nil {
			if errors.As(err, new(*PermissionError)) && denied == nil {
				denied = err
			}
			continue
		}
		d, caps, err := query(fd, p)
		unix.Close(fd)
		if err == nil && caps&v4l2.CapVideoCapture != 0 {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		if denied != nil {
			return nil, denied
		}
		return nil, ErrNoCamera
	}
	return found, nil
}

// nodeLess orders video2 before video10.
func nodeLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func openNode(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	switch {
	case err == nil:
		return fd, nil
	case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM):
		return -1, &PermissionError{Path: path, Err: err}
	case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO):
		return -1, fmt.Errorf("camera %s is gone (unplugged?): %w", path, ErrNoCamera)
	}
	return -1, &DeviceError{Path: path, Op: "open", Err: err}
}

// query asks the driver who it is and what the node can do.
func query(fd int, path string) (Device, uint32, error) {
	var c v4l2.Capability
	if err := v4l2.Ioctl(fd, v4l2.VidiocQueryCap, unsafe.Pointer(&c)); err != nil {
		return Device{}, 0, &DeviceError{Path: path, Op: "VIDIOC_QUERYCAP (not a V4L2 device?)", Err: err}
	}
	// This node's capabilities, not the whole driver's.
	return Device{Path: path, Card: v4l2.CString(c.Card[:]), Driver: v4l2.CString(c.Driver[:]), BusInfo: v4l2.CString(c.BusInfo[:])}, c.NodeCaps(), nil
}

// Camera is an open capture device. It is not safe for concurrent use:
// one goroutine calls Next until it returns, then Close.
type Camera struct {
	dev    Device
	fd     int
	opts   Options
	layout Layout
	bufs   [][]byte // mmapped driver buffers; nil in read() mode
	read   []byte   // the read() buffer
	size   int      // the driver's largest frame (sizeimage)
	gray   *image.Gray
	last   time.Time
	closed bool
}

// Open opens a capture device, chooses the most suitable pixel format and
// starts streaming.
func Open(path string, opts Options) (*Camera, error) {
	opts = opts.withDefaults()
	fd, err := openNode(path)
	if err != nil {
		return nil, err
	}
	c := &Camera{fd: fd, opts: opts}
	if err := c.start(path); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Camera) start(path string) error {
	d, caps, err := query(c.fd, path)
	if err != nil {
		return err
	}
	c.dev = d
	if caps&v4l2.CapVideoCapture == 0 {
		return &DeviceError{Path: path, Op: "open", Err: errors.New("not a video capture device (choose the camera's first node)")}
	}
	if err := c.setFormat(); err != nil {
		return err
	}
	c.gray = image.NewGray(image.Rect(0, 0, c.layout.Width, c.layout.Height))
	switch {
	case caps&v4l2.CapStreaming != 0:
		return c.startStreaming()
	case caps&v4l2.CapReadWrite != 0:
		c.read = make([]byte, max(c.size, c.layout.BytesPerLine*c.layout.Height, 1<<20))
		return nil
	}
	return &DeviceError{Path: path, Op: "open", Err: errors.New("offers neither streaming nor read() I/O")}
}

// Formats lists the pixel formats a capture node offers.
func (c *Camera) formats() ([]PixelFormat, error) {
	var out []PixelFormat
	for i := uint32(0); i < 64; i++ {
		d := v4l2.FmtDesc{Index: i, Type: v4l2.BufTypeVideoCapture}
		if err := v4l2.Ioctl(c.fd, v4l2.VidiocEnumFmt, unsafe.Pointer(&d)); err != nil {
			if errors.Is(err, unix.EINVAL) {
				break // the end of the list
			}
			return nil, &DeviceError{Path: c.dev.Path, Op: "VIDIOC_ENUM_FMT", Err: err}
		}
		out = append(out, PixelFormat(d.PixelFormat))
	}
	return out, nil
}

func (c *Camera) setFormat() error {
	offered, err := c.formats()
	if err != nil {
		return err
	}
	want, ok := choose(offered, c.opts.Formats...)
	if !ok {
		return &FormatError{Path: c.dev.Path, Offered: offered}
	}
	f := v4l2.Format{Type: v4l2.BufTypeVideoCapture}
	f.Pix = v4l2.PixFormat{Width: uint32(c.opts.Width), Height: uint32(c.opts.Height), PixelFormat: uint32(want), Field: 1 /* progressive */}
	if err := v4l2.Ioctl(c.fd, v4l2.VidiocSFmt, unsafe.Pointer(&f)); err != nil {
		return &DeviceError{Path: c.dev.Path, Op: "VIDIOC_S_FMT " + want.String(), Err: err}
	}
	got := PixelFormat(f.Pix.PixelFormat)
	if !readable(got) || f.Pix.Width == 0 || f.Pix.Height == 0 || f.Pix.Width > 8192 || f.Pix.Height > 8192 {
		return &FormatError{Path: c.dev.Path, Offered: []PixelFormat{got}}
	}
	c.layout = Layout{Format: got, Width: int(f.Pix.Width), Height: int(f.Pix.Height), BytesPerLine: int(f.Pix.BytesPerLine)}
	c.size = int(min(f.Pix.SizeImage, 64<<20)) // a driver's claim, bounded
	return nil
}

// startStreaming maps four driver buffers, queues them and starts.
func (c *Camera) startStreaming() error {
	rb := v4l2.RequestBuffers{Count: 4, Type: v4l2.BufTypeVideoCapture, Memory: v4l2.MemoryMmap}
	if err := v4l2.Ioctl(c.fd, v4l2.VidiocReqBufs, unsafe.Pointer(&rb)); err != nil {
		return &DeviceError{Path: c.dev.Path, Op: "VIDIOC_REQBUFS", Err: err}
	}
	if rb.Count < 2 {
		return &DeviceError{Path: c.dev.Path, Op: "VIDIOC_REQBUFS", Err: fmt.Errorf("the driver gave %d buffers", rb.Count)}
	}
	for i := uint32(0); i < rb.Count; i++ {
		b := v4l2.Buffer{Index: i, Type: v4l2.BufTypeVideoCapture, Memory: v4l2.MemoryMmap}
		if err := v4l2.Ioctl(c.fd, v4l2.VidiocQueryBuf, unsafe.Pointer(&b)); err != nil {
			return &DeviceError{Path: c.dev.Path, Op: "VIDIOC_QUERYBUF", Err: err}
		}
		m, err := unix.Mmap(c.fd, int64(b.Offset), int(b.Length), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return &DeviceError{Path: c.dev.Path, Op: "mmap", Err: err}
		}
		c.bufs = append(c.bufs, m)
		if err := c.queue(i); err != nil {
			return err
		}
	}
	typ := int32(v4l2.BufTypeVideoCapture)
	if err := v4l2.Ioctl(c.fd, v4l2.VidiocStreamOn, unsafe.Pointer(&typ)); err != nil {
		return &DeviceError{Path: c.dev.Path, Op: "VIDIOC_STREAMON", Err: err}
	}
	return nil
}

func (c *Camera) queue(i uint32) error {
	b := v4l2.Buffer{Index: i, Type: v4l2.BufTypeVideoCapture, Memory: v4l2.MemoryMmap}
	if err := v4l2.Ioctl(c.fd, v4l2.VidiocQBuf, unsafe.Pointer(&b)); err != nil {
		return &DeviceError{Path: c.dev.Path, Op: "VIDIOC_QBUF", Err: err}
	}
	return nil
}

// Device says which device this is.
func (c *Camera) Device() Device { return c.dev }

// Layout says what the driver agreed to.
func (c *Camera) Layout() Layout { return c.layout }

// Close stops streaming, unmaps the buffers and closes the device. It may
// be called more than once.
func (c *Camera) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if len(c.bufs) > 0 {
		typ := int32(v4l2.BufTypeVideoCapture)
		_ = v4l2.Ioctl(c.fd, v4l2.VidiocStreamOff, unsafe.Pointer(&typ))
	}
	var err error
	for _, m := range c.bufs {
		if e := unix.Munmap(m); e != nil && err == nil {
			err = e
		}
	}
	c.bufs = nil
	if e := unix.Close(c.fd); e != nil && err == nil {
		err = e
	}
	return err
}
