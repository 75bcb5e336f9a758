package gui

import (
	"context"
	"errors"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

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
