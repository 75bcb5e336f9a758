package gui

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"fyne.io/fyne/v2/canvas"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/ceremony/transfer/camera"
	"github.com/custodian-hsm/custodian/ceremony/transfer/qr"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// Without a camera the step says so and offers the image-file scan; the
// listing is package camera's own, over a /dev with no video nodes.
func TestScanWithCameraWithoutACameraOffersImageFiles(t *testing.T) {
	h := newHarness(t)
	var in *fileInput
	h.locked(func() {
		in = h.shell.newFileInput("file")
		in.cameras = func() ([]camera.Device, error) { return camera.ListIn(t.TempDir()) }
		h.shell.show(ceremony.Production, "A step that needs a file", in.box)
	})
	h.tap("Scan with camera…")
	h.waitShows("No camera found: connect a USB camera, or scan image files instead.")
	if h.button("Scan QR images…") == nil {
		t.Fatalf("no way to the image-file scan; the screen shows:\n%s", h.describe())
	}
	h.locked(func() {
		if !strings.Contains(in.about.Text, "No camera found") {
			t.Errorf("the step says: %q", in.about.Text)
		}
	})
}

// rendered is a camera that shows a file's QR sequence, every frame an
// exact grid on white (the device is not what this tests: the panel and
// the real decoder are), with every fourth frame lost.
type rendered struct {
	frames []*image.Gray
	i      int
	closed atomic.Bool
}

func renderedCamera(t *testing.T, name string, data []byte) *rendered {
	f, _, err := qr.FileFor(name, data)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := qr.NewSequence(f, qr.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := &rendered{}
	for i, sym := range seq.Symbols {
		if i%4 == 1 {
			continue
		}
		rgba := image.NewRGBA(image.Rect(0, 0, 640, 480))
		sym.Draw(rgba, sym.ModulePixels(640, 480), color.White)
		g := image.NewGray(rgba.Rect)
		for j := range g.Pix {
			g.Pix[j] = rgba.Pix[4*j]
		}
		r.frames = append(r.frames, g)
	}
	return r
}

func (r *rendered) Next(ctx context.Context) (*image.Gray, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g := r.frames[r.i%len(r.frames)]
	r.i++
	return g, nil
}

func (r *rendered) Close() error { r.closed.Store(true); return nil }

func TestScanWithCameraPutsTheFileIntoTheStep(t *testing.T) {
	data, err := os.ReadFile(testvectors.Path(t, "sd-3of2", "sd.json"))
	if err != nil {
		t.Fatal(err)
	}
	cam := renderedCamera(t, "sd.json", data)
	h := newHarness(t)
	var in *fileInput
	var previewed atomic.Bool
	h.locked(func() {
		in = h.shell.newFileInput("file")
		in.cameras = func() ([]camera.Device, error) {
			return []camera.Device{{Path: "/dev/video9", Card: "Rendered frames"}}, nil
		}
		in.openCamera = func(path string) (cameraSource, error) {
			if path != "/dev/video9" {
				t.Errorf("opened %q", path)
			}
			return cam, nil
		}
		h.shell.show(ceremony.Production, "A step that needs a file", in.box)
	})
	h.tap("Scan with camera…")
	h.waitShows("Scan QR codes with the camera")
	h.locked(func() {
		if top := h.canvas().Overlays().Top(); top != nil {
			if m := top.MinSize(); m.Width > 1024 || m.Height > 768 {
				t.Errorf("the camera panel needs %v, more than 1024x768", m)
			}
		}
	})
	h.waitFor("a preview", func() bool {
		h.locked(func() {
			for _, o := range h.all() {
				if img, ok := o.(*canvas.Image); ok {
					if g, ok := img.Image.(*image.Gray); ok && g.Rect.Dx() == 320 {
						previewed.Store(true)
					}
				}
			}
		})
		return previewed.Load()
	})
	fp := fingerprint.Of(data)
	h.waitFor("the file in the step", func() (ok bool) {
		h.locked(func() { ok = strings.Contains(in.about.Text, fp.GroupedHex()) })
		return ok
	})
	h.waitFor("the camera closed", cam.closed.Load)
	h.locked(func() {
		if len(h.canvas().Overlays().List()) != 0 {
			t.Error("the camera panel is still shown")
		}
		if !strings.Contains(in.about.Text, "received through the camera") || !strings.Contains(in.about.Text, fp.WordString()) || !strings.Contains(in.about.Text, "security domain") {
			t.Errorf("the step says: %q", in.about.Text)
		}
		name, got, err := in.Read()
		if err != nil || name != "sd.json" || !bytes.Equal(got, data) {
			t.Errorf("Read: %q %d bytes %v", name, len(got), err)
		}
	})
}

func TestScanWithCameraCancelReleasesTheCamera(t *testing.T) {
	blank := &rendered{frames: []*image.Gray{image.NewGray(image.Rect(0, 0, 320, 240))}}
	h := newHarness(t)
	var in *fileInput
	h.locked(func() {
		in = h.shell.newFileInput("file")
		in.cameras = func() ([]camera.Device, error) { return []camera.Device{{Path: "/dev/video9"}}, nil }
		in.openCamera = func(string) (cameraSource, error) { return blank, nil }
		h.shell.show(ceremony.Production, "A step that needs a file", in.box)
	})
	h.tap("Scan with camera…")
	h.waitShows("frames looked at, no code of a file yet")
	h.tap("Cancel")
	h.waitFor("the camera closed", blank.closed.Load)
	h.locked(func() {
		if len(h.canvas().Overlays().List()) != 0 {
			t.Error("the camera panel is still shown")
		}
		if in.fromQR != nil || in.Path.Text != "" {
			t.Errorf("a cancelled scan left %q", in.Path.Text)
		}
	})
}

// A camera that cannot be opened says why on the panel and offers to try
// again; the step is left as it was.
func TestScanWithCameraSaysWhyACameraDidNotOpen(t *testing.T) {
	h := newHarness(t)
	var in *fileInput
	var opens atomic.Int32 // counted on the scan's worker
	h.locked(func() {
		in = h.shell.newFileInput("file")
		in.cameras = func() ([]camera.Device, error) {
			return []camera.Device{{Path: "/dev/video0", Card: "USB camera"}}, nil
		}
		in.openCamera = func(path string) (cameraSource, error) {
			opens.Add(1)
			return nil, &camera.PermissionError{Path: path}
		}
		h.shell.show(ceremony.Production, "A step that needs a file", in.box)
	})
	h.tap("Scan with camera…")
	h.waitShows("the user must be in group video")
	h.tap("Scan again")
	h.waitFor("a second open", func() bool { return opens.Load() == 2 })
	h.tap("Cancel")
	h.locked(func() {
		if len(h.canvas().Overlays().List()) != 0 || in.Path.Text != "" {
			t.Errorf("after Cancel: %d overlays, path %q", len(h.canvas().Overlays().List()), in.Path.Text)
		}
	})
}
