//go:build linux && (amd64 || arm64 || riscv64)

package ceremony

import (
	"bytes"
	"context"
	"flag"
	"image"
	"image/color"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/ceremony/transfer/camera"
	"github.com/custodian-hsm/custodian/ceremony/transfer/qr"
	"github.com/custodian-hsm/custodian/ceremony/transfer/ur"
	"github.com/custodian-hsm/custodian/internal/testinfra/v4l2loop"
)

var vividDir = flag.String("vivid", "", "folder of vivid's video nodes (e.g. /dev): scan QR frames through a V4L2 loopback (see internal/testinfra/v4l2loop)")

// The whole camera path on a real V4L2 driver: the kernel's vivid driver
// loops what is written to its output back to its capture device, package
// camera lists and opens that device (QUERYCAP, ENUM_FMT, S_FMT, mmap
// streaming) and QRScan gets the file back from an animated sequence with
// a quarter of its frames left out. Needs vivid, so it runs only when asked
// (-vivid /dev), e.g. in the VM of internal/testinfra/v4l2loop/vm.
func TestQRScanThroughAV4L2Loopback(t *testing.T) {
	if *vividDir == "" {
		t.Skip("needs the vivid driver as a loopback: run with -vivid /dev")
	}
	for _, f := range []camera.PixelFormat{camera.GREY, camera.YUYV} {
		t.Run(f.String(), func(t *testing.T) { scanThroughVivid(t, f) })
	}
}

func scanThroughVivid(t *testing.T, format camera.PixelFormat) {
	capPath, outPath, err := v4l2loop.Find(*vividDir)
	if err != nil {
		t.Fatal(err)
	}
	devs, err := camera.ListIn(*vividDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cameras: %v; capture %s, output %s", devs, capPath, outPath)
	if len(devs) == 0 || devs[0].Path != capPath || !strings.Contains(devs[0].Card, "vivid") {
		t.Errorf("the capture node is not listed first by its card name: %v", devs)
	}
	cam, err := camera.Open(capPath, camera.Options{Formats: []camera.PixelFormat{format}})
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	l := cam.Layout()
	t.Logf("capture layout %+v (format %v)", l, l.Format)
	if l.Format != format {
		t.Fatalf("asked for %v, the camera reads %v", format, l.Format)
	}
	out, err := v4l2loop.OpenOutput(outPath, uint32(l.Format), l.Width, l.Height)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := v4l2loop.SetLoop(capPath); err != nil {
		t.Fatal(err)
	}
	rng := mrand.New(mrand.NewPCG(3, 4))
	data := make([]byte, 6000)
	for i := range data {
		data[i] = byte('a' + rng.IntN(26))
	}
	f := ur.File{Kind: ur.KindOther, Name: "six-kb.txt", Data: data}
	seq, err := qr.NewSequence(f, qr.Options{FragmentBytes: 600}) // fewer frames: the VM decodes slowly
	if err != nil {
		t.Fatal(err)
	}
	var frames, lumas [][]byte
	for i, sym := range seq.Symbols {
		if i%4 == 1 {
			continue // never shown: the receiver must do without it
		}
		raw, luma := rawFrame(t, sym, l)
		frames, lumas = append(frames, raw), append(lumas, luma)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	shown := make(chan error, 1)
	go func() { shown <- out.Show(ctx, frames, 200*time.Millisecond) }()
	looped(t, ctx, cam, lumas)
	progress := func(p QRScanProgress) {
		if p.Refused != nil {
			t.Logf("refused: %v", p.Refused)
		} else if p.Frames%5 == 0 {
			t.Logf("%v", p)
		}
	}
	got, err := QRScan{Timeout: 8 * time.Minute, Progress: progress}.Run(ctx, cam)
	cancel()
	if serr := <-shown; serr != nil {
		t.Errorf("output: %v", serr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Data, data) || got.Name != "six-kb.txt" {
		t.Fatalf("received %q, %d bytes", got.Name, len(got.Data))
	}
	t.Logf("received %d bytes through %s in %d frames, %v", len(got.Data), capPath, got.Frames, got.Elapsed)
	if err := cam.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// looped waits until the capture's luminance is that of one of the frames
// written to the output: the loopback works and the format is what both
// ends agreed on (vivid shows a test pattern otherwise).
func looped(t *testing.T, ctx context.Context, cam *camera.Camera, lumas [][]byte) {
	t.Helper()
	for i := 0; i < 50; i++ {
		g, err := cam.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		best := 0
		for _, f := range lumas {
			if len(f) != len(g.Pix) {
				continue
			}
			same := 0
			for j := range f {
				if f[j] == g.Pix[j] {
					same++
				}
			}
			best = max(best, 100*same/len(f))
		}
		// vivid may draw its on-screen text over the copy: nearly all
		// pixels, not all, are the shown frame's.
		if best >= 99 {
			t.Logf("capture frame %d is a shown frame (%d %% of its bytes)", i, best)
			return
		}
		t.Logf("capture frame %d: at best %d %% of a shown frame's bytes", i, best)
	}
	t.Fatal("in 50 captured frames none was a frame written to the output: the loopback is not on")
}

// rawFrame lays a symbol out as the device's pixel format; it also
// returns the frame's luminance, one byte a pixel.
func rawFrame(t *testing.T, sym qr.Symbol, l camera.Layout) (raw, luma []byte) {
	rgba := image.NewRGBA(image.Rect(0, 0, l.Width, l.Height))
	sym.Draw(rgba, sym.ModulePixels(l.Width, l.Height), color.White)
	step, off := 1, 0
	switch l.Format {
	case camera.GREY:
	case camera.YUYV:
		step = 2
	case camera.UYVY:
		step, off = 2, 1
	default:
		t.Fatalf("the loopback test renders GREY, YUYV or UYVY, not %v", l.Format)
	}
	line := max(l.BytesPerLine, l.Width*step)
	raw = bytes.Repeat([]byte{128}, line*l.Height)
	luma = make([]byte, l.Width*l.Height)
	for y := 0; y < l.Height; y++ {
		for x := 0; x < l.Width; x++ {
			v := rgba.Pix[y*rgba.Stride+4*x]
			raw[y*line+x*step+off], luma[y*l.Width+x] = v, v
		}
	}
	return raw, luma
}
