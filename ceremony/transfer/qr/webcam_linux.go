//go:build linux

package qr

import (
	"context"
	"errors"
	"fmt"
	"image"

	"github.com/blackjack/webcam"
)

// Webcam is a V4L2 camera as a FrameSource. It is deliberately thin: it
// opens the device, picks MJPEG or YUYV at the largest size up to 1280×720,
// and hands raw buffers to FrameToImage, which the tests cover.
type Webcam struct {
	cam           *webcam.Webcam
	format        uint32
	width, height int
}

// OpenWebcam opens and starts a V4L2 device such as /dev/video0.
func OpenWebcam(device string) (*Webcam, error) {
	cam, err := webcam.Open(device)
	if err != nil {
		return nil, fmt.Errorf("qr: opening camera %s: %w (is it connected, and are you in the video group?)", device, err)
	}
	formats := cam.GetSupportedFormats()
	var chosen webcam.PixelFormat
	found := false
	for _, want := range []uint32{FormatMJPEG, FormatYUYV} {
		if _, ok := formats[webcam.PixelFormat(want)]; ok {
			chosen, found = webcam.PixelFormat(want), true
			break
		}
	}
	if !found {
		cam.Close()
		return nil, fmt.Errorf("qr: camera %s offers neither MJPEG nor YUYV", device)
	}
	var w, h uint32 = 640, 480
	for _, fs := range cam.GetSupportedFrameSizes(chosen) {
		if fs.MaxWidth <= 1280 && fs.MaxHeight <= 720 && fs.MaxWidth*fs.MaxHeight > w*h {
			w, h = fs.MaxWidth, fs.MaxHeight
		}
	}
	f, gw, gh, err := cam.SetImageFormat(chosen, w, h)
	if err != nil {
		cam.Close()
		return nil, fmt.Errorf("qr: setting camera format: %w", err)
	}
	if err := cam.StartStreaming(); err != nil {
		cam.Close()
		return nil, fmt.Errorf("qr: starting camera: %w", err)
	}
	return &Webcam{cam: cam, format: uint32(f), width: int(gw), height: int(gh)}, nil
}

// Next waits for the next frame, polling in one-second steps (the driver
// API counts whole seconds) so cancellation is noticed promptly.
func (c *Webcam) Next(ctx context.Context) (image.Image, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		err := c.cam.WaitForFrame(1)
		var timeout *webcam.Timeout
		if errors.As(err, &timeout) {
			continue
		}
		if err != nil {
			return nil, err
		}
		buf, err := c.cam.ReadFrame()
		if err != nil {
			return nil, err
		}
		if len(buf) == 0 {
			continue
		}
		// ReadFrame's buffer is reused by the driver; FrameToImage copies.
		return FrameToImage(c.format, c.width, c.height, buf)
	}
}

// Close stops streaming and releases the device.
func (c *Webcam) Close() error {
	_ = c.cam.StopStreaming()
	return c.cam.Close()
}
