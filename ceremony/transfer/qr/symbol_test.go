package qr

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony/transfer/ur"
)

// A symbol drawn at k pixels per module is exactly the encoder's own
// image at that scale (quiet zone of 4 modules included), centred on a
// whole pixel, and it reads back.
func TestSymbolDrawIsTheExactGrid(t *testing.T) {
	seq, err := NewSequence(ur.File{Kind: ur.KindOther, Name: "x", Data: payload(3000, 3)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(seq.Symbols) != len(seq.Parts) {
		t.Fatalf("%d symbols for %d parts", len(seq.Symbols), len(seq.Parts))
	}
	sym := seq.Symbols[2]
	q, _ := seq.Code(2)
	if want := 17 + 4*q.VersionNumber + 2*QuietZone; sym.Size != want {
		t.Fatalf("symbol is %d modules a side, want %d (quiet zone of %d)", sym.Size, want, QuietZone)
	}
	for _, k := range []int{1, 3, 6} {
		w, h := sym.Size*k+37, sym.Size*k+10 // room around it, odd on purpose
		dst := image.NewRGBA(image.Rect(0, 0, w, h))
		r := sym.Draw(dst, k, color.RGBA{R: 200, A: 255})
		if r.Dx() != sym.Size*k || r.Min.X != 18 || r.Min.Y != 5 {
			t.Fatalf("k=%d: symbol drawn at %v", k, r)
		}
		ref := q.Image(-k)
		for y := 0; y < r.Dy(); y++ {
			for x := 0; x < r.Dx(); x++ {
				g := dst.RGBAAt(r.Min.X+x, r.Min.Y+y)
				rr, _, _, _ := ref.At(x, y).RGBA()
				if (g.R == 0) != (rr == 0) || g.R != g.G {
					t.Fatalf("k=%d: pixel (%d,%d) differs from the encoder's image", k, x, y)
				}
			}
		}
		if got := dst.RGBAAt(0, 0); got.R != 200 {
			t.Errorf("k=%d: outside the symbol is %v, want the background", k, got)
		}
		if k > 1 {
			content, err := ReadImage(dst)
			if err != nil || !bytes.Equal(content, []byte(seq.Parts[2])) {
				t.Errorf("k=%d: drawn symbol does not read back: %v", k, err)
			}
		}
	}
	if got := sym.ModulePixels(6*sym.Size+5, 10*sym.Size); got != 6 {
		t.Errorf("ModulePixels = %d, want 6", got)
	}
}

// A cancelled context stops NewSequence before it has made every frame.
func TestNewSequenceStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err := NewSequence(ur.File{Kind: ur.KindOther, Name: "x", Data: payload(20000, 4)}, Options{
		Context:  ctx,
		Progress: func(done, total int) { n = done; cancel() },
	})
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatalf("err %v after %d frames, want context.Canceled after 1", err, n)
	}
}

// A capture of the whole transmitter window (1024x768, Fyne's software
// painter) on which the single-code detector picks the wrong finder
// patterns among the window's text and icons: ReadImage still reads it.
func TestReadImageWholeWindowCapture(t *testing.T) {
	img, err := loadImage("testdata/screen-1024x768-clutter.png")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := find(img); err == nil {
		t.Log("the plain detector reads this capture now; the fallback is not exercised")
	}
	content, err := ReadImage(img)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(content, []byte("UR:CUSTODIAN-FILE/")) {
		t.Errorf("read %.40q, not a Custodian file part", content)
	}
}
