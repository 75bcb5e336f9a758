package qr

import (
	"bytes"
	"image"
	"image/png"
	"testing"

	xdraw "golang.org/x/image/draw"
)

// What a camera does to a code: resample it and soften it.

func scale(img image.Image, f float64) image.Image {
	b := img.Bounds()
	dst := image.NewGray(image.Rect(0, 0, int(float64(b.Dx())*f), int(float64(b.Dy())*f)))
	xdraw.BiLinear.Scale(dst, dst.Bounds(), img, b, xdraw.Src, nil)
	return dst
}

// boxBlur averages each pixel with its (2r+1)² neighbourhood.
func boxBlur(img image.Image, r int) image.Image {
	b := img.Bounds()
	src := image.NewGray(b)
	xdraw.Draw(src, b, img, b.Min, xdraw.Src)
	dst := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			sum, n := 0, 0
			for dy := -r; dy <= r; dy++ {
				for dx := -r; dx <= r; dx++ {
					p := image.Pt(x+dx, y+dy)
					if p.In(b) {
						sum += int(src.GrayAt(p.X, p.Y).Y)
						n++
					}
				}
			}
			dst.Pix[(y-b.Min.Y)*dst.Stride+(x-b.Min.X)] = uint8(sum / n)
		}
	}
	return dst
}

// distortions cycle over the received frames.
var distortions = []struct {
	name string
	f    func(image.Image) image.Image
}{
	{"as rendered", func(i image.Image) image.Image { return i }},
	{"scaled 0.6x", func(i image.Image) image.Image { return scale(i, 0.6) }},
	{"scaled 1.5x", func(i image.Image) image.Image { return scale(i, 1.5) }},
	{"box blur r=1", func(i image.Image) image.Image { return boxBlur(i, 1) }},
	{"scaled 0.6x then blurred", func(i image.Image) image.Image { return boxBlur(scale(i, 0.6), 1) }},
}

func decodePNG(t testing.TB, b []byte) image.Image {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return img
}
