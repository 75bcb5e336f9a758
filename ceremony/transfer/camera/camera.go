package camera

import (
	"time"
)

// Device is a capture device present on the machine.
type Device struct {
	Path    string // the device node, e.g. /dev/video0
	Card    string // the name the driver gives, e.g. "HD Pro Webcam C920"
	Driver  string // e.g. uvcvideo
	BusInfo string // e.g. usb-0000:00:14.0-1
}

// String names the device as a custodian would recognise it.
func (d Device) String() string {
	if d.Card == "" {
		return d.Path
	}
	return d.Card + " (" + d.Path + ")"
}

// Options says what to ask a camera for. The driver may give something
// else (the nearest size it has); Camera.Layout says what it gave.
type Options struct {
	// Width and Height default to 1280×720: enough pixels a module for a
	// dense code held at arm's length, little enough to decode quickly.
	Width, Height int
	// MaxRate bounds the frames a second Next delivers (default 10); the
	// decoder needs no more, and fewer frames mean less work.
	MaxRate float64
	// Stall is how long Next waits for a frame before it reports the
	// camera as stalled (default 5 s).
	Stall time.Duration
	// Formats, if set, replaces the order of preference (GREY, YUYV,
	// UYVY, NV12, YU12, MJPEG, JPEG); only formats ToGray reads count.
	Formats []PixelFormat
}

func (o Options) withDefaults() Options {
	if o.Width <= 0 || o.Height <= 0 {
		o.Width, o.Height = 1280, 720
	}
	if o.MaxRate <= 0 {
		o.MaxRate = 10
	}
	if o.Stall <= 0 {
		o.Stall = 5 * time.Second
	}
	return o
}
