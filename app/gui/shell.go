package gui

import (
	"image/color"
	"path/filepath"
	"sync"
	"sync/atomic"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/ceremony/airgap"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// shell is the window's frame: a mode banner, the current screen, and the
// status bar. Screens replace each other through show; Home returns to the
// start.
type shell struct {
	app     fyne.App
	win     fyne.Window
	id      Identity
	mode    ceremony.Mode
	content *fyne.Container
	// workDir is where drills put their folders (a temp dir by default).
	workDir string
	// pkcs11Modules are the --pkcs11-module paths given at start.
	pkcs11Modules []string
	// wizard is the activation or recovery wizard on screen (nil on Home
	// and set-up screens), for the screenshot tour and tests.
	wizard any
	// tourStopped is set when the app stops during a screenshot tour.
	tourStopped atomic.Bool
	// uiLock, when set (tests), is held by every update that workers send
	// to the window. Fyne's test driver runs fyne.Do on the worker's own
	// goroutine, so a test that looks at the window holds it too.
	uiLock *sync.Mutex
	// leave, when set, is called once when the current screen is
	// replaced: a screen that animates or scans stops there.
	leave func()
	// screenGen counts screens shown, so a focus scheduled for one screen
	// is not applied to the next.
	screenGen int
	// focusPending counts focus changes scheduled and not yet made (tests
	// wait for none before looking at the screen).
	focusPending atomic.Int32
	// tokens, when set (tests), replaces the production token manager.
	tokens *token.Manager
	// airGap, when set (tests), replaces the live air-gap self-check.
	airGap func() *airgap.Report
	// drill is the drill running (nil outside a drill). It is closed
	// when the drill ends (Home, or a new drill): a drill still running is
	// abandoned, and its session closed, which puts back the process
	// environment its tokens needed (SoftHSM configuration, PC/SC socket):
	// a production ceremony started afterwards in the same window sees
	// none of the drill's tokens.
	drill *ceremony.DrillRun
}

// endDrill closes the running drill, if any.
func (s *shell) endDrill() {
	if s.drill != nil {
		_ = s.drill.Close()
		s.drill = nil
	}
}

// focusSoon gives f the focus once the key event being handled is over.
// A person who presses Space on a button that changes the screen must not
// have that Space typed into the next screen's first field: the driver
// delivers the key press (which presses the button) and then the typed
// character to whatever is focused by then. Focusing through the event
// queue lets the character go by first.
func (s *shell) focusSoon(f fyne.Focusable) {
	gen := s.screenGen
	c := s.win.Canvas()
	s.focusPending.Add(1)
	go s.do(func() {
		defer s.focusPending.Add(-1)
		if s.screenGen == gen {
			c.Focus(f)
		}
	})
}

// focusDialogSoon focuses the first field of a dialog just shown (see
// focusSoon), unless the screen changed meanwhile.
func (s *shell) focusDialogSoon(items []*widget.FormItem) {
	for _, it := range items {
		if f := firstFocusable(it.Widget); f != nil {
			s.focusSoon(f)
			return
		}
	}
}

// dialogWidth keeps form dialogs wide enough to read what is typed in
// them; Fyne sizes a dialog to its fields' minimum, about 70 px for an
// empty entry.
const dialogWidth = 560

// showForm shows a form dialog wide enough to read and with the cursor in
// its first field.
func (s *shell) showForm(title, confirm, dismiss string, items []*widget.FormItem, cb func(bool)) dialog.Dialog {
	d := dialog.NewForm(title, confirm, dismiss, items, cb, s.win)
	d.Resize(fyne.NewSize(max(dialogWidth, d.MinSize().Width), d.MinSize().Height))
	d.Show()
	s.focusDialogSoon(items)
	return d
}

// onLeave registers what to stop when the current screen is replaced
// (several may be registered; all run).
func (s *shell) onLeave(f func()) {
	prev := s.leave
	s.leave = func() {
		if prev != nil {
			prev()
		}
		f()
	}
}

// left runs and clears the current screen's leave hook.
func (s *shell) left() {
	if s.leave != nil {
		f := s.leave
		s.leave = nil
		f()
	}
}

// do sends an update from a worker goroutine to the window (fyne.Do).
func (s *shell) do(f func()) {
	if s.uiLock == nil {
		fyne.Do(f)
		return
	}
	fyne.Do(func() {
		s.uiLock.Lock()
		defer s.uiLock.Unlock()
		f()
	})
}

var drillColor = color.NRGBA{R: 0xd3, G: 0x5f, B: 0x00, A: 0xff}
var productionColor = color.NRGBA{R: 0x12, G: 0x2b, B: 0x4a, A: 0xff}

// banner says PRODUCTION or DRILL at the top of every screen, in colours
// that cannot be confused.
func banner(mode ceremony.Mode) fyne.CanvasObject {
	text := "PRODUCTION — real keys, real HSM"
	bg := productionColor
	if mode == ceremony.Drill {
		text = "DRILL — REHEARSAL ONLY — simulated HSM, nothing here is production"
		bg = drillColor
	}
	label := canvas.NewText(text, color.White)
	label.TextStyle = fyne.TextStyle{Bold: true}
	label.Alignment = fyne.TextAlignCenter
	label.TextSize = theme.TextSize() * 1.2
	rect := canvas.NewRectangle(bg)
	return container.NewStack(rect, container.NewPadded(label))
}

// watermark lays a faint DRILL across a drill screen's content.
func watermark(mode ceremony.Mode, content fyne.CanvasObject) fyne.CanvasObject {
	if mode != ceremony.Drill {
		return content
	}
	mark := canvas.NewText("DRILL", color.NRGBA{R: 0xd3, G: 0x5f, B: 0x00, A: 0x28})
	mark.TextSize = 160
	mark.TextStyle = fyne.TextStyle{Bold: true}
	mark.Alignment = fyne.TextAlignCenter
	return container.NewStack(container.NewCenter(mark), content)
}

// show replaces the screen. title names the step for people who come back
// to the machine after a pause.
func (s *shell) show(mode ceremony.Mode, title string, body fyne.CanvasObject) {
	s.left()
	s.mode = mode
	heading := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	heading.SizeName = theme.SizeNameSubHeadingText
	home := widget.NewButtonWithIcon("Home", theme.HomeIcon(), s.goHome)
	top := container.NewVBox(banner(mode), container.NewHBox(home, heading))
	s.content.Objects = []fyne.CanvasObject{container.NewBorder(top, statusBar(s.id, s.checkAirGap()), nil, nil,
		watermark(mode, container.NewVScroll(container.NewPadded(body))))}
	s.content.Refresh()
	s.screenGen++
	// Nothing of the previous screen may keep the focus: Space on a
	// focused button that is no longer shown would still press it.
	s.win.Canvas().Unfocus()
	// Keyboard users start at the first field of each screen.
	if f := firstFocusable(body); f != nil {
		s.focusSoon(f)
	}
}

func (s *shell) home() {
	s.left()
	s.endDrill()
	s.mode = ceremony.Production
	s.wizard = nil
	s.content.Objects = []fyne.CanvasObject{newHome(s.id, s.actions(), s.themeSwitch())}
	s.content.Refresh()
	s.screenGen++
	s.win.Canvas().Unfocus()
}

// busy runs work off the UI thread so the window stays responsive while
// tokens are provisioned, keys generated or files synced to a USB stick:
// the button is disabled and status says what is happening, then done
// runs on the UI thread with work's error.
func (s *shell) busy(b *widget.Button, status *widget.Label, doing string, work func() error, done func(error)) {
	b.Disable()
	status.SetText(doing + "…")
	go func() {
		err := work()
		s.do(func() {
			b.Enable()
			status.SetText("")
			done(err)
		})
	}()
}

// firstFocusable finds the first entry or button in a screen.
func firstFocusable(o fyne.CanvasObject) fyne.Focusable {
	switch v := o.(type) {
	case *widget.Entry:
		if !v.Disabled() {
			return v
		}
	case *fyne.Container:
		for _, c := range v.Objects {
			if f := firstFocusable(c); f != nil {
				return f
			}
		}
	case *widget.Form:
		for _, it := range v.Items {
			if f := firstFocusable(it.Widget); f != nil {
				return f
			}
		}
	}
	return nil
}

// themeSwitch chooses the light, dark or the desktop's theme; the choice
// is kept for the next start.
func (s *shell) themeSwitch() fyne.CanvasObject {
	sel := widget.NewSelect(themeChoices, func(choice string) { applyTheme(s.app, choice) })
	sel.Selected = savedTheme(s.app)
	return container.NewHBox(widget.NewLabel("Theme"), sel)
}

// twoColumns lays out label/value pairs.
func twoColumns(objs ...fyne.CanvasObject) fyne.CanvasObject {
	return container.New(layout.NewFormLayout(), objs...)
}

// cancelButton asks for confirmation, then cancels the ceremony on screen
// (which wipes what it holds) and returns Home.
func (s *shell) cancelButton(question, detail string, cancel func()) *widget.Button {
	return widget.NewButtonWithIcon("Cancel ceremony", theme.CancelIcon(), func() {
		dialog.ShowConfirm(question, detail, func(ok bool) {
			if ok {
				cancel()
				s.home()
			}
		}, s.win)
	})
}

// orShow returns a completion callback that shows an error in status, or
// goes on with next.
func orShow(status *widget.Label, next func()) func(error) {
	return func(err error) {
		if err != nil {
			status.SetText(err.Error())
			return
		}
		next()
	}
}

// exceptionButton records a deviation from the script during a ceremony:
// what deviated and who approved it, straight into the transcript.
func (s *shell) exceptionButton(witness string, record func(what, approvedBy string) error) *widget.Button {
	return widget.NewButtonWithIcon("Record an exception", theme.WarningIcon(), func() {
		what := widget.NewMultiLineEntry()
		what.SetPlaceHolder("what deviated from the script")
		by := widget.NewEntry()
		by.SetText(witness)
		s.showForm("Exception", "Record", "Back", []*widget.FormItem{
			widget.NewFormItem("What", what), widget.NewFormItem("Approved by", by)}, func(ok bool) {
			if !ok {
				return
			}
			if err := record(what.Text, by.Text); err != nil {
				dialog.ShowError(err, s.win)
				return
			}
			dialog.ShowInformation("Exception recorded", "It is in the transcript and will be highlighted on the printed record.", s.win)
		})
	})
}

// exportFolder is the entry for a new output folder: in a drill it points
// into the drill's own folder, otherwise the person names a new folder on
// the export medium.
func exportFolder(session *ceremony.DrillSession, drillName string) *widget.Entry {
	dir := widget.NewEntry()
	if session != nil {
		dir.SetText(filepath.Join(session.Dir, drillName))
	} else {
		dir.SetPlaceHolder("a new folder on the export medium")
	}
	return dir
}
