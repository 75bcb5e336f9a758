//go:build drillbuild

package gui

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11/softhsm"
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
	// The drill is the shell's once started; Home (the tour's last
	// screen) closes it.
	drill, err := ceremony.StartDrill(ceremony.DrillConfig{Custodians: 3, Quorum: 2, Tokens: ceremony.SoftTokens, Dir: filepath.Join(work, "DRILL-screenshots")})
	if err != nil {
		return err
	}
	session := drill.Session

	// The smallest window the screens are made for.
	fyne.DoAndWait(func() { s.win.Resize(minimumSize) })
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
	if err := s.qrTour(snap); err != nil {
		return err
	}

	// The drill's second custodian, with the first one enrolled the way
	// the wizard's button does it.
	var aw *activationWizard
	fyne.DoAndWait(func() {
		s.startDrill(drill)
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
	if err := snap("06-drill-recovery-confirm.png", rw.render); err != nil {
		return err
	}
	return s.tourRest(work, session, rw, snap)
}

// tourRest takes the screens after the drill's exchange-key confirmation:
// the recovery's end screen with the final digest, the Tokens screen and
// a production token picker over SoftHSM tokens, the air-gap dialog, the
// PIN dialog, and Home at 1280×800.
func (s *shell) tourRest(work string, session *ceremony.DrillSession, rw *recoveryWizard, snap func(string, func()) error) error {
	if err := s.finishDrillRecovery(session, rw); err != nil {
		return err
	}
	if err := snap("07-drill-recovery-end.png", func() {
		s.endScreen(rw.cfg.Mode, "Recovery — closed", rw.r.Outcome(), rw.blobCard())
	}); err != nil {
		return err
	}
	if err := snap("08-transcripts.png", s.transcriptsScreen); err != nil {
		return err
	}
	if err := s.rotationTour(work, snap); err != nil {
		return err
	}
	if hsm, err := softhsm.Start(filepath.Join(work, "softhsm")); err == nil {
		for _, l := range []string{"custodian-alice", "custodian-bob"} {
			if err := hsm.InitToken(l, []byte("87654321"), []byte("314159")); err != nil {
				return err
			}
		}
		s.tokens = token.NewManager(pkcs11.New(pkcs11.Options{ModulePath: hsm.Module, Drill: true, ConfigFile: "-"}))
		defer func() { s.tokens = nil }()
		if err := snap("09-tokens.png", s.tokensScreen); err != nil {
			return err
		}
		if err := snap("10-token-picker.png", func() { s.productionActivationForTour(work) }); err != nil {
			return err
		}
	}
	if report := s.checkAirGap(); !report.Clean() {
		if err := snap("11-airgap-dialog.png", func() {
			s.activationSetup()
			s.airGapGate("Wendy Witness", func(airGapVerdict) {})
		}); err != nil {
			return err
		}
	}
	// The PIN dialog over a recovery set-up, not over the air-gap dialog.
	fyne.DoAndWait(func() {
		for s.win.Canvas().Overlays().Top() != nil {
			s.win.Canvas().Overlays().Top().Hide()
		}
		s.recoverySetup()
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = s.pinPrompt()(ctx, token.PINRequest{Token: token.Info{Kind: token.KindYubiKey, Model: "YubiKey 5 NFC", Serial: "12345678"},
			What: "PIN", Reason: "open the share of custodian Alice", RetriesLeft: 3})
	}()
	err := snap("12-pin-dialog.png", func() {})
	cancel()
	if err != nil {
		return err
	}
	if err := s.pinTriesTour(snap); err != nil {
		return err
	}
	fyne.DoAndWait(func() {
		for s.win.Canvas().Overlays().Top() != nil {
			s.win.Canvas().Overlays().Top().Hide()
		}
		s.win.Resize(defaultSize)
	})
	return snap("13-home-1280x800.png", s.home)
}

// finishDrillRecovery confirms the exchange key, opens two shares, builds
// and writes the blob and signs off, as the wizard's buttons do.
func (s *shell) finishDrillRecovery(session *ceremony.DrillSession, rw *recoveryWizard) error {
	r := rw.r
	if err := r.ConfirmExchangeKey("Drill operator", true); err != nil {
		return err
	}
	for i := 0; i < 2; i++ {
		if _, err := r.OpenShare(context.Background(), fmt.Sprintf("Custodian %d", i+1), session.Tokens.Ref(i), session.Tokens.Options(i)); err != nil {
			return err
		}
	}
	blob, err := r.BuildBlob(rand.Reader)
	if err != nil {
		return err
	}
	rw.blob = blob
	if rw.blobPath, err = r.Export(filepath.Join(session.Dir, "DRILL-restore")); err != nil {
		return err
	}
	return r.SignOff("Drill witness", true, "")
}

// productionActivationForTour opens a production activation's first
// enrollment (the token picker) with a transcript in work.
func (s *shell) productionActivationForTour(work string) {
	rec, err := s.recorder(work, ceremony.Production, "activation", "contoso-hsm-2026-12-01", "contoso-hsm")
	if err != nil {
		s.showError("Tour", err)
		return
	}
	a, err := ceremony.NewActivation(ceremony.ActivationConfig{Mode: ceremony.Production, HSMName: "contoso-hsm", CeremonyID: "contoso-hsm-2026-12-01",
		Custodians: 3, Quorum: 2, Witness: "Wendy Witness", AirGapShown: ceremony.AirGapAcknowledged}, s.tokens, rec)
	if err != nil {
		s.showError("Tour", err)
		return
	}
	(&activationWizard{s: s, a: a, tokens: s.tokens}).render()
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
	name, data, err := aw.drill.OperatorActivate()
	if err != nil {
		return nil, err
	}
	if err := aw.drill.LoadSD(name, data); err != nil {
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
