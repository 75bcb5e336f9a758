package gui

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/custodian-hsm/custodian/ceremony/transfer/qr"
	"github.com/custodian-hsm/custodian/ceremony/transfer/ur"
)

// BenchmarkQRTransfer20KB sends a 20 KB file with the transmitter at its
// default settings in a 1024x768 window, captures every frame of its loop
// from the screen (Fyne's software painter) and reads each capture with
// the project's decoder. Receivers then start at a random frame of the
// loop and lose each frame with probability 1/4, as a camera does; the
// report is the mean (and worst) number of frames shown before the file
// is whole, and that in seconds at the default rate. Target: mean < 15 s.
func BenchmarkQRTransfer20KB(b *testing.B) {
	a := test.NewTempApp(b)
	w := test.NewWindow(nil)
	defer w.Close()
	s := newShell(a, w, testIdentity, Options{WorkDir: b.TempDir()})
	s.uiLock = new(sync.Mutex)
	w.Resize(fyne.NewSize(1024, 768))
	data := qrPayload(20<<10, 20)
	var tx *qrTransmitter
	s.uiLock.Lock()
	tx = s.openQRScreen()
	tx.adapt = false // paced by the captures, not by a clock
	tx.setFile("sd.json", data)
	fps := tx.speed.Value
	s.uiLock.Unlock()
	for range b.N {
		// The loop as the screen shows it: one capture per frame, read.
		var parts [][]byte
		unread := 0
		var last uint64
		seen := map[*qr.Symbol]bool{}
		for {
			for n := tx.view.shownSerial(); n == last || n == 0; n = tx.view.shownSerial() {
				time.Sleep(time.Millisecond)
			}
			s.uiLock.Lock()
			img := w.Canvas().Capture()
			drawn, sym := tx.view.drawnFrame()
			s.uiLock.Unlock()
			last = drawn
			if seen[sym] {
				break // the loop came round
			}
			seen[sym] = true
			content, err := qr.ReadImage(img)
			if err != nil {
				unread++
			}
			parts = append(parts, content) // nil: a frame no receiver can use
		}
		const trials = 200
		var sum, worst float64
		for trial := range trials {
			rng := rand.New(rand.NewPCG(uint64(trial), 20))
			d := ur.NewDecoder(ur.TypeFile)
			shown := 0
			for i := rng.IntN(len(parts)); !d.Complete(); i = (i + 1) % len(parts) {
				shown++
				if shown > 20*len(parts) {
					b.Fatal("no file after 20 loops")
				}
				if rng.IntN(4) == 0 || parts[i] == nil {
					continue
				}
				if err := d.Receive(string(parts[i])); err != nil {
					b.Fatal(err)
				}
			}
			sum += float64(shown)
			worst = max(worst, float64(shown))
		}
		b.ReportMetric(float64(len(parts)), "frames-in-loop")
		b.ReportMetric(float64(unread), "captures-unread")
		b.ReportMetric(sum/trials, "frames-mean")
		b.ReportMetric(sum/trials/fps, "s-mean")
		b.ReportMetric(worst/fps, "s-worst")
		b.ReportMetric(fps, "fps")
		k, side := tx.view.modulePixels()
		b.ReportMetric(float64(k), "px-per-module")
		b.ReportMetric(float64(side), "px-square")
	}
	s.uiLock.Lock()
	tx.close()
	s.uiLock.Unlock()
}
