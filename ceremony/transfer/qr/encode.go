package qr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/custodian-hsm/custodian/ceremony/transfer/ur"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// Defaults chosen so a 16 KB SD file crosses in under 15 s at 8 frames per
// second with a quarter of the frames lost (BenchmarkTransfer: 55 fragments,
// about 89 frames shown on average, 115 at worst over 40 trials): 300-byte
// fragments make version 16-17 codes (81-85 modules a side) at level M,
// 6 pixels per module, about 510 px with the quiet zone. 250-byte
// fragments (version 15) were 13 s on average but 15.1 s at worst.
//
// DefaultScreenFragmentBytes is the GUI transmitter's: a screen draws
// whole pixels per module at any size, so it affords denser codes than
// the PNG frames a camera may see at 0.6x. A 20 KB file from screen
// captures of the transmitter (app/gui BenchmarkQRTransfer20KB, 1024x768,
// a random start in the loop, 25 % of frames lost) takes 12.7 s on average
// at 350 bytes (59 fragments, version 18-19, 4 px a module in the window,
// 9 in full screen at 1280x1024) and 15.0 s at 300.
const (
	DefaultFragmentBytes = 300
	DefaultFPS           = 8
	DefaultModulePixels  = 6
	DefaultPageFrames    = 12

	DefaultScreenFragmentBytes = 350
)

// Level is the QR error-correction level.
type Level int

// Error-correction levels: L recovers ~7% damage, M ~15%, Q ~25%, H ~30%.
const (
	LevelM Level = iota // the default
	LevelL
	LevelQ
	LevelH
)

// ParseLevel reads "L", "M", "Q" or "H".
func ParseLevel(s string) (Level, error) {
	switch strings.ToUpper(s) {
	case "L":
		return LevelL, nil
	case "M":
		return LevelM, nil
	case "Q":
		return LevelQ, nil
	case "H":
		return LevelH, nil
	}
	return 0, fmt.Errorf("qr: error-correction level %q is not one of L, M, Q, H", s)
}

func (l Level) String() string { return [...]string{"M", "L", "Q", "H"}[l] }

func (l Level) recovery() qrcode.RecoveryLevel {
	return [...]qrcode.RecoveryLevel{qrcode.Medium, qrcode.Low, qrcode.High, qrcode.Highest}[l]
}

// Options control how a file is turned into frames. Zero values mean the
// defaults.
type Options struct {
	FragmentBytes int     // largest fragment per frame (density)
	FPS           float64 // frames per second when animated
	Level         Level
	ModulePixels  int // pixels per QR module
	// Frames is how many frames to produce for an animated sequence; 0
	// means twice the number of fragments plus ten, enough for a receiver
	// that misses a quarter of the frames (a viewer loops over them).
	Frames     int
	PageFrames int // frames on the printable page
	// Progress, if set, is called after each frame is made.
	Progress func(done, total int)
	// Context, if set, stops NewSequence early (a screen that is left or
	// given another file stops building the old one's frames).
	Context context.Context
}

func (o Options) withDefaults() Options {
	if o.FragmentBytes <= 0 {
		o.FragmentBytes = DefaultFragmentBytes
	}
	if o.FPS <= 0 {
		o.FPS = DefaultFPS
	}
	if o.ModulePixels <= 0 {
		o.ModulePixels = DefaultModulePixels
	}
	if o.PageFrames <= 0 {
		o.PageFrames = DefaultPageFrames
	}
	return o
}

// Sequence is the list of UR parts, upper-cased, one per frame.
type Sequence struct {
	Parts  []string
	SeqLen int // number of pure fragments (1 for a single code)
	// Skipped counts generated parts left out because their symbol did
	// not read back.
	Skipped int
	Level   Level
	// Symbols are the frames' modules (Symbols[i] is Parts[i]), kept from
	// the read-back check so a screen redraws them without re-encoding.
	Symbols []Symbol
	opts    Options
}

// MaxModulePixels bounds the PNG scale: a version 40 symbol (177 modules
// and the quiet zone) at 20 pixels a module is already about 3700 pixels
// wide, far beyond any screen; more only exhausts memory.
const MaxModulePixels = 20

// MaxFrames bounds an animated sequence: a 10 MiB payload at the densest
// fragment size is about 7500 fragments, and a runaway count would only
// fill the disk.
const MaxFrames = 20000

// MaxFragmentBytes bounds the density: beyond this a frame would need a QR
// version above 40.
const MaxFragmentBytes = 1400

// NewSequence prepares the frames for f.
func NewSequence(f ur.File, opts Options) (*Sequence, error) {
	opts = opts.withDefaults()
	if opts.FragmentBytes < 20 || opts.FragmentBytes > MaxFragmentBytes {
		return nil, fmt.Errorf("qr: fragment size %d bytes is outside 20..%d", opts.FragmentBytes, MaxFragmentBytes)
	}
	if opts.ModulePixels > MaxModulePixels {
		return nil, fmt.Errorf("qr: %d pixels per module is outside 1..%d", opts.ModulePixels, MaxModulePixels)
	}
	if opts.Frames > MaxFrames {
		return nil, fmt.Errorf("qr: %d frames is outside 0..%d", opts.Frames, MaxFrames)
	}
	if math.IsNaN(opts.FPS) || math.IsInf(opts.FPS, 0) || opts.FPS < 0 || opts.FPS > 60 {
		return nil, fmt.Errorf("qr: %v frames per second is outside 0..60", opts.FPS)
	}
	u, err := ur.FileUR(f)
	if err != nil {
		return nil, err
	}
	enc, err := ur.NewEncoder(u, opts.FragmentBytes)
	if err != nil {
		return nil, err
	}
	n := 1
	if !enc.SinglePart() {
		n = opts.Frames
		if n <= 0 {
			n = 2*enc.SeqLen() + 10
		}
		n = max(n, enc.SeqLen())
	}
	s := &Sequence{SeqLen: enc.SeqLen(), Level: opts.Level, opts: opts}
	if enc.SinglePart() {
		// One code must be readable: if the chosen level happens to give a
		// symbol the detector stumbles on, another level gives a different
		// symbol.
		part := strings.ToUpper(enc.NextPart())
		var sym Symbol
		for _, l := range append([]Level{opts.Level}, LevelQ, LevelL, LevelH, LevelM) {
			s.Level = l
			ok, err := s.readable(part, &sym)
			if err != nil {
				return nil, err
			} else if ok {
				break
			}
		}
		s.Parts, s.Symbols = []string{part}, []Symbol{sym}
		return s, nil
	}
	// A fountain stream is endless, so a part whose symbol the detector
	// cannot find (about one in a hundred, depending on the data pattern)
	// is simply replaced by the next one.
	for len(s.Parts) < n {
		if opts.Context != nil && opts.Context.Err() != nil {
			return nil, opts.Context.Err()
		}
		part := strings.ToUpper(enc.NextPart())
		var sym Symbol
		ok, err := s.readable(part, &sym)
		if err != nil {
			return nil, err
		}
		if !ok {
			s.Skipped++
			if s.Skipped > n {
				return nil, errors.New("qr: most frames fail the read-back check: choose another fragment size or level")
			}
			continue
		}
		s.Parts = append(s.Parts, part)
		s.Symbols = append(s.Symbols, sym)
		if opts.Progress != nil {
			opts.Progress(len(s.Parts), n)
		}
	}
	return s, nil
}

// readable renders part small and checks the detector finds and decodes
// it; the symbol it made is left in sym.
func (s *Sequence) readable(part string, sym *Symbol) (bool, error) {
	q, err := qrcode.New(part, s.Level.recovery())
	if err != nil {
		return false, fmt.Errorf("qr: a frame does not fit in a QR code at level %s (%d characters): use smaller fragments or a lower level: %w", s.Level, len(part), err)
	}
	// The plain detector, without ReadImage's fallbacks: a camera gets
	// no second chance.
	res, err := find(q.Image(-3))
	*sym = newSymbol(q)
	return err == nil && res.GetText() == part, nil
}

// Code builds the QR symbol for frame i.
func (s *Sequence) Code(i int) (*qrcode.QRCode, error) {
	q, err := qrcode.New(s.Parts[i], s.Level.recovery())
	if err != nil {
		return nil, fmt.Errorf("qr: frame %d does not fit in a QR code at level %s (%d characters): use smaller fragments or a lower level: %w", i+1, s.Level, len(s.Parts[i]), err)
	}
	return q, nil
}

// Image renders frame i with a 4-module quiet zone.
func (s *Sequence) Image(i int) (image.Image, error) {
	q, err := s.Code(i)
	if err != nil {
		return nil, err
	}
	return q.Image(-s.opts.ModulePixels), nil
}

// PNG renders frame i as PNG bytes.
func (s *Sequence) PNG(i int) ([]byte, error) {
	img, err := s.Image(i)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Version reports the QR version of frame i (1..40; modules per side is
// 17 + 4×version).
func (s *Sequence) Version(i int) (int, error) {
	q, err := s.Code(i)
	if err != nil {
		return 0, err
	}
	return q.VersionNumber, nil
}

// Summary describes what WriteDir wrote.
type Summary struct {
	Frames  int
	SeqLen  int
	Version int // largest QR version among the frames
	Modules int // its modules per side
	Seconds float64
	Files   []string
}

// ErrOutDirNotEmpty is returned when the output directory already has files.
var ErrOutDirNotEmpty = errors.New("qr: output directory is not empty: choose a new or empty directory so no earlier frames are mixed in")

// WriteDir writes frame-0001.png…, parts.txt (the UR strings, one per line,
// for copying by hand or a keyboard-wedge scanner), page.png and page.pdf
// (the first PageFrames frames with captions) into dir, which must be
// missing or empty.
func WriteDir(dir string, f ur.File, opts Options) (*Summary, error) {
	opts = opts.withDefaults()
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrOutDirNotEmpty, dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("qr: reading output directory: %w", err)
	}
	// The frames are written into a staging folder next to dir and moved
	// into place together: a full disk or a kill leaves no partial set
	// that a receiver could half-read.
	stage, err := safefile.Stage(dir)
	if err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	defer stage.Abort()
	// Progress runs over two passes: making (and read-checking) the
	// frames, then writing them.
	seqOpts := opts
	if opts.Progress != nil {
		seqOpts.Progress = func(done, n int) { opts.Progress(done, 2*n+3) }
	}
	s, err := NewSequence(f, seqOpts)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Frames: len(s.Parts), SeqLen: s.SeqLen, Seconds: float64(len(s.Parts)) / opts.FPS}
	total := 2*len(s.Parts) + 3
	images := make([]image.Image, 0, min(len(s.Parts), opts.PageFrames))
	for i := range s.Parts {
		q, err := s.Code(i)
		if err != nil {
			return nil, err
		}
		if q.VersionNumber > sum.Version {
			sum.Version, sum.Modules = q.VersionNumber, 17+4*q.VersionNumber
		}
		img := q.Image(-opts.ModulePixels)
		if len(images) < opts.PageFrames {
			images = append(images, img)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return nil, err
		}
		name := filepath.Join(stage.Path(), fmt.Sprintf("frame-%04d.png", i+1))
		if err := safefile.Write(name, buf.Bytes()); err != nil {
			return nil, err
		}
		sum.Files = append(sum.Files, filepath.Join(dir, filepath.Base(name)))
		if opts.Progress != nil {
			opts.Progress(len(s.Parts)+i+1, total)
		}
	}
	text := strings.Join(s.Parts, "\n") + "\n"
	name := filepath.Join(stage.Path(), "parts.txt")
	if err := safefile.Write(name, []byte(text)); err != nil {
		return nil, err
	}
	sum.Files = append(sum.Files, filepath.Join(dir, filepath.Base(name)))
	captions := make([]string, len(images))
	for i := range images {
		captions[i] = caption(f, s, i)
	}
	pagePNG, err := pagePNG(images, captions, f)
	if err != nil {
		return nil, err
	}
	name = filepath.Join(stage.Path(), "page.png")
	if err := safefile.Write(name, pagePNG); err != nil {
		return nil, err
	}
	sum.Files = append(sum.Files, filepath.Join(dir, filepath.Base(name)))
	pdf, err := pagePDF(images, captions, f, s)
	if err != nil {
		return nil, err
	}
	name = filepath.Join(stage.Path(), "page.pdf")
	if err := safefile.Write(name, pdf); err != nil {
		return nil, err
	}
	sum.Files = append(sum.Files, filepath.Join(dir, filepath.Base(name)))
	if err := stage.Commit(); err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	if opts.Progress != nil {
		opts.Progress(total, total)
	}
	return sum, nil
}

func caption(f ur.File, s *Sequence, i int) string {
	if s.SeqLen == 1 {
		return fmt.Sprintf("%s (%s) - single code", f.Name, f.Kind)
	}
	return fmt.Sprintf("frame %d of %d (%d fragments) - %s", i+1, len(s.Parts), s.SeqLen, f.Name)
}
