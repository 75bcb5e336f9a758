package qr

import (
	"bytes"
	"image"
	"image/png"
	"testing"
)

// Images from a camera or a folder are outside input: the image decoders
// and the QR detector must never panic or run away on them.
func FuzzDecodeImage(f *testing.F) {
	var small bytes.Buffer
	png.Encode(&small, image.NewGray(image.Rect(0, 0, 8, 8)))
	f.Add(small.Bytes())
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x7f\xff\xff\xff\x7f\xff\xff\xff\x08\x00\x00\x00\x00"))
	f.Add([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := decodeImage(bytes.NewReader(b))
		if err != nil {
			return
		}
		if img.Bounds().Dx()*img.Bounds().Dy() > 1<<16 {
			return // large but legal: the detector's speed is not what is fuzzed here
		}
		_, _ = ReadImage(img)
	})
}
