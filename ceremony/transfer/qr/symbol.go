package qr

import (
	"image"
	"image/color"

	qrcode "github.com/skip2/go-qrcode"
)

// QuietZone is the white margin around every symbol, in modules: ISO/IEC
// 18004 asks for 4, and detectors look for it to find the finder patterns.
const QuietZone = 4

// Symbol is one frame's modules, quiet zone included, encoded once so a
// screen can redraw it at any size without running the QR encoder again.
type Symbol struct {
	Size int    // modules per side, quiet zone included
	dark []bool // row-major, Size×Size
}

func newSymbol(q *qrcode.QRCode) Symbol {
	q.DisableBorder = false // go-qrcode's border is the 4-module quiet zone
	bm := q.Bitmap()
	s := Symbol{Size: len(bm), dark: make([]bool, 0, len(bm)*len(bm))}
	for _, row := range bm {
		s.dark = append(s.dark, row...)
	}
	return s
}

// Dark reports whether module (x, y) is dark.
func (s Symbol) Dark(x, y int) bool { return s.dark[y*s.Size+x] }

// ModulePixels is the largest whole number of pixels per module at which
// the symbol fits in w×h pixels (0 if it does not fit at one pixel).
func (s Symbol) ModulePixels(w, h int) int {
	if s.Size == 0 {
		return 0
	}
	return min(w, h) / s.Size
}

// Draw paints the symbol into dst at k pixels per module, centred on a
// whole-pixel offset, and fills the rest of dst with bg. Every module is
// exactly k×k pixels: no resampling, so the detector sees the exact grid
// the encoder made. It returns where the symbol (quiet zone included) is.
func (s Symbol) Draw(dst *image.RGBA, k int, bg color.Color) image.Rectangle {
	b := dst.Bounds()
	fill(dst, b, bg)
	if k <= 0 || s.Size == 0 {
		return image.Rectangle{}
	}
	side := k * s.Size
	x0 := b.Min.X + (b.Dx()-side)/2
	y0 := b.Min.Y + (b.Dy()-side)/2
	r := image.Rect(x0, y0, x0+side, y0+side).Intersect(b)
	// One pixel row per module row, copied k times.
	row := make([]byte, 4*side)
	for my := 0; my < s.Size; my++ {
		for mx := 0; mx < s.Size; mx++ {
			v := byte(0xff)
			if s.Dark(mx, my) {
				v = 0
			}
			px := row[4*k*mx : 4*k*(mx+1)]
			for i := 0; i < len(px); i += 4 {
				px[i], px[i+1], px[i+2], px[i+3] = v, v, v, 0xff
			}
		}
		for dy := 0; dy < k; dy++ {
			y := y0 + my*k + dy
			if y < b.Min.Y || y >= b.Max.Y {
				continue
			}
			lo, hi := max(x0, b.Min.X), min(x0+side, b.Max.X)
			if lo >= hi {
				continue
			}
			copy(dst.Pix[dst.PixOffset(lo, y):], row[4*(lo-x0):4*(hi-x0)])
		}
	}
	return r
}

func fill(dst *image.RGBA, r image.Rectangle, c color.Color) {
	cr, cg, cb, ca := c.RGBA()
	px := [4]byte{byte(cr >> 8), byte(cg >> 8), byte(cb >> 8), byte(ca >> 8)}
	if r.Empty() {
		return
	}
	first := dst.Pix[dst.PixOffset(r.Min.X, r.Min.Y) : dst.PixOffset(r.Max.X-1, r.Min.Y)+4]
	for i := 0; i < len(first); i += 4 {
		copy(first[i:i+4], px[:])
	}
	for y := r.Min.Y + 1; y < r.Max.Y; y++ {
		copy(dst.Pix[dst.PixOffset(r.Min.X, y):], first)
	}
}
