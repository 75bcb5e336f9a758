//go:build linux

package qr

import (
	"context"
	"image"

	"github.com/custodian-hsm/custodian/ceremony/transfer/camera"
)

// Webcam is a V4L2 camera as a FrameSource, read by package camera.
type Webcam struct {
	cam *camera.Camera
}

// OpenWebcam opens and starts a V4L2 device such as /dev/video0.
func OpenWebcam(device string) (*Webcam, error) {
	cam, err := camera.Open(device, camera.Options{})
	if err != nil {
		return nil, err
	}
	return &Webcam{cam: cam}, nil
}

// Next waits for the next frame and returns a copy of its luminance: a
// FrameSource's images may be kept (the Transfer screen shows them while
// the next frame is read), and package camera reuses its buffer.
func (c *Webcam) Next(ctx context.Context) (image.Image, error) {
	g, err := c.cam.Next(ctx)
	if err != nil {
		return nil, err
	}
	out := image.NewGray(g.Rect)
	copy(out.Pix, g.Pix)
	return out, nil
}

// Close stops streaming and releases the device.
func (c *Webcam) Close() error { return c.cam.Close() }
