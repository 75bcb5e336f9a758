package gui

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/custodian-hsm/custodian/ceremony/transfer/qr"
	"github.com/custodian-hsm/custodian/ceremony/transfer/ur"
)

func qrPayload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 12))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// qrHarness is the QR screen in a window of w×h device pixels at the given
// canvas scale.
func qrHarness(t *testing.T, w, h int, scale float32) (*harness, *qrTransmitter) {
	hs := newHarness(t)
	hs.win.Canvas().(test.WindowlessCanvas).SetScale(scale)
	hs.win.Resize(fyne.NewSize(float32(w)/scale, float32(h)/scale))
	var tx *qrTransmitter
	hs.locked(func() { tx = hs.shell.openQRScreen() })
	return hs, tx
}

// capture paints the window with Fyne's software painter, as the screen
// would show it.
func (h *harness) capture() image.Image {
	var img image.Image
	h.locked(func() { img = h.win.Canvas().Capture() })
	return img
}

// nextFrame captures the window once the view shows a frame after the
// one with serial last (laid out, so the capture paints it whole), and
// checks that the painter drew exactly that frame. The transmitter moves
// on only once its frame is drawn, and only captures draw here, so the
// frame waited for is still the one shown when the capture paints.
func (h *harness) nextFrame(tx *qrTransmitter, last uint64) (image.Image, uint64) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s := tx.view.shownSerial(); s == last || s == 0; s = tx.view.shownSerial() {
		if time.Now().After(deadline) {
			h.t.Fatalf("no new frame in 20 s; the screen shows:\n%s", h.describe())
		}
		time.Sleep(2 * time.Millisecond)
	}
	var img image.Image
	var shown, drawn uint64
	h.locked(func() {
		shown = tx.view.shownSerial()
		img = h.win.Canvas().Capture()
		drawn, _ = tx.view.drawnFrame()
	})
	if drawn != shown {
		h.t.Fatalf("the view shows frame %d but the painter drew frame %d", shown, drawn)
	}
	return img, drawn
}

// checkGrid finds the code in a capture by its top-left finder pattern
// (a run of exactly 7k black pixels) and verifies that it is the symbol
// on screen exactly: every module a square of k×k device pixels, quiet
// zone included, nothing cut off.
func checkGrid(t *testing.T, h *harness, tx *qrTransmitter, img image.Image) {
	t.Helper()
	checkViewGrid(t, tx.view, img)
}

// checkViewGrid is checkGrid for a view.
func checkViewGrid(t *testing.T, v *qrView, img image.Image) {
	t.Helper()
	v.mu.Lock()
	sym, k := v.drawnSym, v.k
	v.mu.Unlock()
	if sym == nil || k < 2 {
		t.Fatalf("no code drawn (k=%d)", k)
	}
	black := func(x, y int) bool {
		r, g, b, _ := img.At(x, y).RGBA()
		return r|g|b == 0
	}
	run := func(x, y, dx, dy int) int {
		n := 0
		for black(x+n*dx, y+n*dy) && n <= 8*k {
			n++
		}
		return n
	}
	bounds := img.Bounds()
	x0, y0 := -1, -1
	for y := bounds.Min.Y; y < bounds.Max.Y && x0 < 0; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			if black(x, y) && !black(x-1, y) && !black(x, y-1) && run(x, y, 1, 0) == 7*k && run(x, y, 0, 1) == 7*k {
				x0, y0 = x-QuietZonePixels(k), y-QuietZonePixels(k)
				break
			}
		}
	}
	side := k * sym.Size
	if x0 < bounds.Min.X || y0 < bounds.Min.Y || x0+side > bounds.Max.X || y0+side > bounds.Max.Y {
		t.Fatalf("no whole code of %d px (%d px a module) in the %v capture (finder at %d,%d)", side, k, bounds, x0, y0)
	}
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			r, g, b, _ := img.At(x0+x, y0+y).RGBA()
			dark := sym.Dark(x/k, y/k)
			if (dark && (r|g|b) != 0) || (!dark && (r&g&b) != 0xffff) {
				t.Fatalf("pixel (%d,%d) of the code is %v,%v,%v: module (%d,%d) is not a clean %d×%d square", x, y, r>>8, g>>8, b>>8, x/k, y/k, k, k)
			}
		}
	}
}

// QuietZonePixels is the quiet zone's width at k pixels a module.
func QuietZonePixels(k int) int { return qr.QuietZone * k }

// The transmitter, painted by Fyne's software painter at three window
// sizes (and at a fractional canvas scale), shows every module as whole
// device pixels, and its frames captured from the screen, a quarter of
// them dropped, give the file back byte for byte through the project's
// own decoder.
func TestQRScreenCapturesRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("captures and decodes a few hundred full windows")
	}
	cases := []struct {
		w, h  int
		scale float32
	}{{1024, 768, 1}, {1280, 800, 1}, {1920, 1080, 1}, {1280, 800, 1.25}}
	for _, c := range cases {
		for _, size := range []int{6 << 10, 20 << 10} {
			t.Run(fmt.Sprintf("%dx%d@%.2f/%dKB", c.w, c.h, c.scale, size>>10), func(t *testing.T) {
				h, tx := qrHarness(t, c.w, c.h, c.scale)
				data := qrPayload(size, uint64(size+c.w))
				h.locked(func() {
					tx.adapt = false      // frames are paced by the captures here
					tx.speed.SetValue(15) // the fastest: the test waits less
					tx.setFile("file.bin", data)
				})
				got, shown := receiveFromScreen(t, h, tx, rand.New(rand.NewPCG(uint64(c.w), uint64(size))), true)
				if !bytes.Equal(got.Data, data) || got.Name != "file.bin" {
					t.Fatalf("received %d bytes named %q, not the file sent", len(got.Data), got.Name)
				}
				t.Logf("%d frames shown", shown)
			})
		}
	}
}

// receiveFromScreen captures frames until the receiver has the file,
// dropping each with probability 1/4; every frame kept must read.
func receiveFromScreen(t *testing.T, h *harness, tx *qrTransmitter, rng *rand.Rand, grid bool) (ur.File, int) {
	t.Helper()
	r := qr.NewReceiver()
	var last uint64
	shown := 0
	for !r.Complete() {
		if shown > 1000 {
			t.Fatalf("no file after %d frames (%s)", shown, r.Status())
		}
		var img image.Image
		img, last = h.nextFrame(tx, last)
		shown++
		if grid && shown == 1 {
			checkGrid(t, h, tx, img)
		}
		if rng.IntN(4) == 0 {
			continue
		}
		content, err := qr.ReadImage(img)
		if err != nil {
			t.Fatalf("frame %d as captured from the screen does not read: %v", shown, err)
		}
		if err := r.AddText(content); err != nil {
			t.Fatalf("frame %d: %v", shown, err)
		}
	}
	f, err := r.File()
	if err != nil {
		t.Fatal(err)
	}
	return f, shown
}

// seqLenOf reads the fragment count from a UR part ("UR:TYPE/3-21/…").
func seqLenOf(part string) string {
	f := strings.Split(part, "/")
	if len(f) < 3 {
		return ""
	}
	_, n, _ := strings.Cut(f[1], "-")
	return n
}

// waitStopped waits for every animation goroutine to return.
func waitStopped(t *testing.T, want int32) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for qrAnimations.Load() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d animations still running, want %d", qrAnimations.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// framesOf returns a weak pointer to the symbols on screen now.
func framesOf(tx *qrTransmitter) weak.Pointer[qr.Symbol] {
	tx.view.mu.Lock()
	defer tx.view.mu.Unlock()
	if tx.view.frame == nil {
		return weak.Make[qr.Symbol](nil)
	}
	return weak.Make(tx.view.frame.sym)
}

func collected(p weak.Pointer[qr.Symbol]) bool {
	for range 5 {
		runtime.GC()
		if p.Value() == nil {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// Choosing another file stops the old animation at once: the very next
// picture shows no frame of the old file, only the new file's frames
// follow, the old goroutine returns and its frames are freed.
func TestQRSwitchingFilesStopsTheOldAnimation(t *testing.T) {
	h, tx := qrHarness(t, 1280, 800, 1)
	dir := t.TempDir()
	small, big := filepath.Join(dir, "small.bin"), filepath.Join(dir, "big.bin")
	os.WriteFile(small, qrPayload(6<<10, 1), 0o600)
	os.WriteFile(big, qrPayload(20<<10, 2), 0o600)
	base := qrAnimations.Load()
	h.typeInto("file to show as QR codes", small)
	h.tap("Show")
	img, last := h.nextFrame(tx, 0)
	img, _ = h.nextFrame(tx, last)
	content, err := qr.ReadImage(img)
	if err != nil {
		t.Fatal(err)
	}
	oldLen := seqLenOf(string(content))
	old := framesOf(tx)
	h.typeInto("file to show as QR codes", big)
	h.tap("Show")
	if _, err := qr.ReadImage(h.capture()); err == nil {
		t.Fatal("right after choosing another file, the screen still shows a code of the old one")
	}
	if h.shows("of " + oldLen) {
		t.Errorf("the old file's frame counter is still shown:\n%s", h.describe())
	}
	waitStopped(t, base+1)
	if !collected(old) {
		t.Error("the old file's frames are still in memory after the switch")
	}
	last = 0
	for range 5 {
		img, last = h.nextFrame(tx, last)
		content, err := qr.ReadImage(img)
		if err != nil {
			t.Fatal(err)
		}
		if n := seqLenOf(string(content)); n == oldLen {
			t.Fatalf("after the switch a frame of the old file (%s fragments) is shown", n)
		}
	}
	if !h.shows("big.bin") || h.shows("small.bin —") {
		t.Errorf("the screen does not name the new file:\n%s", h.describe())
	}
}

// Leaving the screen (Home) stops the animation and frees the frames; so
// does closing the transmitter a ceremony step opened over its screen.
func TestQRLeavingStopsTheAnimation(t *testing.T) {
	h, tx := qrHarness(t, 1024, 768, 1)
	base := qrAnimations.Load()
	h.locked(func() { tx.setFile("a.bin", qrPayload(6<<10, 3)) })
	h.nextFrame(tx, 0)
	frames := framesOf(tx)
	h.locked(func() { h.shell.home() })
	waitStopped(t, base)
	if !collected(frames) {
		t.Error("the frames are still in memory after leaving the screen")
	}

	// Over a screen, as a ceremony step opens it.
	var ov *qrTransmitter
	h.locked(func() { ov = h.shell.showAsQR("cert.pem", qrPayload(3<<10, 4)) })
	img, _ := h.nextFrame(ov, 0)
	if _, err := qr.ReadImage(img); err != nil {
		t.Fatalf("the overlay's code does not read: %v", err)
	}
	checkGrid(t, h, ov, img)
	frames = framesOf(ov)
	h.tap("Close")
	waitStopped(t, base)
	if !collected(frames) || h.win.Canvas().Overlays().Top() != nil {
		t.Error("closing the overlay did not stop and free it")
	}
	h.locked(func() { ov = h.shell.showAsQR("cert.pem", qrPayload(3<<10, 4)) })
	h.nextFrame(ov, 0)
	h.locked(func() { h.shell.home() })
	waitStopped(t, base)
	if h.win.Canvas().Overlays().Top() != nil {
		t.Error("leaving the screen left the overlay up")
	}
}

// Full screen hides everything but the code, draws it larger, and Escape
// brings the screen back.
func TestQRFullScreen(t *testing.T) {
	h, tx := qrHarness(t, 1024, 768, 1)
	h.locked(func() { tx.setFile("a.bin", qrPayload(6<<10, 5)) })
	_, last := h.nextFrame(tx, 0)
	k0, _ := tx.view.modulePixels()
	h.tap("Full screen")
	if !h.win.FullScreen() {
		t.Fatal("the window is not full screen")
	}
	img, _ := h.nextFrame(tx, last)
	if h.shows("PRODUCTION") || h.shows("Density") {
		t.Errorf("full screen still shows the window's chrome:\n%s", h.describe())
	}
	checkGrid(t, h, tx, img)
	if k, _ := tx.view.modulePixels(); k <= k0 {
		t.Errorf("full screen draws %d px a module, no more than the window's %d", k, k0)
	}
	h.locked(func() { h.win.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape}) })
	if h.win.FullScreen() || !h.shows("Density") {
		t.Errorf("Escape did not leave full screen:\n%s", h.describe())
	}
	h.nextFrame(tx, 0)
}

// When the screen draws fewer frames than chosen, the transmitter says so
// and lowers its speed to what is drawn.
func TestQRSlowScreenLowersTheRate(t *testing.T) {
	h, tx := qrHarness(t, 1024, 768, 1)
	h.locked(func() { tx.setFile("a.bin", qrPayload(6<<10, 6)) })
	var last uint64
	deadline := time.Now().Add(6 * time.Second)
	for time.Now().Before(deadline) {
		_, last = h.nextFrame(tx, last)
		time.Sleep(330 * time.Millisecond) // a screen that draws at most 3 frames a second
	}
	h.waitShows("This screen draws only")
	var drawn, lowered float64
	h.locked(func() {
		text := tx.rate.Text
		i := strings.Index(text, "Drawn: ")
		if i < 0 {
			return
		}
		fmt.Sscanf(text[i:], "Drawn: %g", &drawn)
		if j := strings.Index(text, "lowered to "); j >= 0 {
			fmt.Sscanf(text[j:], "lowered to %g", &lowered)
		}
	})
	if drawn <= 0 || drawn > 3.4 || lowered < 1 || lowered > 3 {
		t.Errorf("drawn %.1f and lowered to %.0f, want at most 3 and a speed of 1-3:\n%s", drawn, lowered, h.describe())
	}
}

// A frame the worker has set is not drawn before the UI thread has laid
// it out: a paint in between shows the frame before it, whole, and no
// code at all before the first frame is laid out. (Before, the painter
// took the newest frame at the old frame's raster size: a camera filming
// the screen would have seen a broken code.)
func TestQRViewDrawsOnlyLaidOutFrames(t *testing.T) {
	h := newHarness(t)
	f, _, err := qr.FileFor("a.bin", qrPayload(600, 7))
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]qrFrame // two densities: two symbol sizes
	for _, n := range []int{150, 1000} {
		seq, err := qr.NewSequence(f, qr.Options{FragmentBytes: n})
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, newQRFrames(seq.Symbols))
	}
	small, big := &frames[0][0], &frames[1][0]
	if small.sym.Size == big.sym.Size {
		t.Fatalf("both densities make %d-module symbols", small.sym.Size)
	}
	v := newQRView()
	h.locked(func() { h.win.SetContent(v) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := &qrAnimation{ctx: ctx, cancel: cancel, done: make(chan struct{})}
	// reads captures the window: it must show want, whole.
	reads := func(step string, want *qrFrame) {
		t.Helper()
		img := h.capture()
		if _, err := qr.ReadImage(img); err != nil {
			t.Errorf("%s: the capture does not read: %v", step, err)
		}
		if _, sym := v.drawnFrame(); sym != want.sym {
			t.Errorf("%s: the painter drew another frame than the one laid out", step)
		}
		t.Run(step, func(t *testing.T) { checkViewGrid(t, v, img) }) // module by module
	}

	v.setFor(a, small)
	if _, err := qr.ReadImage(h.capture()); err == nil {
		t.Error("the first frame is drawn before it is laid out")
	}
	if v.shownSerial() != 0 {
		t.Error("the first frame counts as shown before it is laid out")
	}
	h.locked(v.present)
	reads("first frame laid out", small)
	shown := v.shownSerial()
	v.setFor(a, big)
	// The new size is not laid out yet: the old frame stays, whole.
	reads("next frame set, not laid out", small)
	if v.shownSerial() != shown || !v.pending() {
		t.Error("a frame not laid out yet counts as shown or drawn")
	}
	h.locked(v.present)
	reads("next frame laid out", big)
	if v.pending() {
		t.Error("the frame laid out and drawn is still pending")
	}
}
