// Package gui is Custodian's Fyne front-end. It holds no business logic:
// each screen (one file each) shows the state of a ceremony/ workflow and
// turns taps and typing into calls on it. Work that takes time runs on a
// goroutine and comes back to the window through fyne.Do, so the window
// never freezes.
//
// Fyne's entry widgets keep their text as Go strings, which cannot be
// wiped; PIN entries are therefore cleared as soon as their text is taken,
// and the PIN bytes handed to tokens are wiped by the token backends.
package gui

import (
	"fmt"
	"os"
	"runtime/debug"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"

	"github.com/custodian-hsm/custodian/assets"
	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// AppID is the application identifier (also in FyneApp.toml).
const AppID = "io.github.custodian_hsm.custodian"

// Identity is the running build as people should compare it: version and
// the SHA-256 of the binary, as hex and as words to read aloud.
type Identity struct {
	Version string
	SHA256  string
	Words   string
	// DrillBuild is set by the drill build (build tag drillbuild, see
	// ceremony/identity): the status bar then says DRILL BUILD.
	DrillBuild bool
}

// Options configure the GUI.
type Options struct {
	// WorkDir is where ceremonies and drills keep their folders and
	// transcripts (default: the current directory).
	WorkDir string
	// PKCS11Modules are the modules named with --pkcs11-module at start,
	// added to the system's well-known ones. They are fixed for the run.
	PKCS11Modules []string
}

// Run opens the main window and blocks until it is closed.
func Run(id Identity, opts Options) {
	tuneGC()
	a := app.NewWithID(AppID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	applyTheme(a, savedTheme(a))
	w := a.NewWindow("Custodian")
	s := newShell(a, w, id, opts)
	s.home()
	w.Resize(savedSize(a))
	// The size is remembered in the preferences (the user's configuration
	// folder); where that folder is not writable Fyne logs it and the
	// next start opens at the default size.
	if os.Getenv(ScreenshotsEnv) == "" {
		// (The screenshot tour's sizes are not the person's.)
		w.SetOnClosed(func() { saveSize(a, w.Canvas().Size()) })
	}
	s.installCloseIntercept()
	s.installShortcuts()
	w.SetMaster()
	tour := s.startScreenshotTour()
	w.ShowAndRun()
	if tour != nil {
		if err := <-tour; err != nil {
			fmt.Fprintln(os.Stderr, "custodian: screenshots:", err)
			os.Exit(1)
		}
	}
}

// guiGCPercent is the garbage collector's target for the GUI: the heap may
// grow by half its live size between collections instead of doubling. The
// live heap at Home is about 34 MB (mostly Fyne's parsed fonts), so
// Go's default let the process sit up to about 30 MB above it for nothing;
// the window is idle most of the time, so the extra collections cost
// nothing a person notices. GOGC, when set, still decides.
const guiGCPercent = 50

// tuneGC applies guiGCPercent unless the environment sets GOGC.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(guiGCPercent)
	}
}

// Window sizes: the default, and the smallest the screens are made for
// (every screen fits it without being cut off; taller content scrolls).
var (
	defaultSize = fyne.NewSize(1280, 800)
	minimumSize = fyne.NewSize(1024, 768)
)

const prefWidth, prefHeight = "window.width", "window.height"

// savedSize is the window size of the last session, or the default.
func savedSize(a fyne.App) fyne.Size {
	p := a.Preferences()
	w := float32(p.FloatWithFallback(prefWidth, float64(defaultSize.Width)))
	h := float32(p.FloatWithFallback(prefHeight, float64(defaultSize.Height)))
	if w < 200 || h < 200 || w > 16384 || h > 16384 {
		return defaultSize
	}
	return fyne.NewSize(w, h)
}

func saveSize(a fyne.App, size fyne.Size) {
	if size.Width < 200 || size.Height < 200 {
		return
	}
	a.Preferences().SetFloat(prefWidth, float64(size.Width))
	a.Preferences().SetFloat(prefHeight, float64(size.Height))
}

func newShell(a fyne.App, w fyne.Window, id Identity, opts Options) *shell {
	if opts.WorkDir == "" {
		opts.WorkDir, _ = os.Getwd()
	}
	s := &shell{app: a, win: w, id: id, content: container.NewStack(), workDir: opts.WorkDir, pkcs11Modules: opts.PKCS11Modules}
	w.SetContent(s.content)
	return s
}

// installCloseIntercept makes the window's close button ask first during
// a ceremony (see confirmLeave, quit) instead of ending the app.
func (s *shell) installCloseIntercept() { s.win.SetCloseIntercept(s.quit) }

// actions are the home screen's entries.
func (s *shell) actions() map[string]func() {
	return map[string]func(){
		"Activation":  s.activationSetup,
		"Recovery":    s.recoverySetup,
		"Rotation":    s.rotationSetup,
		"Drill":       s.drillScreen,
		"Tokens":      s.tokensScreen,
		"Verify":      s.verifyScreen,
		"Transfer":    s.transferScreen,
		"Transcripts": s.transcriptsScreen,
	}
}

// productionTokens serves YubiKeys, PKCS#11 tokens on the production
// module list and key files. (Tests give the shell a manager of drill
// tokens instead.)
func (s *shell) productionTokens() *token.Manager {
	if s.tokens != nil {
		return s.tokens
	}
	m, _ := ceremony.TokensFor(ceremony.TokenConfig{Mode: ceremony.Production, PKCS11Modules: s.pkcs11Modules})
	return m
}

// recorder opens the transcript of a new ceremony in dir.
func (s *shell) recorder(dir string, mode ceremony.Mode, kind, ceremonyID, hsm string) (ceremony.Recorder, error) {
	return ceremony.OpenTranscript(dir, mode, kind, ceremonyID, hsm)
}
