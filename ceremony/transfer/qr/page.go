package qr

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/custodian-hsm/custodian/ceremony/transfer/ur"
)

// The printable page lets a receiver scan the frames off paper, one by one,
// when no second screen is at hand.

const pageColumns = 3

func title(f ur.File) string {
	sum := sha256.Sum256(f.Data)
	return fmt.Sprintf("%s  (%s, %d bytes)  SHA-256 %s", f.Name, f.Kind, len(f.Data), hex.EncodeToString(sum[:]))
}

func pagePNG(images []image.Image, captions []string, f ur.File) ([]byte, error) {
	cell := 0
	for _, img := range images {
		cell = max(cell, img.Bounds().Dx(), img.Bounds().Dy())
	}
	const captionH, titleH, margin = 20, 30, 20
	cols := min(pageColumns, len(images))
	rows := (len(images) + pageColumns - 1) / pageColumns
	w := max(2*margin+cols*cell, 2*margin+7*len(title(f)))
	h := 2*margin + titleH + rows*(cell+captionH)
	page := image.NewGray(image.Rect(0, 0, w, h))
	draw.Draw(page, page.Bounds(), image.White, image.Point{}, draw.Src)
	d := &font.Drawer{Dst: page, Src: image.NewUniform(color.Black), Face: basicfont.Face7x13}
	d.Dot = fixed.P(margin, margin+13)
	d.DrawString(title(f))
	for i, img := range images {
		x := margin + (i%pageColumns)*cell
		y := margin + titleH + (i/pageColumns)*(cell+captionH)
		draw.Draw(page, img.Bounds().Add(image.Pt(x, y)), img, img.Bounds().Min, draw.Src)
		d.Dot = fixed.P(x+8, y+cell+13)
		d.DrawString(captions[i])
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, page); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func pagePDF(images []image.Image, captions []string, f ur.File, s *Sequence) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetMargins(12, 12, 12)
	pdf.SetAutoPageBreak(false, 12)
	const size, gap, capH = 58.0, 4.0, 6.0
	perPage := pageColumns * 4
	for i, img := range images {
		if i%perPage == 0 {
			pdf.AddPage()
			pdf.SetFont("Helvetica", "B", 10)
			pdf.Text(12, 14, fmt.Sprintf("Custodian QR transfer: %s (%s, %d bytes)", f.Name, f.Kind, len(f.Data)))
			sum := sha256.Sum256(f.Data)
			pdf.SetFont("Courier", "", 8)
			pdf.Text(12, 19, "SHA-256 "+hex.EncodeToString(sum[:]))
			if s.SeqLen > 1 {
				pdf.Text(12, 23, fmt.Sprintf("Scan frames in any order until the reader reports completion (%d fragments).", s.SeqLen))
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return nil, err
		}
		name := fmt.Sprintf("frame%d", i)
		pdf.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "PNG"}, &buf)
		k := i % perPage
		x := 12 + float64(k%pageColumns)*(size+gap)
		y := 28 + float64(k/pageColumns)*(size+capH+gap)
		pdf.ImageOptions(name, x, y, size, size, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
		pdf.SetFont("Helvetica", "", 7)
		pdf.Text(x+2, y+size+3.5, captions[i])
	}
	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		return nil, fmt.Errorf("qr: making the printable PDF: %w", err)
	}
	return out.Bytes(), nil
}
