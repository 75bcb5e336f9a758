package gui

import (
	"context"
	"errors"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// showBlocked tells that custodian's token refused because its PIN is
// blocked, and how to unblock it (ceremony.UnblockAdvice). The ceremony
// is not touched: the shares already opened stay, and it waits for that
// custodian — who may unblock the token right here with the PUK (a
// YubiKey) and open again — or for another custodian.
func (s *shell) showBlocked(m *token.Manager, rec unblockRecorder, custodian, ref string, pe *token.PINError) {
	who := custodian
	if who == "" {
		who = "the custodian"
	}
	s.blockedDialog(m, rec, custodian, ref, pe, "open their share",
		"The shares opened so far are kept and the ceremony waits: "+who+" may unblock the token and open again, or another custodian may open theirs.")
}

// unblockRecorder records an unblock done during a ceremony (every
// workflow's ceremony.Lifecycle); nil outside one.
type unblockRecorder interface {
	RecordPINUnblocked(custodian string, tok token.Info) error
}

// blockedDialog is showBlocked for any step: doing is what the custodian
// could not do, waits what happens meanwhile. An unblock from it is
// recorded with rec.
func (s *shell) blockedDialog(m *token.Manager, rec unblockRecorder, custodian, ref string, pe *token.PINError, doing, waits string) {
	who := custodian
	if who == "" {
		who = "This custodian"
	}
	msg := widget.NewLabel(fmt.Sprintf("%s cannot %s: the PIN of %s is blocked.\n\nTo unblock: %s.\n\n",
		who, doing, pe.Token, ceremony.UnblockAdvice(pe.Token)) + waits)
	msg.Wrapping = fyne.TextWrapWord
	var d dialog.Dialog
	closeLabel := "Close (the ceremony waits)"
	if rec == nil {
		closeLabel = "Close" // no ceremony: the Tokens screen
	}
	wait := widget.NewButtonWithIcon(closeLabel, theme.ConfirmIcon(), func() { d.Hide() })
	wait.Importance = widget.HighImportance
	buttons := container.NewHBox(wait)
	tok := pe.Token
	if tok.Ref == nil {
		tok.Ref, _ = token.ParseURI(ref)
	}
	if ceremony.CanUnblockPIN(m, tok) {
		buttons.Add(widget.NewButtonWithIcon("Unblock with the PUK now", theme.LoginIcon(), func() {
			d.Hide()
			s.unblockDialog(m, tok, func() {
				if rec == nil {
					return
				}
				if err := rec.RecordPINUnblocked(custodian, tok); err != nil {
					dialog.ShowError(err, s.win)
				}
			})
		}))
	}
	d = dialog.NewCustomWithoutButtons("PIN blocked: "+who, container.NewVBox(msg, buttons), s.win)
	d.Resize(fyne.NewSize(dialogWidth, d.MinSize().Height))
	d.Show()
	s.focusSoon(wait)
}

// unblockDialog asks for the PUK and a new PIN (twice) in masked fields,
// the PUK focused, and sets the new PIN with ceremony.UnblockPIN. The
// entries are cleared when their text is taken and the bytes wiped after
// use; nothing is written anywhere. unblocked, when set, runs after a
// successful unblock (UI thread).
func (s *shell) unblockDialog(m *token.Manager, tok token.Info, unblocked func()) {
	puk, next, again := widget.NewPasswordEntry(), widget.NewPasswordEntry(), widget.NewPasswordEntry()
	puk.SetPlaceHolder("PUK")
	next.SetPlaceHolder("new PIN (6 to 8 characters)")
	again.SetPlaceHolder("new PIN again")
	about := widget.NewLabel(fmt.Sprintf("Unblock the PIN of %s with its PUK: the PUK sets a new PIN and resets the PIN tries. A wrong PUK uses up a PUK try.", tok))
	about.Wrapping = fyne.TextWrapWord
	items := []*widget.FormItem{widget.NewFormItem("PUK", puk), widget.NewFormItem("New PIN", next), widget.NewFormItem("New PIN again", again), widget.NewFormItem("", about)}
	s.showForm("Unblock PIN with PUK", "Unblock", "Cancel", items, func(ok bool) {
		p, n, a := []byte(puk.Text), []byte(next.Text), []byte(again.Text)
		puk.SetText("")
		next.SetText("")
		again.SetText("")
		if !ok {
			wipeAll(p, n, a)
			return
		}
		s.runUnblock(m, tok, p, n, a, false, unblocked)
	})
}

// runUnblock sends the unblock to the token on a worker goroutine and
// reports the outcome; with one PUK try left it asks first. It wipes
// puk, next and again on every path.
func (s *shell) runUnblock(m *token.Manager, tok token.Info, puk, next, again []byte, allowLastPUKTry bool, unblocked func()) {
	go func() {
		tokenUse.Lock()
		err := ceremony.UnblockPIN(context.Background(), m, tok.Ref.String(), puk, next, again, allowLastPUKTry)
		tokenUse.Unlock()
		s.do(func() {
			var pe *token.PINError
			switch {
			case err == nil:
				wipeAll(puk, next, again)
				if unblocked != nil {
					unblocked()
				}
				s.showText("PIN unblocked", fmt.Sprintf("%s has a new PIN and its PIN tries are reset. The custodian may now open their share with the new PIN.", tok))
			case errors.As(err, &pe) && pe.What == "PUK" && pe.LastRetry:
				s.askRisky("One PUK try left", ceremony.PUKAdvice(err), "Do not try", "Use the last PUK try", func(yes bool) {
					if !yes {
						wipeAll(puk, next, again)
						return
					}
					s.runUnblock(m, tok, puk, next, again, true, unblocked)
				})
			default:
				wipeAll(puk, next, again)
				msg := ceremony.PUKAdvice(err)
				if msg == "" {
					msg = "The PIN was not unblocked: " + err.Error()
				}
				s.showText("PIN not unblocked", msg)
			}
		})
	}()
}

// showText shows a message in a dialog wide enough to read it.
func (s *shell) showText(title, text string) {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustom(title, "Close", l, s.win)
	d.Resize(fyne.NewSize(dialogWidth, d.MinSize().Height))
	d.Show()
}

func wipeAll(bs ...[]byte) {
	for _, b := range bs {
		clear(b)
	}
}
