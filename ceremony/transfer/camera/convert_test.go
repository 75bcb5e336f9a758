package camera

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"strings"
	"testing"
)

// pattern is a grey test picture whose every pixel differs from its
// neighbours, so a swapped byte or a wrong stride shows.
func pattern(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			g.Pix[y*g.Stride+x] = uint8(x*7 + y*13)
		}
	}
	return g
}

// pack lays a grey picture out as a camera would, with pad bytes at the end
// of each line, chroma bytes filled with values unlike any luma.
func pack(g *image.Gray, f PixelFormat, pad int) ([]byte, Layout) {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	step, off := 1, 0
	switch f {
	case YUYV:
		step = 2
	case UYVY:
		step, off = 2, 1
	}
	line := w*step + pad
	buf := bytes.Repeat([]byte{0xA5}, line*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			buf[y*line+x*step+off] = g.Pix[y*g.Stride+x]
		}
	}
	if f == NV12 || f == YU12 { // the chroma planes after the luma plane
		buf = append(buf, bytes.Repeat([]byte{0x5A}, line*h/2)...)
	}
	return buf, Layout{Format: f, Width: w, Height: h, BytesPerLine: line}
}

func TestToGrayTakesTheLuminanceOfEachFormat(t *testing.T) {
	want := pattern(64, 48)
	for _, f := range []PixelFormat{GREY, YUYV, UYVY, NV12, YU12} {
		for _, pad := range []int{0, 32} {
			buf, l := pack(want, f, pad)
			got := image.NewGray(want.Rect)
			if err := ToGray(got, l, buf); err != nil {
				t.Fatalf("%v pad %d: %v", f, pad, err)
			}
			if !bytes.Equal(got.Pix, want.Pix) {
				t.Errorf("%v with %d pad bytes a line: the luminance differs", f, pad)
			}
		}
	}
}

func TestToGrayRefusesTruncatedAndUnknownFrames(t *testing.T) {
	want := pattern(64, 48)
	buf, l := pack(want, YUYV, 0)
	got := image.NewGray(want.Rect)
	if err := ToGray(got, l, buf[:len(buf)-1]); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("a truncated YUYV frame: %v", err)
	}
	if err := ToGray(got, Layout{Format: YUYV, Width: 64, Height: 48, BytesPerLine: 100}, buf); err == nil {
		t.Error("a line shorter than its pixels was accepted")
	}
	if err := ToGray(got, Layout{Format: fourcc("RGB3"), Width: 64, Height: 48}, buf); err == nil || !strings.Contains(err.Error(), "RGB3") {
		t.Errorf("an unknown format: %v", err)
	}
	if err := ToGray(image.NewGray(image.Rect(0, 0, 10, 10)), l, buf); err == nil {
		t.Error("a frame of another size than the buffer was accepted")
	}
}

func TestToGrayDecodesMJPEG(t *testing.T) {
	want := pattern(64, 48)
	for _, src := range []image.Image{want, toYCbCr(want)} {
		var jb bytes.Buffer
		if err := jpeg.Encode(&jb, src, &jpeg.Options{Quality: 100}); err != nil {
			t.Fatal(err)
		}
		got := image.NewGray(want.Rect)
		if err := ToGray(got, Layout{Format: MJPEG, Width: 64, Height: 48}, jb.Bytes()); err != nil {
			t.Fatal(err)
		}
		for i := range want.Pix {
			if d := int(got.Pix[i]) - int(want.Pix[i]); d > 12 || d < -12 {
				t.Fatalf("%T: pixel %d is %d, want about %d", src, i, got.Pix[i], want.Pix[i])
			}
		}
	}
	got := image.NewGray(want.Rect)
	if err := ToGray(got, Layout{Format: MJPEG, Width: 64, Height: 48}, []byte("not a jpeg")); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("a damaged MJPEG frame: %v", err)
	}
}

func toYCbCr(g *image.Gray) image.Image {
	out := image.NewRGBA(g.Rect)
	for i, v := range g.Pix {
		out.Set(i%g.Stride, i/g.Stride, color.RGBA{v, v, v, 255})
	}
	return out
}

func TestChoosePrefersPlainLuminance(t *testing.T) {
	for _, c := range []struct {
		offered []PixelFormat
		want    PixelFormat
		ok      bool
	}{
		{[]PixelFormat{MJPEG, YUYV}, YUYV, true},
		{[]PixelFormat{MJPEG}, MJPEG, true},
		{[]PixelFormat{NV12, GREY, YUYV}, GREY, true},
		{[]PixelFormat{fourcc("RGB3"), fourcc("H264")}, 0, false},
	} {
		got, ok := choose(c.offered)
		if got != c.want || ok != c.ok {
			t.Errorf("choose(%v) = %v %v, want %v %v", c.offered, got, ok, c.want, c.ok)
		}
	}
	if got, ok := choose([]PixelFormat{GREY, YUYV, MJPEG}, YUYV, fourcc("H264")); got != YUYV || !ok {
		t.Errorf("an order given: %v %v", got, ok)
	}
	if _, ok := choose([]PixelFormat{fourcc("H264")}, fourcc("H264")); ok {
		t.Error("a format ToGray cannot read was chosen because it was asked for")
	}
	if s := PixelFormat(0x01020304).String(); s != "0x01020304" {
		t.Errorf("an unprintable FourCC reads %q", s)
	}
}

func TestDownscaleKeepsTheAspectAndBound(t *testing.T) {
	src := pattern(1280, 720)
	p := Downscale(src, 320)
	if p.Rect.Dx() != 320 || p.Rect.Dy() != 180 {
		t.Fatalf("preview is %v", p.Rect)
	}
	if p.Pix[0] != src.Pix[0] || p.Pix[1] != src.Pix[4] {
		t.Error("the preview does not sample the source")
	}
	small := Downscale(pattern(20, 30), 320)
	if small.Rect.Dx() != 20 || !bytes.Equal(small.Pix, pattern(20, 30).Pix) {
		t.Error("a small frame is not kept as is")
	}
	if tall := Downscale(pattern(100, 400), 200); tall.Rect.Dx() != 50 || tall.Rect.Dy() != 200 {
		t.Errorf("tall preview is %v", tall.Rect)
	}
}
