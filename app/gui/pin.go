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
		fyne.Do(func() {
			entry := widget.NewPasswordEntry()
			entry.SetPlaceHolder(req.What)
			msg := fmt.Sprintf("%s for %s", req.What, req.Token)
			if req.Reason != "" {
				msg += "\nto " + req.Reason
			}
			if req.RetriesLeft >= 0 {
				msg += fmt.Sprintf("\n%d tries left", req.RetriesLeft)
			}
			if req.RetriesLeft == 1 {
				msg += " — a wrong " + req.What + " will block the token"
			}
			d := dialog.NewForm("Enter "+req.What, "OK", "Cancel",
				[]*widget.FormItem{widget.NewFormItem(req.What, entry)},
				func(ok bool) {
					if !ok {
						answer <- nil
						return
					}
					answer <- []byte(entry.Text)
					entry.SetText("")
				}, s.win)
			d.Show()
			entry.OnSubmitted = func(string) { d.Submit() }
			s.win.Canvas().Focus(entry)
		})
		select {
		case pin := <-answer:
			if pin == nil {
				return nil, errPINCancelled
			}
			return pin, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// touchPrompt shows "touch your token" while a token waits for a touch.
func (s *shell) touchPrompt() token.TouchFunc {
	return func(tok token.Info) {
		fyne.Do(func() {
			dialog.ShowInformation("Touch your token", "Touch the metal contact of "+tok.String()+" now.", s.win)
		})
	}
}
