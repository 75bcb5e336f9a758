package gui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// errPINCancelled is returned to the token when the person cancels.
var errPINCancelled = errors.New("PIN entry cancelled")

// pinPrompt returns a token.PINFunc that asks on the UI thread in a masked
// field and blocks the calling worker goroutine until the person answers.
// The entry is cleared as soon as its text is taken.
func (s *shell) pinPrompt() token.PINFunc {
	return func(ctx context.Context, req token.PINRequest) ([]byte, error) {
		answer := make(chan []byte, 1)
		shown := make(chan dialog.Dialog, 1)
		s.do(func() {
			entry := widget.NewPasswordEntry()
			entry.SetPlaceHolder(req.What)
			msg := fmt.Sprintf("%s for %s", req.What, req.Token)
			if req.Reason != "" {
				msg += "\nto " + req.Reason
			}
			switch {
			case req.RetriesLeft == 1:
				msg += "\n1 try left — a wrong " + req.What + " will block the token"
			case req.RetriesLeft >= 0:
				msg += fmt.Sprintf("\n%d tries left", req.RetriesLeft)
			}
			// Which token, why, and how many tries are left: a person must
			// know before typing, most of all when one try is left.
			about := widget.NewLabel(msg)
			d := dialog.NewForm("Enter "+req.What, "OK", "Cancel",
				[]*widget.FormItem{widget.NewFormItem("", about), widget.NewFormItem(req.What, entry)},
				func(ok bool) {
					if !ok {
						answer <- nil
						return
					}
					answer <- []byte(entry.Text)
					entry.SetText("")
				}, s.win)
			d.Resize(fyne.NewSize(max(dialogWidth, d.MinSize().Width), d.MinSize().Height))
			d.Show()
			entry.OnSubmitted = func(string) { d.Submit() }
			s.win.Canvas().Focus(entry)
			shown <- d
		})
		select {
		case pin := <-answer:
			if pin == nil {
				return nil, errPINCancelled
			}
			return pin, nil
		case <-ctx.Done():
			// Nobody waits for this dialog any more: take it away.
			d := <-shown
			s.do(d.Hide)
			return nil, ctx.Err()
		}
	}
}

// touchPrompt shows "touch your token" while a token waits for a touch.
func (s *shell) touchPrompt() token.TouchFunc {
	return func(tok token.Info) {
		s.do(func() {
			dialog.ShowInformation("Touch your token", "Touch the metal contact of "+tok.String()+" now.", s.win)
		})
	}
}

// lastTryConfirmer records that a custodian confirmed the last PIN try
// (every workflow's ceremony.Lifecycle). Outside a ceremony (the Tokens
// screen) there is nothing to record it in, and it is nil.
type lastTryConfirmer interface {
	ConfirmLastTry(custodian string, tok token.Info, confirmedBy string) error
}

// lastTryDeclinedError is the custodian choosing not to use the last PIN
// try: nothing was tried, the ceremony stays where it was.
type lastTryDeclinedError struct {
	custodian string
	tok       token.Info
}

func (e *lastTryDeclinedError) Error() string {
	return fmt.Sprintf("%s did not use the last PIN try of %s: nothing was tried. When sure of the PIN, open again; or another custodian may open theirs.", e.custodian, e.tok)
}

// withLastTry runs try (which opens a key with opts) on a worker
// goroutine. When the token refuses because one PIN try is left, the
// custodian is told (ceremony.LastTryWarning) and asked, with "Do not try"
// as the default; on an explicit "Use the last try" the confirmation is
// recorded with l (who: the custodian named on screen) and try runs again
// with the last try allowed. done runs on the UI thread with the outcome:
// a *lastTryDeclinedError when the custodian declined.
func (s *shell) withLastTry(l lastTryConfirmer, custodian string, opts token.OpenOptions, open func(token.OpenOptions) error, done func(error)) {
	// No token listing talks to the card meanwhile (tokenUse).
	try := func(o token.OpenOptions) error {
		tokenUse.Lock()
		defer tokenUse.Unlock()
		return open(o)
	}
	go func() {
		err := try(opts)
		pe := ceremony.LastTry(err)
		if pe == nil {
			s.do(func() { done(err) })
			return
		}
		s.do(func() {
			s.askLastTry(custodian, pe, func(yes bool) {
				if !yes {
					done(&lastTryDeclinedError{custodian: custodian, tok: pe.Token})
					return
				}
				if l != nil {
					if err := l.ConfirmLastTry(custodian, pe.Token, custodian); err != nil {
						done(err)
						return
					}
				}
				opts.AllowLastRetry = true
				go func() {
					err := try(opts)
					s.do(func() { done(err) })
				}()
			})
		})
	}()
}

// askLastTry shows the last-try warning with "Do not try" focused, so
// that Enter or Space keeps the try; answer gets the choice.
func (s *shell) askLastTry(custodian string, pe *token.PINError, answer func(bool)) {
	who := custodian
	if strings.TrimSpace(who) == "" {
		who = "The custodian"
	}
	s.askRisky("One PIN try left", ceremony.LastTryWarning(who, pe)+"\n\nOnly "+who+" decides; the choice is recorded in the transcript.",
		"Do not try", "Use the last try", answer)
}

// askRisky asks a question whose safe answer is the default: the safe
// button is focused (Enter or Space picks it), the risky one must be
// chosen on purpose. answer gets true for the risky choice.
func (s *shell) askRisky(title, text, safeLabel, riskyLabel string, answer func(bool)) {
	msg := widget.NewLabel(text)
	msg.Wrapping = fyne.TextWrapWord
	var d dialog.Dialog
	safe := widget.NewButtonWithIcon(safeLabel, theme.CancelIcon(), func() { d.Hide(); answer(false) })
	safe.Importance = widget.HighImportance
	risky := widget.NewButtonWithIcon(riskyLabel, theme.WarningIcon(), func() { d.Hide(); answer(true) })
	risky.Importance = widget.DangerImportance
	d = dialog.NewCustomWithoutButtons(title, container.NewVBox(msg, container.NewHBox(safe, risky)), s.win)
	d.Resize(fyne.NewSize(dialogWidth, d.MinSize().Height))
	d.Show()
	s.focusSoon(safe)
}
