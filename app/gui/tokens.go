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
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// tokensScreen lists the tokens present by name with their health, kept
// current while the screen is shown, and offers the actions each token's
// kind supports: PIN, PUK and management key changes only where the
// backend can make them (YubiKeys), never for PKCS#11 tokens or files.
func (s *shell) tokensScreen() {
	m := s.productionTokens()
	p := s.newTokenPicker(m, "")
	p.radio.Hide()
	p.Ref.Hide()
	p.detail.Hide()
	list := container.NewVBox()
	p.onRows = func(choices []ceremony.TokenChoice, _ []error) {
		list.RemoveAll()
		for _, c := range choices {
			list.Add(s.tokenCard(m, c))
		}
	}
	intro := widget.NewLabel("The tokens plugged in now; the list follows tokens being plugged in or removed.")
	intro.Wrapping = fyne.TextWrapWord
	s.show(ceremony.Production, "Tokens", container.NewVBox(intro, p.box, list))
	p.start()
}

// tokenCard is one token on the Tokens screen: what it is, its health,
// and the actions its kind supports.
func (s *shell) tokenCard(m *token.Manager, c ceremony.TokenChoice) fyne.CanvasObject {
	text := c.Detail()
	if h := c.Health; h != nil {
		if c.Info.Kind == token.KindYubiKey {
			text += fmt.Sprintf("\nPUK tries left: %s · default PIN: %s · default PUK: %s · default management key: %s",
				c.PUKTries, h.DefaultPIN, h.DefaultPUK, h.DefaultManagementKey)
		}
		if len(h.FreeSlots) > 0 {
			text += fmt.Sprintf("\nfree slots: %v", h.FreeSlots)
		}
		for _, w := range h.Warnings {
			text += "\nwarning: " + w
		}
	}
	body := widget.NewLabel(text)
	body.Wrapping = fyne.TextWrapWord
	ref := widget.NewLabelWithStyle(c.Ref, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	ref.Wrapping = fyne.TextWrapBreak
	ref.SizeName = theme.SizeNameCaptionText
	in := c.Info
	var actions []fyne.CanvasObject
	add := func(a ceremony.TokenAction, label string, f func()) {
		if c.Can(a) {
			actions = append(actions, widget.NewButton(label, f))
		}
	}
	add(ceremony.ActionEnroll, "Enroll a key", func() { s.enrollDialog(m, in) })
	add(ceremony.ActionAttest, "Attestation", func() { s.attestDialog(m, in) })
	add(ceremony.ActionChangePIN, "Change PIN", func() { s.changeCredential(m, in, "PIN") })
	add(ceremony.ActionChangePUK, "Change PUK", func() { s.changeCredential(m, in, "PUK") })
	add(ceremony.ActionManagementKey, "Random management key", func() { s.randomManagementKey(m, in) })
	add(ceremony.ActionUnblockPIN, "Unblock PIN with PUK", func() { s.unblockDialog(m, in, nil) })
	if in.Kind == token.KindPKCS11 {
		// Custodian cannot unblock a PKCS#11 token: say who can.
		actions = append(actions, widget.NewButton("PIN blocked?", func() {
			s.showText("A blocked PIN on "+in.String(), "To unblock: "+ceremony.UnblockAdvice(in)+".")
		}))
	}
	box := container.NewVBox(body, ref)
	if len(actions) > 0 {
		// A grid, not a row: five buttons in a row widened the window
		// past 1300 px.
		box.Add(container.NewGridWithColumns(3, actions...))
	} else {
		box.Add(widget.NewLabel("No actions for this kind of token here: change its PIN with its vendor's tools."))
	}
	// A wrapped heading rather than a card title: card titles do not
	// wrap, and a long PKCS#11 label would widen the window.
	title := widget.NewLabelWithStyle(c.Title(), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.Wrapping = fyne.TextWrapWord
	return container.NewVBox(widget.NewSeparator(), title, box)
}

// randomManagementKey replaces a YubiKey's factory management key.
func (s *shell) randomManagementKey(m *token.Manager, in token.Info) {
	// Outside a ceremony a last PIN try is asked but not recorded.
	s.withLastTry(nil, "", token.OpenOptions{PIN: s.pinPrompt()}, func(o token.OpenOptions) error {
		return m.SetRandomManagementKey(context.Background(), in.Ref.String(), o)
	}, func(err error) {
		if err != nil {
			s.showTokenError(m, in, err)
		} else {
			dialog.ShowInformation("Management key set", "A random management key is stored on the token, protected by its PIN.", s.win)
		}
	})
}

// changeCredential asks for the current and new PIN (or PUK), twice for
// the new one, and changes it on the token.
func (s *shell) changeCredential(m *token.Manager, tok token.Info, what string) {
	current, next, again := widget.NewPasswordEntry(), widget.NewPasswordEntry(), widget.NewPasswordEntry()
	s.showForm("Change "+what+" of "+tok.String(), "Change", "Cancel", []*widget.FormItem{
		widget.NewFormItem("Current "+what, current), widget.NewFormItem("New "+what, next), widget.NewFormItem("New "+what+" again", again)},
		func(ok bool) {
			if !ok {
				current.SetText("")
				next.SetText("")
				again.SetText("")
				return
			}
			if next.Text != again.Text {
				dialog.ShowInformation("Not changed", "The two new "+what+"s differ.", s.win)
				return
			}
			cur, nxt := []byte(current.Text), []byte(next.Text)
			current.SetText("")
			next.SetText("")
			again.SetText("")
			s.runChangeCredential(m, tok, what, cur, nxt, false)
		})
}

// runChangeCredential changes the PIN or PUK on a worker goroutine; with
// one try left it asks first ("Do not try" the default). It wipes cur and
// nxt on every path.
func (s *shell) runChangeCredential(m *token.Manager, tok token.Info, what string, cur, nxt []byte, allowLast bool) {
	go func() {
		tokenUse.Lock()
		err := m.ChangeCredential(context.Background(), tok.Ref.String(), what, cur, nxt, allowLast)
		tokenUse.Unlock()
		s.do(func() {
			if pe := ceremony.LastTry(err); pe != nil {
				s.askRisky("One "+what+" try left", fmt.Sprintf("%s has ONE %s try left: a wrong %s now blocks it. Try only if you are sure of the current %s.", tok, what, what, what),
					"Do not try", "Use the last try", func(yes bool) {
						if !yes {
							wipeAll(cur, nxt)
							return
						}
						s.runChangeCredential(m, tok, what, cur, nxt, true)
					})
				return
			}
			wipeAll(cur, nxt)
			if err != nil {
				s.showTokenError(m, tok, err)
				return
			}
			dialog.ShowInformation(what+" changed", "The "+what+" of "+tok.String()+" is changed.", s.win)
		})
	}()
}

// showTokenError reports a failed token action; a blocked PIN comes with
// how to unblock it (and, for a YubiKey, the unblock itself).
func (s *shell) showTokenError(m *token.Manager, tok token.Info, err error) {
	if pe := ceremony.Blocked(err); pe != nil && pe.What != "PUK" {
		s.blockedDialog(m, nil, "", tok.Ref.String(), pe, "use this token", "Nothing was changed on the token.")
		return
	}
	var declined *lastTryDeclinedError
	if errors.As(err, &declined) {
		s.showText("Not tried", "The last PIN try was not used: nothing was sent to the token.")
		return
	}
	dialog.ShowError(err, s.win)
}

// enrollDialog generates a custodian key on the token outside a ceremony
// (the CLI's token enroll) and writes its certificate.
func (s *shell) enrollDialog(m *token.Manager, tok token.Info) {
	name := widget.NewEntry()
	ceremonyID := widget.NewEntry()
	bits := widget.NewSelect([]string{"2048", "3072", "4096"}, nil)
	bits.SetSelected("2048")
	slot := widget.NewEntry()
	slot.SetText("9d")
	touch := widget.NewSelect([]string{"never", "always", "cached"}, nil)
	touch.SetSelected("never")
	out := widget.NewEntry()
	out.SetPlaceHolder("where to write the certificate (.cer)")
	s.showForm("Enroll a custodian key on "+tok.String(), "Generate", "Cancel", []*widget.FormItem{
		widget.NewFormItem("Custodian", name), widget.NewFormItem("Ceremony", ceremonyID), widget.NewFormItem("Key size", bits),
		widget.NewFormItem("Slot (YubiKey)", slot), widget.NewFormItem("Touch (YubiKey)", touch), widget.NewFormItem("Certificate file", out)},
		func(ok bool) {
			if !ok {
				return
			}
			progress := dialog.NewCustomWithoutButtons("Generating the key on the token", widget.NewProgressBarInfinite(), s.win)
			progress.Show()
			req := token.EnrollRequest{Name: name.Text, CeremonyID: ceremonyID.Text, Bits: atoi(bits.Selected), Slot: slot.Text, Touch: token.TouchPolicy(touch.Selected)}
			path := out.Text
			var enr *token.Enrollment
			s.withLastTry(nil, name.Text, token.OpenOptions{PIN: s.pinPrompt(), Touch: s.touchPrompt()}, func(o token.OpenOptions) (err error) {
				enr, _, err = ceremony.AdmissionPolicy{Mode: ceremony.Production}.Enroll(context.Background(), m, tok.Ref.String(), req, o)
				if err == nil {
					err = safefile.Write(path, token.CertificatePEM(enr.Certificate))
				}
				return err
			}, func(err error) {
				progress.Hide()
				if err != nil {
					s.showTokenError(m, tok, err)
					return
				}
				fp := fingerprint.Of(enr.Certificate.Raw)
				dialog.ShowInformation("Key enrolled", fmt.Sprintf("%s\ncertificate written to %s\nSHA-256 %s\n%s\n\n%s", enr.Ref, path, fp.GroupedHex(), fp.WordString(), attestationText(enr.Attestation)), s.win)
			})
		})
}

// attestDialog shows the evidence that a token's key was generated on it.
func (s *shell) attestDialog(m *token.Manager, tok token.Info) {
	ref := widget.NewEntry()
	ref.SetText(tok.Ref.String())
	if tok.Kind == token.KindYubiKey {
		ref.SetText(tok.Ref.With("slot", "9d").String())
	}
	s.showForm("Attestation", "Check", "Cancel", []*widget.FormItem{widget.NewFormItem("Key", ref)}, func(ok bool) {
		if !ok {
			return
		}
		r := ref.Text
		var att *token.Attestation
		s.withLastTry(nil, "", token.OpenOptions{PIN: s.pinPrompt(), Touch: s.touchPrompt()}, func(o token.OpenOptions) error {
			k, err := m.OpenKey(context.Background(), r, o)
			if err == nil {
				att, err = k.Attest(context.Background())
				k.Close()
			}
			return err
		}, func(err error) {
			if err != nil {
				s.showTokenError(m, tok, err)
				return
			}
			dialog.ShowInformation("Attestation of "+r, attestationText(att), s.win)
		})
	})
}

func attestationText(a *token.Attestation) string {
	if a == nil {
		return "no attestation"
	}
	text := "attestation: " + a.Status.String()
	for _, f := range a.Facts {
		text += fmt.Sprintf("\n%s: %s", f.Name, f.Value)
	}
	return text
}
