package ceremony

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"image"
	"image/color"
	mrand "math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	xdraw "golang.org/x/image/draw"

	"github.com/custodian-hsm/custodian/ceremony/transfer/camera"
	"github.com/custodian-hsm/custodian/ceremony/transfer/filekind"
	"github.com/custodian-hsm/custodian/ceremony/transfer/qr"
	"github.com/custodian-hsm/custodian/ceremony/transfer/ur"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// cameraView renders a frame as a camera pointed at a screen sees it: the
// symbol resampled at a fractional scale (bilinear), on a white screen
// inside a dark bezel, with sensor noise. Nothing here is an exact grid.
func cameraView(sym qr.Symbol, rng *mrand.Rand) *image.Gray {
	exact := image.NewRGBA(image.Rect(0, 0, sym.Size, sym.Size))
	sym.Draw(exact, 1, color.White)
	frame := image.NewGray(image.Rect(0, 0, 640, 480))
	for i := range frame.Pix {
		frame.Pix[i] = 40 // bezel
	}
	screen := image.Rect(60, 20, 580, 460)
	for y := screen.Min.Y; y < screen.Max.Y; y++ {
		for x := screen.Min.X; x < screen.Max.X; x++ {
			frame.Pix[y*frame.Stride+x] = 235
		}
	}
	side := 460 // whatever the version: a fractional number of pixels a module
	code := image.Rect(320-side/2, 240-side/2, 320+side/2, 240+side/2)
	xdraw.BiLinear.Scale(frame, code, exact, exact.Bounds(), xdraw.Over, nil)
	for i, v := range frame.Pix {
		n := int(v) + rng.IntN(9) - 4
		frame.Pix[i] = uint8(min(255, max(0, n)))
	}
	return frame
}

// playback is a camera that shows a prepared list of frames, then repeats
// them, as a transmitter loops over its sequence.
type playback struct {
	frames []*image.Gray
	i      int
	err    error // returned once the frames have been shown once
}

func (p *playback) Next(ctx context.Context) (*image.Gray, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p.i == len(p.frames) && p.err != nil {
		return nil, p.err
	}
	f := p.frames[p.i%len(p.frames)]
	p.i++
	return f, nil
}

// framesOf renders the sequence of a file as the camera sees it, a quarter
// of the frames lost, a frame with no code first and a code of another
// transfer in the middle.
func framesOf(t *testing.T, f ur.File) []*image.Gray {
	t.Helper()
	seq, err := qr.NewSequence(f, qr.Options{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := qr.NewSequence(ur.File{Kind: ur.KindOther, Name: "other.txt", Data: []byte("a single code of another file")}, qr.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	blank := image.NewGray(image.Rect(0, 0, 640, 480))
	frames := []*image.Gray{blank}
	for i, sym := range seq.Symbols {
		if i%4 == 1 {
			continue // lost: the camera looked while the screen changed
		}
		frames = append(frames, cameraView(sym, rng))
		if i == len(seq.Symbols)/3 || i == len(seq.Symbols)/2 {
			frames = append(frames, cameraView(other.Symbols[0], rng))
		}
	}
	return frames
}

func TestQRScanReceivesAFileFromCameraFrames(t *testing.T) {
	data, err := os.ReadFile(testvectors.Path(t, "sd-3of2", "sd.json"))
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := qr.FileFor("sd.json", data)
	if err != nil {
		t.Fatal(err)
	}
	src := &playback{frames: framesOf(t, f)}
	var reports []QRScanProgress
	var previews int
	scan := QRScan{
		Progress: func(p QRScanProgress) { reports = append(reports, p) },
		Preview: func(g *image.Gray) {
			previews++
			if g.Rect.Dx() > 320 || g.Rect.Dy() > 320 {
				t.Errorf("preview of %v", g.Rect)
			}
		},
	}
	got, err := scan.Run(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "sd.json" || !bytes.Equal(got.Data, data) {
		t.Fatalf("received %q, %d bytes", got.Name, len(got.Data))
	}
	if got.Kind.Kind != filekind.SecurityDomain || got.Fingerprint != fingerprint.Of(data) {
		t.Errorf("checked as %v, %v", got.Kind, got.Fingerprint)
	}
	if previews != got.Frames || got.Frames < 2 {
		t.Errorf("%d previews of %d frames", previews, got.Frames)
	}
	last, refused := reports[len(reports)-1], false
	for i, p := range reports {
		refused = refused || p.Refused != nil
		if i > 0 && p.Parts < reports[i-1].Parts {
			t.Errorf("progress went back: %v after %v", p, reports[i-1])
		}
	}
	if !refused {
		t.Error("the other transfer's code was not reported as refused")
	}
	if last.Needed == 0 || last.Parts == 0 || !strings.Contains(last.String(), "of") {
		t.Errorf("last progress: %+v %q", last, last)
	}
	t.Logf("%d bytes in %d frames (%d shown), %v; last progress %q", len(data), got.Frames, len(src.frames), got.Elapsed, last)
}

func TestQRScanTimesOutWithoutACode(t *testing.T) {
	blank := image.NewGray(image.Rect(0, 0, 320, 240))
	start := time.Now()
	_, err := QRScan{Timeout: 300 * time.Millisecond}.Run(context.Background(), &playback{frames: []*image.Gray{blank}})
	if !errors.Is(err, ErrScanTimeout) || !strings.Contains(err.Error(), "no code of a file yet") {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the scan took %v to time out", d)
	}
}

func TestQRScanStopsWhenCancelledOrTheCameraFails(t *testing.T) {
	blank := image.NewGray(image.Rect(0, 0, 320, 240))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err := QRScan{}.Run(ctx, &playback{frames: []*image.Gray{blank}})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrScanTimeout) {
		t.Errorf("cancelled: %v", err)
	}
	gone := &camera.DeviceError{Path: "/dev/video0", Op: "VIDIOC_DQBUF", Err: errors.New("no such device")}
	_, err = QRScan{}.Run(context.Background(), &playback{frames: []*image.Gray{blank}, err: gone})
	var de *camera.DeviceError
	if !errors.As(err, &de) {
		t.Errorf("camera failure: %v", err)
	}
}

// A private key never comes in, even if another machine shows one.
func TestQRScanRefusesAPrivateKey(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	f := ur.File{Kind: ur.KindOther, Name: "key.pem", Data: pemKey}
	_, err = QRScan{}.Run(context.Background(), &playback{frames: framesOf(t, f)})
	if !errors.Is(err, qr.ErrPrivateKey) {
		t.Fatalf("got %v", err)
	}
}
