package qr

import (
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // camera stills and phone screenshots
	_ "image/png"
	"io"
	"strings"

	"github.com/makiuchi-d/gozxing"
	multiqr "github.com/makiuchi-d/gozxing/multi/qrcode"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	xdraw "golang.org/x/image/draw"

	"github.com/custodian-hsm/custodian/ceremony/transfer/ur"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// ErrNoCode reports an image in which no QR code could be read.
var ErrNoCode = errors.New("qr: no readable QR code in the image (hold the code flat, fill more of the frame, avoid glare)")

// maxImageBytes bounds an image file read from disk.
const maxImageBytes = 64 << 20

// ReadImage finds one QR code in img and returns its content. Byte-mode
// segments are taken byte for byte from the decoder's metadata, never
// re-encoded from text.
func ReadImage(img image.Image) ([]byte, error) {
	res, err := find(img)
	if err != nil {
		// A screen capture or a camera picture of a whole screen holds
		// more than the code: text, icons and window edges can look like
		// finder patterns, and the detector's best three then are not the
		// code's. The multi-code detector tries every plausible triple.
		res, err = findAmong(img)
	}
	if err != nil {
		// Camera captures often land at awkward, fractional pixels per
		// module, where the detector misjudges the symbol's size; the same
		// picture enlarged twice is read reliably.
		b := img.Bounds()
		if b.Dx() <= 2000 && b.Dy() <= 2000 {
			big := image.NewGray(image.Rect(0, 0, 2*b.Dx(), 2*b.Dy()))
			xdraw.BiLinear.Scale(big, big.Bounds(), img, b, xdraw.Src, nil)
			res, err = find(big)
		}
		if err != nil {
			// A screenshot or a flat scan is an exact grid: read it as such.
			res, err = findPure(img)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoCode, err)
		}
	}
	text := res.GetText()
	if segs, ok := res.GetResultMetadata()[gozxing.ResultMetadataType_BYTE_SEGMENTS].([][]byte); ok && len(segs) > 0 {
		var out []byte
		for _, s := range segs {
			out = append(out, s...)
		}
		// When the whole code is byte mode, its bytes are the content,
		// whatever character set the reader guessed for the text.
		if len(out) >= len(text) || !isASCII(text) {
			return out, nil
		}
	}
	// Numeric and alphanumeric segments are ASCII by definition, so for
	// codes made of those (with or without ASCII byte segments) the text
	// is exact.
	return []byte(text), nil
}

func isASCII(t string) bool {
	for i := 0; i < len(t); i++ {
		if t[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Receiver collects UR parts from QR images until a file is complete.
type Receiver struct {
	dec *ur.Decoder
	// Progress, if set, is told after every accepted image.
	Progress func(ur.Progress)
}

// NewReceiver expects a custodian-file (or, for interoperability, a
// plain "bytes") transfer.
func NewReceiver() *Receiver { return &Receiver{dec: ur.NewDecoder("")} }

// AddText feeds one scanned code's content. A UR of a type other than
// custodian-file or bytes is refused at once, not after the whole sequence.
func (r *Receiver) AddText(content []byte) error {
	if t, ok := urType(content); ok && t != ur.TypeFile && t != ur.TypeBytes {
		return &ur.WrongTypeError{Got: t, Want: ur.TypeFile}
	}
	if err := r.dec.Receive(string(content)); err != nil {
		return err
	}
	if r.Progress != nil {
		r.Progress(r.dec.Progress())
	}
	return nil
}

// AddImage reads the code in img and feeds it.
func (r *Receiver) AddImage(img image.Image) error {
	content, err := ReadImage(img)
	if err != nil {
		return err
	}
	return r.AddText(content)
}

// Complete reports whether the whole file has arrived and passed its CRC.
func (r *Receiver) Complete() bool { return r.dec.Complete() }

// Status reports progress so far.
func (r *Receiver) Status() ur.Progress { return r.dec.Progress() }

// File returns the received file once Complete.
func (r *Receiver) File() (ur.File, error) {
	u, err := r.dec.Result()
	if err != nil {
		return ur.File{}, err
	}
	if u.Type != ur.TypeFile && u.Type != ur.TypeBytes {
		return ur.File{}, &ur.WrongTypeError{Got: u.Type, Want: ur.TypeFile}
	}
	return ur.FileFromUR(u)
}

// ImageError names the image file a problem came from.
type ImageError struct {
	Path string
	Err  error
}

func (e *ImageError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *ImageError) Unwrap() error { return e.Err }

// DecodeFiles reads QR images (PNG or JPEG) in any order until the file is
// complete. Images without a readable code and duplicates are skipped (and
// reported through skipped, if set); a code that is a UR of the wrong type
// or a part of a different transfer stops decoding with an error, since it
// means the wrong images were chosen.
func DecodeFiles(paths []string, progress func(ur.Progress), skipped func(*ImageError)) (ur.File, error) {
	r := NewReceiver()
	r.Progress = progress
	for _, p := range paths {
		img, err := loadImage(p)
		if err == nil {
			err = r.AddImage(img)
		}
		if err != nil {
			ie := &ImageError{Path: p, Err: err}
			var wt *ur.WrongTypeError
			if errors.Is(err, ur.ErrInconsistent) || errors.Is(err, ur.ErrChecksum) || errors.As(err, &wt) {
				return ur.File{}, ie
			}
			if skipped != nil {
				skipped(ie)
			}
			continue
		}
		if r.Complete() {
			return r.File()
		}
	}
	return ur.File{}, fmt.Errorf("qr: the %d images are not enough to rebuild the file (%s): scan more frames", len(paths), r.Status())
}

// urType extracts the type of a UR string, if content looks like one.
func urType(content []byte) (string, bool) {
	s := strings.ToLower(string(content))
	rest, ok := strings.CutPrefix(s, "ur:")
	if !ok {
		return "", false
	}
	t, _, ok := strings.Cut(rest, "/")
	return t, ok
}

// maxImagePixels bounds a decoded image (a PNG can claim any size).
const maxImagePixels = 64 << 20

func loadImage(path string) (image.Image, error) {
	fh, _, err := safefile.OpenInput(path, maxImageBytes)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return decodeImage(fh)
}

// decodeImage decodes a PNG or JPEG after checking its claimed size.
func decodeImage(fh io.ReadSeeker) (image.Image, error) {
	cfg, _, err := image.DecodeConfig(fh)
	if err != nil {
		return nil, fmt.Errorf("qr: not a PNG or JPEG image: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return nil, fmt.Errorf("qr: image is %d×%d pixels, over the %d-pixel limit", cfg.Width, cfg.Height, maxImagePixels)
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(fh)
	if err != nil {
		return nil, fmt.Errorf("qr: not a PNG or JPEG image: %w", err)
	}
	return img, nil
}

func find(img image.Image) (*gozxing.Result, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return nil, err
	}
	hints := map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_TRY_HARDER: true}
	return zxqr.NewQRCodeReader().Decode(bmp, hints)
}

// findAmong reads the first code the multi-code detector finds.
func findAmong(img image.Image) (*gozxing.Result, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return nil, err
	}
	hints := map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_TRY_HARDER: true}
	results, err := multiqr.NewQRCodeMultiReader().DecodeMultiple(bmp, hints)
	if err != nil {
		return nil, err
	}
	if len(results) == 0 {
		return nil, errors.New("no code found")
	}
	return results[0], nil
}

func findPure(img image.Image) (*gozxing.Result, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return nil, err
	}
	hints := map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true}
	return zxqr.NewQRCodeReader().Decode(bmp, hints)
}
