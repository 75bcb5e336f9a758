package camera

import (
	"errors"
	"fmt"
)

// ErrNoCamera reports that no V4L2 capture device is present.
var ErrNoCamera = errors.New("no camera found: connect a USB camera, or scan image files instead")

// ErrUnsupported reports a platform without V4L2.
var ErrUnsupported = errors.New("cameras are read only on Linux (V4L2): scan image files instead")

// PermissionError reports a device node the user may not open.
type PermissionError struct {
	Path string
	Err  error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("camera %s: permission denied: the user must be in group video (sudo usermod -aG video $USER, then log out and in again)", e.Path)
}

func (e *PermissionError) Unwrap() error { return e.Err }

// FormatError reports a device that offers no pixel format this package
// can turn into luminance.
type FormatError struct {
	Path    string
	Offered []PixelFormat
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("camera %s offers no usable format (offers %v; need GREY, YUYV, UYVY, NV12, YU12 or MJPEG): use another camera, or scan image files instead", e.Path, e.Offered)
}

// DeviceError is any other failure of a device, with the step that failed.
type DeviceError struct {
	Path string
	Op   string
	Err  error
}

func (e *DeviceError) Error() string {
	return fmt.Sprintf("camera %s: %s: %v (unplug and reconnect the camera, or choose another)", e.Path, e.Op, e.Err)
}

func (e *DeviceError) Unwrap() error { return e.Err }
