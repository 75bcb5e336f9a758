package qr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/custodian-hsm/custodian/ceremony/transfer/ur"
)

func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Frames are rendered to PNG, shuffled, a quarter dropped, and every
// received frame resampled or blurred as a camera would; the file still
// arrives byte for byte.
func TestRoundTripThroughImages(t *testing.T) {
	for _, size := range []int{1 << 10, 4 << 10, 16 << 10, 64 << 10} {
		t.Run(fmt.Sprintf("%dKB", size>>10), func(t *testing.T) {
			f := ur.File{Kind: ur.KindSDFile, Name: "sd.json", Data: payload(size, uint64(size))}
			seq, err := NewSequence(f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			order := rand.New(rand.NewPCG(uint64(size), 1)).Perm(len(seq.Parts))
			order = order[:len(order)*3/4] // 25% lost
			r := NewReceiver()
			used, unreadable := 0, 0
			for k, i := range order {
				png, err := seq.PNG(i)
				if err != nil {
					t.Fatal(err)
				}
				d := distortions[k%len(distortions)]
				if err := r.AddImage(d.f(decodePNG(t, png))); err != nil {
					// A camera misses the odd degraded frame; that is
					// what the fountain code is for.
					if !errors.Is(err, ErrNoCode) {
						t.Fatalf("frame %d (%s): %v", i+1, d.name, err)
					}
					unreadable++
					t.Logf("frame %d (%s) unreadable: %v", i+1, d.name, err)
				}
				used++
				if r.Complete() {
					break
				}
			}
			if unreadable*20 > used {
				t.Errorf("%d of %d degraded frames unreadable (over 5%%)", unreadable, used)
			}
			if !r.Complete() {
				t.Fatalf("incomplete after %d of %d frames: %s", used, len(seq.Parts), r.Status())
			}
			got, err := r.File()
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != f.Name || got.Kind != f.Kind || !bytes.Equal(got.Data, f.Data) {
				t.Fatal("received file differs")
			}
			v, _ := seq.Version(0)
			t.Logf("%d bytes: %d fragments, %d frames made, %d decoded (%d unreadable), QR version %d (%d modules)", size, seq.SeqLen, len(seq.Parts), used, unreadable, v, 17+4*v)
		})
	}
}

func TestSmallFileIsOneCode(t *testing.T) {
	f := ur.File{Kind: ur.KindCertificate, Name: "alice.crt", Data: payload(200, 3)}
	seq, err := NewSequence(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(seq.Parts) != 1 || seq.SeqLen != 1 || !strings.HasPrefix(seq.Parts[0], "UR:CUSTODIAN-FILE/") || strings.Count(seq.Parts[0], "/") != 1 {
		t.Fatalf("parts %q", seq.Parts)
	}
}

func TestUppercaseURUsesAlphanumericMode(t *testing.T) {
	f := ur.File{Kind: ur.KindOther, Name: "x", Data: payload(200, 4)}
	seq, _ := NewSequence(f, Options{})
	up, _ := qrcode.New(seq.Parts[0], qrcode.Medium)
	low, _ := qrcode.New(strings.ToLower(seq.Parts[0]), qrcode.Medium)
	if up.VersionNumber >= low.VersionNumber {
		t.Fatalf("upper-case version %d, lower-case %d: alphanumeric mode not used", up.VersionNumber, low.VersionNumber)
	}
}

func TestForeignAndDamagedCodes(t *testing.T) {
	plain, _ := qrcode.New("https://example.com/", qrcode.Medium)
	r := NewReceiver()
	if err := r.AddImage(plain.Image(-4)); !errors.Is(err, ur.ErrNotUR) {
		t.Errorf("URL code: %v, want ErrNotUR", err)
	}
	other, _ := qrcode.New("UR:CRYPTO-SEED/"+strings.ToUpper("hdeymejtswhhylkepmykhhtsytsnoyoyaxaedsuttydmmhhpktpmsrjtgwdpfnsboxgwlbaawzuefywkdplrsrjynbvygabwjldapfcsdwkbrkch"), qrcode.Medium)
	var wt *ur.WrongTypeError
	if err := NewReceiver().AddImage(other.Image(-4)); !errors.As(err, &wt) {
		t.Errorf("foreign type: %v, want WrongTypeError", err)
	}
	blank := image.NewGray(image.Rect(0, 0, 200, 200))
	if err := r.AddImage(blank); !errors.Is(err, ErrNoCode) {
		t.Errorf("blank image: %v, want ErrNoCode", err)
	}
	// A corrupted body (one word changed) fails the Bytewords CRC.
	f := ur.File{Kind: ur.KindOther, Name: "x", Data: payload(100, 5)}
	seq, _ := NewSequence(f, Options{})
	s := []byte(seq.Parts[0])
	if s[len(s)-10] == 'A' {
		s[len(s)-10] = 'E'
	} else {
		s[len(s)-10] = 'A'
	}
	bad, _ := qrcode.New(string(s), qrcode.Medium)
	var mal *ur.MalformedError
	if err := NewReceiver().AddImage(bad.Image(-4)); !errors.As(err, &mal) {
		t.Errorf("corrupt body: %v, want MalformedError", err)
	}
}

func TestWriteDirAndDecodeFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	f := ur.File{Kind: ur.KindExchangeKey, Name: "exchange.jwk", Data: payload(6000, 6)}
	var calls int
	sum, err := WriteDir(dir, f, Options{Progress: func(done, total int) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if calls < sum.Frames {
		t.Errorf("progress called %d times for %d frames", calls, sum.Frames)
	}
	for _, name := range []string{"frame-0001.png", "parts.txt", "page.png", "page.pdf"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	pdf, _ := os.ReadFile(filepath.Join(dir, "page.pdf"))
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Error("page.pdf is not a PDF")
	}
	txt, _ := os.ReadFile(filepath.Join(dir, "parts.txt"))
	if n := strings.Count(string(txt), "\n"); n != sum.Frames {
		t.Errorf("parts.txt has %d lines for %d frames", n, sum.Frames)
	}
	// Never overwrite: a second run into the same directory is refused.
	if _, err := WriteDir(dir, f, Options{}); !errors.Is(err, ErrOutDirNotEmpty) {
		t.Errorf("second WriteDir: %v, want ErrOutDirNotEmpty", err)
	}
	// Read the frames back in reverse order, with a non-image among them.
	var paths []string
	for i := sum.Frames; i >= 1; i-- {
		paths = append(paths, filepath.Join(dir, fmt.Sprintf("frame-%04d.png", i)))
	}
	paths = append([]string{filepath.Join(dir, "parts.txt")}, paths...)
	var skipped []string
	got, err := DecodeFiles(paths, nil, func(e *ImageError) { skipped = append(skipped, e.Path) })
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Data, f.Data) || got.Name != f.Name || got.Kind != f.Kind {
		t.Fatal("decoded file differs")
	}
	if len(skipped) != 1 {
		t.Errorf("skipped %v, want parts.txt only", skipped)
	}
	// Too few frames: a clear "scan more" error.
	if _, err := DecodeFiles(paths[1:3], nil, nil); err == nil || !strings.Contains(err.Error(), "scan more") {
		t.Errorf("too few frames: %v", err)
	}
}

// A fake camera plays rendered frames through the YUYV and MJPEG paths.
type playback struct {
	frames [][]byte
	format uint32
	w, h   int
	i      int
}

func (p *playback) Next(ctx context.Context) (image.Image, error) {
	if p.i >= len(p.frames) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	p.i++
	return FrameToImage(p.format, p.w, p.h, p.frames[p.i-1])
}
func (p *playback) Close() error { return nil }

func TestScannerYUYV(t *testing.T) {
	f := ur.File{Kind: ur.KindCertificate, Name: "c.pem", Data: payload(3000, 8)}
	seq, err := NewSequence(f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pb := &playback{format: FormatYUYV}
	// A frame with no code first, as when the camera starts.
	img0, _ := seq.Image(0)
	blank := image.NewGray(image.Rect(0, 0, (img0.Bounds().Dx()+100)&^1, img0.Bounds().Dy()+60))
	_, _, buf := imageToYUYV(blank)
	pb.frames = append(pb.frames, buf)
	for i := range seq.Parts {
		if i%4 == 1 {
			continue // missed by the camera
		}
		img, _ := seq.Image(i)
		b := img.Bounds()
		cw, ch := (b.Dx()+100)&^1, b.Dy()+60
		pb.w, pb.h = cw, ch
		canvas := image.NewGray(image.Rect(0, 0, cw, ch))
		for j := range canvas.Pix {
			canvas.Pix[j] = 255
		}
		off := image.Pt((cw-b.Dx())/2, (ch-b.Dy())/2)
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				r, _, _, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				canvas.Pix[(y+off.Y)*canvas.Stride+x+off.X] = uint8(r >> 8)
			}
		}
		_, _, buf = imageToYUYV(canvas)
		pb.frames = append(pb.frames, buf)
	}
	var reports int
	sc := &Scanner{Source: pb, Progress: func(ur.Progress) { reports++ }}
	got, err := sc.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Data, f.Data) {
		t.Fatal("scanned file differs")
	}
	if reports == 0 {
		t.Error("no progress reported")
	}
}

func TestScannerCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (&Scanner{Source: &playback{}}).Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestFrameToImageRejectsBadFrames(t *testing.T) {
	if _, err := FrameToImage(FormatYUYV, 640, 480, make([]byte, 100)); err == nil {
		t.Error("short YUYV frame accepted")
	}
	if _, err := FrameToImage(FormatMJPEG, 640, 480, []byte("not a jpeg")); err == nil {
		t.Error("bad MJPEG accepted")
	}
	if _, err := FrameToImage(0x12345678, 640, 480, nil); err == nil {
		t.Error("unknown format accepted")
	}
}

// Byte-mode content comes back byte for byte, even bytes that are not text.
func TestReadImageExactBytes(t *testing.T) {
	for _, content := range [][]byte{
		[]byte("ur:bytes/hdeymejtswhhylkepmykhhtsytsnoyoyaxaedsuttydmmhhpktpmsrjtgwdpfnsboxgwlbaawzuefywkdplrsrjynbvygabwjldapfcsdwkbrkch"),
		{0x00, 0x80, 0xff, 0xfe, 'a', 0xc3, 0x28, 0x0a},
	} {
		q, err := qrcode.New(string(content), qrcode.Medium)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ReadImage(q.Image(-4))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, content) {
			t.Errorf("read % x, want % x", got, content)
		}
	}
}
