package camera

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
)

// PixelFormat is a V4L2 FourCC code.
type PixelFormat uint32

func fourcc(s string) PixelFormat {
	return PixelFormat(s[0]) | PixelFormat(s[1])<<8 | PixelFormat(s[2])<<16 | PixelFormat(s[3])<<24
}

// The formats this package reads, in order of preference: those whose
// luminance is a plain copy first, compressed ones last.
var (
	GREY  = fourcc("GREY")
	YUYV  = fourcc("YUYV")
	UYVY  = fourcc("UYVY")
	NV12  = fourcc("NV12")
	YU12  = fourcc("YU12")
	MJPEG = fourcc("MJPG")
	JPEG  = fourcc("JPEG")
)

var preferred = []PixelFormat{GREY, YUYV, UYVY, NV12, YU12, MJPEG, JPEG}

func readable(f PixelFormat) bool {
	for _, p := range preferred {
		if p == f {
			return true
		}
	}
	return false
}

func (f PixelFormat) String() string {
	b := []byte{byte(f), byte(f >> 8), byte(f >> 16), byte(f >> 24)}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("0x%08x", uint32(f))
		}
	}
	return string(b)
}

// choose returns the most preferred of the offered formats, in the order
// of order when given (formats ToGray does not read are ignored).
func choose(offered []PixelFormat, order ...PixelFormat) (PixelFormat, bool) {
	if len(order) == 0 {
		order = preferred
	}
	for _, want := range order {
		if !readable(want) {
			continue
		}
		for _, o := range offered {
			if o == want {
				return want, true
			}
		}
	}
	return 0, false
}

// Layout is what the driver agreed to: the frame's size, format and the
// bytes of one line of luminance (the driver may pad lines).
type Layout struct {
	Format        PixelFormat
	Width, Height int
	BytesPerLine  int
}

// ToGray writes the luminance of one raw frame into dst, which must be
// Width×Height. A frame shorter than its layout says is refused (a
// truncated frame, as a driver delivers on a USB error), never read past.
func ToGray(dst *image.Gray, l Layout, buf []byte) error {
	if l.Width <= 0 || l.Height <= 0 {
		return fmt.Errorf("camera: frame size %dx%d is invalid", l.Width, l.Height)
	}
	if b := dst.Bounds(); b.Dx() != l.Width || b.Dy() != l.Height {
		return fmt.Errorf("camera: frame is %dx%d, buffer %dx%d", l.Width, l.Height, b.Dx(), b.Dy())
	}
	switch l.Format {
	case GREY, NV12, YU12: // the Y plane comes first, one byte a pixel
		return copyLuma(dst, l, buf, 1, 0)
	case YUYV: // Y0 U Y1 V
		return copyLuma(dst, l, buf, 2, 0)
	case UYVY: // U Y0 V Y1
		return copyLuma(dst, l, buf, 2, 1)
	case MJPEG, JPEG:
		return jpegToGray(dst, buf)
	}
	return fmt.Errorf("camera: pixel format %v is not supported", l.Format)
}

// copyLuma copies every step-th byte from offset off of each line.
func copyLuma(dst *image.Gray, l Layout, buf []byte, step, off int) error {
	line := l.BytesPerLine
	if line == 0 {
		line = l.Width * step
	}
	if line < l.Width*step {
		return fmt.Errorf("camera: %v line of %d bytes is shorter than %d pixels", l.Format, line, l.Width)
	}
	need := line*(l.Height-1) + l.Width*step
	if len(buf) < need {
		return fmt.Errorf("camera: %v frame has %d bytes, %dx%d needs %d (a truncated frame)", l.Format, len(buf), l.Width, l.Height, need)
	}
	for y := 0; y < l.Height; y++ {
		src := buf[y*line:]
		row := dst.Pix[y*dst.Stride : y*dst.Stride+l.Width]
		if step == 1 {
			copy(row, src)
			continue
		}
		for x := range row {
			row[x] = src[x*step+off]
		}
	}
	return nil
}

// jpegToGray decodes a compressed frame and keeps its luminance.
func jpegToGray(dst *image.Gray, buf []byte) error {
	img, err := jpeg.Decode(bytes.NewReader(buf))
	if err != nil {
		return fmt.Errorf("camera: a damaged MJPEG frame: %w", err)
	}
	b := img.Bounds()
	if b.Dx() != dst.Rect.Dx() || b.Dy() != dst.Rect.Dy() {
		return fmt.Errorf("camera: MJPEG frame is %dx%d, the format said %dx%d", b.Dx(), b.Dy(), dst.Rect.Dx(), dst.Rect.Dy())
	}
	if yc, ok := img.(*image.YCbCr); ok {
		for y := 0; y < b.Dy(); y++ {
			copy(dst.Pix[y*dst.Stride:y*dst.Stride+b.Dx()], yc.Y[y*yc.YStride:])
		}
		return nil
	}
	draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
	return nil
}

// Downscale returns a copy of src no wider or taller than limit pixels
// (point sampling: a preview, not an input to the decoder).
func Downscale(src *image.Gray, limit int) *image.Gray {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= limit && h <= limit {
		out := image.NewGray(image.Rect(0, 0, w, h))
		draw.Draw(out, out.Rect, src, b.Min, draw.Src)
		return out
	}
	nw, nh := limit, h*limit/w
	if h > w {
		nw, nh = w*limit/h, limit
	}
	nw, nh = max(nw, 1), max(nh, 1)
	out := image.NewGray(image.Rect(0, 0, nw, nh))
	for y := 0; y < nh; y++ {
		sy := b.Min.Y + y*h/nh
		for x := 0; x < nw; x++ {
			out.Pix[y*out.Stride+x] = src.Pix[src.PixOffset(b.Min.X+x*w/nw, sy)]
		}
	}
	return out
}
