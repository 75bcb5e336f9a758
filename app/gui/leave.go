package gui

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/ceremony/printout"
	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// lifecycled is a wizard whose ceremony has a lifecycle (both have).
type lifecycled interface {
	lifecycle() *ceremony.Lifecycle
}

func (w *activationWizard) lifecycle() *ceremony.Lifecycle { return w.a.Lifecycle }
func (w *recoveryWizard) lifecycle() *ceremony.Lifecycle   { return w.r.Lifecycle }

// abandoner is what leaving ends: a drill or a ceremony's lifecycle.
type abandoner interface {
	Abandon(why string) (*ceremony.Outcome, error)
}

// running is what leaving would end, or nil: a drill that has not ended
// (DrillRun abandons the workflow it runs, or closes its transcript
// between workflows), else the ceremony on screen that has not ended.
func (s *shell) running() abandoner {
	if s.drill != nil && s.drill.Outcome() == nil {
		return s.drill
	}
	if w, ok := s.wizard.(lifecycled); ok {
		if l := w.lifecycle(); l != nil && !l.Ended() {
			return l
		}
	}
	return nil
}

// confirmLeave runs then when no ceremony is running; during one it asks
// first, with Stay focused (Space or Enter stays), and on "End" abandons
// the ceremony: what it holds is wiped and its transcript closed as
// abandoned.
func (s *shell) confirmLeave(how string, then func()) {
	l := s.running()
	if l == nil {
		then()
		return
	}
	msg := widget.NewLabel("Shares opened so far will be wiped and the transcript closed as abandoned.")
	msg.Wrapping = fyne.TextWrapWord
	var d dialog.Dialog
	stay := widget.NewButtonWithIcon("Stay", theme.NavigateBackIcon(), func() { d.Hide() })
	stay.Importance = widget.HighImportance
	end := widget.NewButtonWithIcon("End the ceremony", theme.CancelIcon(), func() {
		d.Hide()
		// A transcript that cannot be closed is reported by the
		// Transcripts screen (seal); leaving goes ahead.
		_, _ = l.Abandon("left from the GUI (" + how + ")")
		s.wizard = nil
		then()
	})
	end.Importance = widget.DangerImportance
	d = dialog.NewCustomWithoutButtons("End this ceremony?", container.NewVBox(msg, container.NewHBox(stay, end)), s.win)
	d.Resize(fyne.NewSize(dialogWidth, d.MinSize().Height))
	d.Show()
	s.focusSoon(stay)
}

// goHome is the Home button and Ctrl+H: home, after asking during a
// ceremony.
func (s *shell) goHome() { s.confirmLeave("Home", s.home) }

// quit is Ctrl+Q and closing the window.
func (s *shell) quit() {
	s.confirmLeave("the window was closed", func() {
		// The drill's tokens are released (pcscd, SoftHSM set-up) before
		// the app goes.
		s.endDrill()
		saveSize(s.app, s.win.Canvas().Size())
		s.app.Quit()
	})
}

// endScreen is the last screen of a ceremony whose transcript is closed:
// how it ended, the final digest in hex and words, and the record to
// print. extra goes above (the recovery's blob).
func (s *shell) endScreen(mode ceremony.Mode, title string, o *ceremony.Outcome, extra ...fyne.CanvasObject) {
	items := append([]fyne.CanvasObject{}, extra...)
	if o == nil {
		s.home()
		return
	}
	items = append(items, widget.NewLabel(fmt.Sprintf("The ceremony ended: %s (%s).", o.Ending, o.Reason)))
	if o.Err != nil {
		l := widget.NewLabel("The transcript could not be closed: " + o.Err.Error())
		l.Wrapping = fyne.TextWrapWord
		items = append(items, l)
	}
	if fp, ok := fingerprint.FromHex(o.Digest); ok && o.Digest != "" {
		hex := widget.NewLabelWithStyle(fp.GroupedHex(), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
		hex.Wrapping = fyne.TextWrapBreak
		words := widget.NewLabelWithStyle(fp.WordString(), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		words.Wrapping = fyne.TextWrapWord
		items = append(items, widget.NewCard("Final digest of the transcript", "read it aloud; it goes on the signed record", container.NewVBox(hex, words)))
	}
	printed := widget.NewLabel("")
	printed.Wrapping = fyne.TextWrapWord
	if o.Transcript != "" {
		path := widget.NewLabelWithStyle(o.Transcript, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
		path.Wrapping = fyne.TextWrapBreak
		pr := widget.NewButtonWithIcon("Print the record", theme.DocumentPrintIcon(), func() {
			out, err := printRecord(o.Transcript)
			if err != nil {
				printed.SetText(err.Error())
				return
			}
			printed.SetText("Written " + out + ": print it, initial every page, sign.")
		})
		pr.Importance = widget.HighImportance
		items = append(items, path, pr, printed)
	}
	items = append(items, widget.NewButtonWithIcon("Back to Home", theme.HomeIcon(), s.home))
	s.wizard = nil
	s.show(mode, title, container.NewVBox(items...))
}

// printRecord writes the printable record (PDF) of a verified transcript
// next to it and returns its path.
func printRecord(path string) (string, error) {
	v, err := transcript.VerifyFile(path)
	if err != nil {
		return "", err
	}
	if !v.OK() {
		return "", fmt.Errorf("Not printed: the transcript failed verification; `custodian transcript print --force` prints it stamped FAILED VERIFICATION")
	}
	out := strings.TrimSuffix(path, filepath.Ext(path)) + "-record.pdf"
	var pdf bytes.Buffer
	if err := printout.Render(v, &pdf, printout.Options{Compress: true}); err != nil {
		return "", err
	}
	if err := safefile.Write(out, pdf.Bytes()); err != nil {
		return "", err
	}
	return out, nil
}
