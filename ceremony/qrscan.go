package ceremony

import (
	"context"
	"errors"
	"fmt"
	"image"
	"time"

	"github.com/custodian-hsm/custodian/ceremony/transfer/camera"
	"github.com/custodian-hsm/custodian/ceremony/transfer/filekind"
	"github.com/custodian-hsm/custodian/ceremony/transfer/qr"
	"github.com/custodian-hsm/custodian/ceremony/transfer/ur"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
)

// GrayFrames is a camera as the QR scan sees it: camera.Camera, or frames
// rendered for a test. The image may be reused by the next call.
type GrayFrames interface {
	Next(ctx context.Context) (*image.Gray, error)
}

// QRScan receives one file from an animated QR sequence held up to a
// camera, inside the ceremony step that needs the file. It is the same for
// the GUI and the CLI: frames go to the QR decoder, codes to the UR
// fountain receiver, and the file that comes out is checked as any other
// input is (what it is, its SHA-256 and words; never a private key).
type QRScan struct {
	// Timeout bounds the whole scan (default 10 minutes): a camera pointed
	// at nothing must not hold a ceremony step open for ever.
	Timeout time.Duration
	// Progress, if set, is told after each frame, each new part and each
	// code refused.
	Progress func(QRScanProgress)
	// Preview, if set, gets a copy of every frame no larger than
	// PreviewSize pixels (default 320), for a live picture.
	Preview     func(*image.Gray)
	PreviewSize int
}

// QRScanProgress is how far a scan has got.
type QRScanProgress struct {
	Frames    int     // camera frames looked at
	Parts     int     // distinct parts received
	Needed    int     // fragments of the file (0 until the first part)
	Recovered int     // fragments recovered so far ("Recovered of Needed")
	Estimate  float64 // fraction complete, 0..1
	Refused   error   // the last code refused (another transfer, a damaged code), if any
}

func (p QRScanProgress) String() string {
	if p.Needed == 0 {
		return fmt.Sprintf("%d frames looked at, no code of a file yet: fill the camera's view with the code", p.Frames)
	}
	return fmt.Sprintf("%d of %d parts (%.0f %%), %d frames looked at", p.Recovered, p.Needed, 100*p.Estimate, p.Frames)
}

// ScannedFile is a file received by camera, with what it was checked to be.
type ScannedFile struct {
	Name        string
	Data        []byte
	Kind        filekind.Result
	Fingerprint fingerprint.Fingerprint
	Frames      int
	Elapsed     time.Duration
}

// ErrScanTimeout reports a scan that did not complete in QRScan.Timeout.
var ErrScanTimeout = errors.New("no complete file came through the camera in time: hold the camera steady, closer to the code, and scan again (or lower the sender's speed or density)")

// Run reads frames until the file is complete, ctx ends, the timeout
// passes, or the camera fails. The caller owns src and closes it.
func (s QRScan) Run(ctx context.Context, src GrayFrames) (ScannedFile, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, ErrScanTimeout)
	defer cancel()
	start := time.Now()
	fs := &scanFrames{src: src, scan: s}
	sc := qr.Scanner{
		Source:   fs,
		Progress: func(p ur.Progress) { fs.parts = p; fs.report(nil) },
		Rejected: func(err error) { fs.report(err) },
	}
	f, err := sc.Run(ctx)
	if err != nil {
		if context.Cause(ctx) == ErrScanTimeout {
			return ScannedFile{}, fmt.Errorf("%w (%s in %v)", ErrScanTimeout, fs.progress(), timeout)
		}
		return ScannedFile{}, err
	}
	return checkScanned(f, fs.frames, time.Since(start))
}

// checkScanned applies the checks every file input gets.
func checkScanned(f ur.File, frames int, elapsed time.Duration) (ScannedFile, error) {
	det := filekind.Detect(f.Data)
	if det.Kind == filekind.PrivateKey {
		return ScannedFile{}, fmt.Errorf("the scanned file %q: %w", f.Name, qr.ErrPrivateKey)
	}
	return ScannedFile{Name: f.Name, Data: f.Data, Kind: det, Fingerprint: fingerprint.Of(f.Data), Frames: frames, Elapsed: elapsed}, nil
}

// scanFrames counts frames and makes the preview on the way to the decoder.
type scanFrames struct {
	src    GrayFrames
	scan   QRScan
	frames int
	parts  ur.Progress
}

func (f *scanFrames) Next(ctx context.Context) (image.Image, error) {
	img, err := f.src.Next(ctx)
	if err != nil {
		return nil, err
	}
	f.frames++
	f.report(nil)
	if f.scan.Preview != nil {
		size := f.scan.PreviewSize
		if size <= 0 {
			size = 320
		}
		f.scan.Preview(camera.Downscale(img, size))
	}
	return img, nil
}

// Close does nothing: the caller owns the camera.
func (f *scanFrames) Close() error { return nil }

func (f *scanFrames) progress() QRScanProgress {
	return QRScanProgress{Frames: f.frames, Parts: f.parts.Parts, Needed: f.parts.Total, Recovered: f.parts.Fragments, Estimate: f.parts.Estimate}
}

func (f *scanFrames) report(refused error) {
	if f.scan.Progress != nil {
		p := f.progress()
		p.Refused = refused
		f.scan.Progress(p)
	}
}
