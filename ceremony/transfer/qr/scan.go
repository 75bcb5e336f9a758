package qr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"

	"github.com/custodian-hsm/custodian/ceremony/transfer/ur"
)

// FrameSource delivers camera images. Next blocks until a frame is ready or
// ctx ends.
type FrameSource interface {
	Next(ctx context.Context) (image.Image, error)
	Close() error
}

// Scanner turns a stream of camera frames into a received file.
type Scanner struct {
	Source FrameSource
	// Progress, if set, is called whenever a new part is accepted.
	Progress func(ur.Progress)
	// Rejected, if set, is told about codes that are not part of this
	// transfer (another QR code in view, a damaged frame). Frames with no
	// code at all are normal while the camera settles and are not reported.
	Rejected func(error)
}

// Run reads frames until the file is complete, ctx is cancelled, or the
// source fails. Codes of the wrong type or from another transfer are
// reported and skipped rather than ending the scan: a camera often sees
// something else for a moment.
func (s *Scanner) Run(ctx context.Context) (ur.File, error) {
	r := NewReceiver()
	last := ur.Progress{}
	for {
		if err := ctx.Err(); err != nil {
			return ur.File{}, fmt.Errorf("qr: scan stopped (%s): %w", r.Status(), err)
		}
		img, err := s.Source.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ur.File{}, fmt.Errorf("qr: scan stopped (%s): %w", r.Status(), ctx.Err())
			}
			return ur.File{}, fmt.Errorf("qr: camera: %w", err)
		}
		if err := r.AddImage(img); err != nil {
			if !errors.Is(err, ErrNoCode) && s.Rejected != nil {
				s.Rejected(err)
			}
			if errors.Is(err, ur.ErrChecksum) {
				return ur.File{}, err
			}
			continue
		}
		if st := r.Status(); st != last {
			last = st
			if s.Progress != nil {
				s.Progress(st)
			}
		}
		if r.Complete() {
			return r.File()
		}
	}
}

// V4L2 pixel formats the camera layer understands.
const (
	FormatYUYV  uint32 = 'Y' | 'U'<<8 | 'Y'<<16 | 'V'<<24
	FormatMJPEG uint32 = 'M' | 'J'<<8 | 'P'<<16 | 'G'<<24
)

// FrameToImage converts one raw camera buffer to an image.
func FrameToImage(format uint32, width, height int, buf []byte) (image.Image, error) {
	switch format {
	case FormatYUYV:
		return yuyvToImage(width, height, buf)
	case FormatMJPEG:
		img, err := jpeg.Decode(bytes.NewReader(buf))
		if err != nil {
			return nil, fmt.Errorf("qr: camera sent a damaged MJPEG frame: %w", err)
		}
		return img, nil
	}
	return nil, fmt.Errorf("qr: camera pixel format %08x is not supported (need YUYV or MJPEG)", format)
}

// yuyvToImage unpacks YUYV 4:2:2 (Y0 U Y1 V per pixel pair) into a YCbCr
// image; QR reading only needs the luma, but a real image helps debugging.
func yuyvToImage(width, height int, buf []byte) (image.Image, error) {
	if width <= 0 || height <= 0 || width%2 != 0 {
		return nil, fmt.Errorf("qr: YUYV frame size %dx%d is invalid", width, height)
	}
	if len(buf) < width*height*2 {
		return nil, fmt.Errorf("qr: YUYV frame has %d bytes, %dx%d needs %d", len(buf), width, height, width*height*2)
	}
	img := image.NewYCbCr(image.Rect(0, 0, width, height), image.YCbCrSubsampleRatio422)
	for y := 0; y < height; y++ {
		row := buf[y*width*2:]
		for x := 0; x < width; x += 2 {
			o := x * 2
			img.Y[y*img.YStride+x] = row[o]
			img.Y[y*img.YStride+x+1] = row[o+2]
			c := y*img.CStride + x/2
			img.Cb[c] = row[o+1]
			img.Cr[c] = row[o+3]
		}
	}
	return img, nil
}

// imageToYUYV is the inverse, used to test the camera path with rendered
// codes.
func imageToYUYV(img image.Image) (w, h int, buf []byte) {
	b := img.Bounds()
	w, h = b.Dx()&^1, b.Dy()
	buf = make([]byte, w*h*2)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x += 2 {
			var yy [2]uint8
			var cb, cr uint8
			for k := 0; k < 2; k++ {
				r, g, bl, _ := img.At(b.Min.X+x+k, b.Min.Y+y).RGBA()
				var ycb, ycr uint8
				yy[k], ycb, ycr = rgbToYCbCr(r, g, bl)
				if k == 0 {
					cb, cr = ycb, ycr
				}
			}
			o := (y*w + x) * 2
			buf[o], buf[o+1], buf[o+2], buf[o+3] = yy[0], cb, yy[1], cr
		}
	}
	return w, h, buf
}

func rgbToYCbCr(r, g, b uint32) (uint8, uint8, uint8) {
	y, cb, cr := colorRGBToYCbCr(uint8(r>>8), uint8(g>>8), uint8(b>>8))
	return y, cb, cr
}

var colorRGBToYCbCr = color.RGBToYCbCr
