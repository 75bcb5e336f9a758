//go:build drillbuild

package gui

import (
	"crypto/rand"
	"fmt"
	"os"
	"time"

	"fyne.io/fyne/v2"
)

// qrTour is the screenshot tour's visit to the QR transmitter: a 20 KB
// file at 1024x768 and in full screen, then Home, which stops the
// animation and frees its frames (the README's memory figures are taken
// while the real binary runs this). It reports on stderr the frame rate
// the screen actually drew in each.
func (s *shell) qrTour(snap func(file string, reach func()) error) error {
	data := make([]byte, 20<<10)
	rand.Read(data)
	var size fyne.Size
	var tx *qrTransmitter
	fyne.DoAndWait(func() {
		size = s.win.Canvas().Size()
		s.win.Resize(fyne.NewSize(1024, 768))
		tx = s.openQRScreen()
		tx.setFile("sample-20KB.bin", data)
	})
	still := func(file, mode string) error {
		if err := waitQRFrames(tx, 30*time.Second); err != nil {
			return err
		}
		time.Sleep(rateWindow + time.Second) // let the rate settle
		fmt.Fprintf(os.Stderr, "screenshot tour: the QR transmitter drew %.1f frames a second (%s)\n",
			tx.view.drawnRate(rateWindow, time.Now()), mode)
		tx.held.Store(true)
		defer tx.held.Store(false)
		time.Sleep(300 * time.Millisecond)
		return snap(file, func() {})
	}
	if err := still("14-qr-transmitter-1024x768.png", "1024x768 window"); err != nil {
		return err
	}
	fyne.DoAndWait(tx.enterFullScreen)
	if err := still("15-qr-transmitter-fullscreen.png", "full screen"); err != nil {
		return err
	}
	fyne.DoAndWait(tx.leaveFullScreen)
	fyne.DoAndWait(func() { s.home(); s.win.Resize(size) })
	// A moment on Home, so a memory sampler sees it after the transmitter.
	time.Sleep(2 * time.Second)
	return nil
}

// waitQRFrames waits until the transmitter shows frames.
func waitQRFrames(tx *qrTransmitter, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for tx.view.shownSerial() == 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("the QR transmitter showed no frame in %s", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}
