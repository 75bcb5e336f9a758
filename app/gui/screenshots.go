//go:build drillbuild

package gui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/drillhsm"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// tourTimeout bounds the whole tour, so a hung screen fails the run
// instead of blocking CI.
const tourTimeout = 3 * time.Minute

// screenshotTour visits the main screens and writes dir/NN-name.png for
// each. It runs on its own goroutine, as a worker would, and talks to the
// window only through fyne.DoAndWait.
func (s *shell) screenshotTour(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("screenshot folder: %w (give a new folder)", err)
	}
	work, err := os.MkdirTemp("", "custodian-screenshots-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	session, err := ceremony.NewDrillSession(filepath.Join(work, "DRILL-screenshots"), ceremony.SoftTokens, 3)
	if err != nil {
		return err
	}
	defer session.Close()

	var previous image.Image
	snap := func(file string, reach func()) error {
		fyne.DoAndWait(reach)
		img, err := s.captureWhenRendered(previous)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		previous = img
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return err
		}
		return safefile.Write(filepath.Join(dir, file), buf.Bytes(), safefile.WithPerm(0o644))
	}
	if err := snap("01-home.png", s.home); err != nil {
		return err
	}
	if err := snap("02-drill-setup.png", s.drillScreen); err != nil {
		return err
	}
	if err := snap("03-activation-setup.png", s.activationSetup); err != nil {
		return err
	}

	// The drill's second custodian, with the first one enrolled the way
	// the wizard's button does it.
	var aw *activationWizard
	fyne.DoAndWait(func() {
		s.startDrill(session, 3, 2)
		aw, _ = s.wizard.(*activationWizard)
	})
	if aw == nil {
		return errors.New("the drill did not open its activation")
	}
	if _, err := aw.a.Enroll(context.Background(), "Custodian 1", session.Tokens.Ref(0), token.EnrollRequest{Bits: 2048}, aw.openOptions(0)); err != nil {
		return err
	}
	if err := snap("04-drill-activation-enroll.png", aw.render); err != nil {
		return err
	}
	if err := snap("05-recovery-setup.png", s.recoverySetup); err != nil {
		return err
	}
	rw, err := s.driveDrillToRecovery(session, aw)
	if err != nil {
		return err
	}
	return snap("06-drill-recovery-confirm.png", rw.render)
}

// driveDrillToRecovery finishes the drill's activation with the ceremony
// engine (what the wizard's buttons call) and brings the recovery to the
// exchange-key confirmation.
func (s *shell) driveDrillToRecovery(session *ceremony.DrillSession, aw *activationWizard) (*recoveryWizard, error) {
	a := aw.a
	ctx := context.Background()
	for k, _ := a.NextCustodian(); a.Step() == ceremony.ActEnroll; k, _ = a.NextCustodian() {
		if _, err := a.Enroll(ctx, fmt.Sprintf("Custodian %d", k), session.Tokens.Ref(k-1), token.EnrollRequest{Bits: 2048}, aw.openOptions(k-1)); err != nil {
			return nil, err
		}
	}
	if _, err := a.WritePackage(filepath.Join(session.Dir, "DRILL-operator-package")); err != nil {
		return nil, err
	}
	name, data, err := session.OperatorActivate(a, drillhsm.ActivateOptions{})
	if err != nil {
		return nil, err
	}
	if _, err := a.LoadSD(name, data); err != nil {
		return nil, err
	}
	for i := range a.Custodians() {
		if err := a.SelfTest(ctx, i, aw.openOptions(i)); err != nil {
			return nil, err
		}
	}
	if err := a.ProveQuorum(); err != nil {
		return nil, err
	}
	if err := a.SignOff("Drill witness", true, ""); err != nil {
		return nil, err
	}
	// The wizard's own hand-over to the recovery.
	fyne.DoAndWait(aw.next)
	var rw *recoveryWizard
	fyne.DoAndWait(func() { rw, _ = s.wizard.(*recoveryWizard) })
	if rw == nil {
		return nil, errors.New("the drill did not go on to the recovery")
	}
	if _, err := rw.r.LoadSD(rw.sdName, rw.sdBytes); err != nil {
		return nil, err
	}
	exName, exData, err := session.OperatorInitRecovery()
	if err != nil {
		return nil, err
	}
	if _, err := rw.r.LoadExchangeKey(exName, exData); err != nil {
		return nil, err
	}
	return rw, nil
}

// captureWhenRendered waits until the window shows something new (not
// the previous screen), not blank, and the same in two captures in a row,
// and returns it as an opaque image. Captures run on the UI thread,
// between frames.
func (s *shell) captureWhenRendered(previous image.Image) (image.Image, error) {
	deadline := time.Now().Add(30 * time.Second)
	var last image.Image
	blanks := 0
	for time.Now().Before(deadline) {
		var img image.Image
		fyne.DoAndWait(func() {
			if !s.tourStopped.Load() {
				img = opaque(s.win.Canvas().Capture())
			}
		})
		if s.tourStopped.Load() {
			return nil, errors.New("the window was closed")
		}
		switch {
		case img == nil || blank(img):
			blanks++
		case sameImage(img, previous):
		case last != nil && sameImage(img, last):
			return img, nil
		default:
			last = img
		}
		time.Sleep(100 * time.Millisecond)
	}
	if blanks > 0 && last == nil {
		return nil, errors.New("every capture of the window was blank: the OpenGL driver does not read back " +
			"what it drew (Mesa's llvmpipe under Xvfb does this; run with GALLIUM_DRIVER=softpipe)")
	}
	return nil, errors.New("the screen never settled on a new picture in 30 s")
}

// opaque copies a capture with full alpha: GL framebuffers without an
// alpha channel read back as transparent.
func opaque(img image.Image) image.Image {
	if img == nil {
		return nil
	}
	b := img.Bounds()
	out := image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			i := out.PixOffset(x, y)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = uint8(r>>8), uint8(g>>8), uint8(bb>>8), 0xff
		}
	}
	return out
}

// blank is true when every pixel has the same colour.
func blank(img image.Image) bool {
	b := img.Bounds()
	if b.Empty() {
		return true
	}
	first := img.At(b.Min.X, b.Min.Y)
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			if img.At(x, y) != first {
				return false
			}
		}
	}
	return true
}

func sameImage(a, b image.Image) bool {
	na, okA := a.(*image.NRGBA)
	nb, okB := b.(*image.NRGBA)
	return okA && okB && na.Bounds() == nb.Bounds() && bytes.Equal(na.Pix, nb.Pix)
}

// startScreenshotTour runs the tour when ScreenshotsEnv is set, quits the
// app at the end, and returns where the tour's outcome arrives.
func (s *shell) startScreenshotTour() <-chan error {
	dir := os.Getenv(ScreenshotsEnv)
	if dir == "" {
		return nil
	}
	done := make(chan error, 1)
	// A window closed or a process stopped mid-tour must not be captured.
	s.app.Lifecycle().SetOnStopped(func() { s.tourStopped.Store(true) })
	go func() {
		result := make(chan error, 1)
		go func() { result <- s.screenshotTour(dir) }()
		var err error
		select {
		case err = <-result:
		case <-time.After(tourTimeout):
			err = fmt.Errorf("the screenshot tour did not finish in %s", tourTimeout)
		}
		done <- err
		fyne.Do(s.app.Quit)
	}()
	return done
}
