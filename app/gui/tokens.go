package gui

import (
	"context"
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

// tokensScreen lists the tokens present with their identity and health,
// and changes PINs, PUKs and management keys.
func (s *shell) tokensScreen() {
	list := container.NewVBox(widget.NewLabel("Looking for tokens…"))
	m := s.productionTokens()
	refresh := func() {
		go func() {
			infos, errs := m.List(context.Background())
			type row struct {
				info   token.Info
				health token.Health
				err    error
			}
			var rows []row
			for _, in := range infos {
				h, err := m.Health(context.Background(), in.Ref.String(), token.OpenOptions{})
				rows = append(rows, row{in, h, err})
			}
			s.do(func() {
				list.RemoveAll()
				for _, e := range errs {
					list.Add(widget.NewLabel("note: " + e.Error()))
				}
				if len(rows) == 0 {
					list.Add(widget.NewLabel("No tokens found. Insert a YubiKey, or set CUSTODIAN_PKCS11_MODULE for a PKCS#11 token."))
				}
				for _, r := range rows {
					r := r
					text := r.info.Ref.String()
					if r.err != nil {
						text += "\nhealth: " + r.err.Error()
					} else {
						text += fmt.Sprintf("\nPIN tries left: %d · PUK tries left: %d · default PIN: %s · default PUK: %s · default management key: %s",
							r.health.PINRetries, r.health.PUKRetries, r.health.DefaultPIN, r.health.DefaultPUK, r.health.DefaultManagementKey)
						if len(r.health.FreeSlots) > 0 {
							text += fmt.Sprintf("\nfree slots: %v", r.health.FreeSlots)
						}
						for _, w := range r.health.Warnings {
							text += "\nwarning: " + w
						}
					}
					body := widget.NewLabel(text)
					body.Wrapping = fyne.TextWrapWord
					actions := container.NewHBox(
						widget.NewButton("Enroll a key", func() { s.enrollDialog(m, r.info) }),
						widget.NewButton("Attestation", func() { s.attestDialog(m, r.info) }),
						widget.NewButton("Change PIN", func() { s.changeCredential(m, r.info, "PIN") }),
						widget.NewButton("Change PUK", func() { s.changeCredential(m, r.info, "PUK") }),
						widget.NewButton("Random management key", func() {
							go func() {
								err := m.SetRandomManagementKey(context.Background(), r.info.Ref.String(), token.OpenOptions{PIN: s.pinPrompt()})
								s.do(func() {
									if err != nil {
										dialog.ShowError(err, s.win)
									} else {
										dialog.ShowInformation("Management key set", "A random management key is stored on the token, protected by its PIN.", s.win)
									}
								})
							}()
						}),
					)
					list.Add(widget.NewCard(r.info.String(), "", container.NewVBox(body, actions)))
				}
			})
		}()
	}
	refresh()
	s.show(ceremony.Production, "Tokens", container.NewVBox(
		widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), refresh), list))
}

// changeCredential asks for the current and new PIN (or PUK), twice for
// the new one, and changes it on the token.
func (s *shell) changeCredential(m *token.Manager, tok token.Info, what string) {
	current, next, again := widget.NewPasswordEntry(), widget.NewPasswordEntry(), widget.NewPasswordEntry()
	dialog.ShowForm("Change "+what+" of "+tok.String(), "Change", "Cancel", []*widget.FormItem{
		widget.NewFormItem("Current "+what, current), widget.NewFormItem("New "+what, next), widget.NewFormItem("New "+what+" again", again)},
		func(ok bool) {
			if !ok {
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
			go func() {
				err := m.ChangeCredential(context.Background(), tok.Ref.String(), what, cur, nxt, false)
				clear(cur)
				clear(nxt)
				s.do(func() {
					if err != nil {
						dialog.ShowError(err, s.win)
						return
					}
					dialog.ShowInformation(what+" changed", "The "+what+" of "+tok.String()+" is changed.", s.win)
				})
			}()
		}, s.win)
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
	dialog.ShowForm("Enroll a custodian key on "+tok.String(), "Generate", "Cancel", []*widget.FormItem{
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
			go func() {
				enr, _, err := ceremony.AdmissionPolicy{Mode: ceremony.Production}.Enroll(context.Background(), m, tok.Ref.String(), req, token.OpenOptions{PIN: s.pinPrompt(), Touch: s.touchPrompt()})
				if err == nil {
					err = safefile.Write(path, token.CertificatePEM(enr.Certificate))
				}
				s.do(func() {
					progress.Hide()
					if err != nil {
						dialog.ShowError(err, s.win)
						return
					}
					fp := fingerprint.Of(enr.Certificate.Raw)
					dialog.ShowInformation("Key enrolled", fmt.Sprintf("%s\ncertificate written to %s\nSHA-256 %s\n%s\n\n%s", enr.Ref, path, fp.GroupedHex(), fp.WordString(), attestationText(enr.Attestation)), s.win)
				})
			}()
		}, s.win)
}

// attestDialog shows the evidence that a token's key was generated on it.
func (s *shell) attestDialog(m *token.Manager, tok token.Info) {
	ref := widget.NewEntry()
	ref.SetText(tok.Ref.String())
	if tok.Kind == token.KindYubiKey {
		ref.SetText(tok.Ref.With("slot", "9d").String())
	}
	dialog.ShowForm("Attestation", "Check", "Cancel", []*widget.FormItem{widget.NewFormItem("Key", ref)}, func(ok bool) {
		if !ok {
			return
		}
		r := ref.Text
		go func() {
			k, err := m.OpenKey(context.Background(), r, token.OpenOptions{PIN: s.pinPrompt(), Touch: s.touchPrompt()})
			var att *token.Attestation
			if err == nil {
				att, err = k.Attest(context.Background())
				k.Close()
			}
			s.do(func() {
				if err != nil {
					dialog.ShowError(err, s.win)
					return
				}
				dialog.ShowInformation("Attestation of "+r, attestationText(att), s.win)
			})
		}()
	}, s.win)
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
