package gui

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/drillhsm"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// recoveryWizard walks a recovery ceremony: load the SD and the exchange
// key, confirm the exchange key with the operator, then custodians open
// their shares one at a time, then the restore blob is written.
type recoveryWizard struct {
	s   *shell
	r   *ceremony.Recovery
	cfg ceremony.RecoveryConfig
	// In a drill, drill plays the operator and the HSM; session holds
	// its tokens.
	drill   *ceremony.DrillRun
	session *ceremony.DrillSession
	// sdName/sdBytes preload the SD file (a drill carries it over).
	sdName  string
	sdBytes []byte
	// blob is kept for the drill's upload check; blobPath is where it
	// was written.
	blob     []byte
	blobPath string
}

func (w *recoveryWizard) render() {
	w.s.wizard = w
	switch w.r.Step() {
	case ceremony.RecLoad:
		w.loadScreen()
	case ceremony.RecConfirm:
		w.confirmScreen()
	case ceremony.RecCustodians:
		w.custodianScreen()
	case ceremony.RecExport:
		w.exportScreen()
	case ceremony.RecDone:
		w.doneScreen()
	case ceremony.RecCancelled:
		w.s.home()
	}
}

func (w *recoveryWizard) cancelButton() fyne.CanvasObject {
	return container.NewGridWithColumns(2,
		w.s.exceptionButton(w.cfg.Witness, w.r.RecordException),
		w.s.cancelButton("Cancel the recovery?", "Every share opened so far is wiped from memory.",
			func() { _ = w.r.Cancel(w.cfg.Witness, "cancelled from the GUI") }))
}

func readFileLimited(path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("choose a file first")
	}
	return safefile.ReadLimited(path, sd.MaxFileSize)
}

func (w *recoveryWizard) loadScreen() {
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	sdPath := w.s.newFileInput("security domain file (from activation)")
	exPath := w.s.newFileInput("exchange key from init-recovery (PEM, DER or JSON)")
	// A witnessed exception admits an exchange key whose attestation fails
	// (ceremony.CheckExchangeKey); empty: none.
	exException := widget.NewEntry()
	exException.SetPlaceHolder("only if the exchange key's attestation fails: REASON; approved by NAME")
	items := []fyne.CanvasObject{}
	if w.drill != nil {
		var b *widget.Button
		b = widget.NewButtonWithIcon("Operator: start recovery on the drill HSM and bring the exchange key", theme.MailForwardIcon(), func() {
			// The drill HSM generates an RSA exchange key: seconds.
			w.s.busy(b, status, "The drill HSM is starting the recovery", func() error {
				if _, err := w.r.LoadSD(w.sdName, w.sdBytes); err != nil {
					return err
				}
				name, data, err := w.drill.OperatorInitRecovery()
				if err != nil {
					return err
				}
				_, err = w.r.LoadExchangeKey(name, data)
				return err
			}, orShow(status, w.render))
		})
		b.Importance = widget.HighImportance
		items = append(items, b)
	} else {
		load := widget.NewButton("Load both files", func() {
			sdName, sdData, err := sdPath.Read()
			if err != nil {
				status.SetText(err.Error())
				return
			}
			exName, exData, err := exPath.Read()
			if err != nil {
				status.SetText(err.Error())
				return
			}
			if _, err := w.r.LoadSD(sdName, sdData); err != nil {
				status.SetText(err.Error())
				return
			}
			if exc := strings.TrimSpace(exException.Text); exc != "" {
				e, err := ceremony.ParseWitnessedException(exc)
				if err == nil {
					err = w.r.SetExchangeKeyPolicy(ceremony.ExchangeKeyPolicy{Exception: e})
				}
				if err != nil {
					status.SetText(err.Error())
					return
				}
			}
			if _, err := w.r.LoadExchangeKey(exName, exData); err != nil {
				status.SetText(err.Error())
				return
			}
			w.render()
		})
		items = append(items, widget.NewForm(widget.NewFormItem("SD file", sdPath.box), widget.NewFormItem("Exchange key", exPath.box), widget.NewFormItem("Exception", exException)), load)
	}
	intro := widget.NewLabel("Load the security domain file and the new HSM's exchange key (from az keyvault security-domain init-recovery).")
	intro.Wrapping = fyne.TextWrapWord
	w.s.show(w.cfg.Mode, "Recovery — load the files", container.NewVBox(append(append([]fyne.CanvasObject{intro}, items...), status, w.cancelButton())...))
}

func (w *recoveryWizard) confirmScreen() {
	ex := w.r.ExchangeKey()
	fp := fingerprint.Of(ex.Certificate.Raw)
	hex := widget.NewLabelWithStyle(fp.GroupedHex(), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	hex.Wrapping = fyne.TextWrapWord
	words := widget.NewLabelWithStyle(fp.WordString(), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	words.Wrapping = fyne.TextWrapWord
	operator := widget.NewEntry()
	operator.SetPlaceHolder("operator's name")
	if w.session != nil {
		operator.SetText("Drill operator")
	}
	status := widget.NewLabel("")
	match := widget.NewButtonWithIcon("It matches what the HSM returned", theme.ConfirmIcon(), func() {
		if err := w.r.ConfirmExchangeKey(operator.Text, true); err != nil {
			status.SetText(err.Error())
			return
		}
		w.render()
	})
	match.Importance = widget.HighImportance
	noMatch := widget.NewButtonWithIcon("It does NOT match", theme.ErrorIcon(), func() {
		err := w.r.ConfirmExchangeKey(operator.Text, false)
		dialog.ShowError(err, w.s.win)
	})
	intro := widget.NewLabel("Read the exchange key's fingerprint aloud. The online operator compares it with what the HSM returned. A blob wrapped to the wrong key would hand the HSM's keys to whoever holds it.")
	intro.Wrapping = fyne.TextWrapWord
	w.s.show(w.cfg.Mode, "Recovery — confirm the exchange key", container.NewVBox(intro,
		widget.NewCard("Exchange key certificate SHA-256", ex.Certificate.Subject.String(), container.NewVBox(hex, words)),
		w.verdictCard(w.r.ExchangeKeyCheck()),
		widget.NewForm(widget.NewFormItem("Operator", operator)), container.NewHBox(match, noMatch), status, w.cancelButton()))
}

// verdictCard says beside the fingerprint whether the exchange key was
// made inside a genuine HSM enclave, in words a custodian reads aloud,
// with every fact the check found one click away.
func (w *recoveryWizard) verdictCard(c *ceremony.ExchangeKeyCheck) fyne.CanvasObject {
	if c == nil {
		return widget.NewLabel("The exchange key's attestation was not checked.")
	}
	verdict := widget.NewLabelWithStyle(c.Sentence(), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	verdict.Wrapping = fyne.TextWrapWord
	// The sentence names a witness's exception when there is one.
	items := []fyne.CanvasObject{verdict}
	details := widget.NewButtonWithIcon("Details of the attestation", theme.InfoIcon(), func() {
		text := widget.NewLabelWithStyle(strings.Join(c.Lines(), "\n"), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
		text.Wrapping = fyne.TextWrapBreak
		scroll := container.NewVScroll(text)
		scroll.SetMinSize(fyne.NewSize(760, 420))
		dialog.ShowCustom("The exchange key's attestation", "Close", scroll, w.s.win)
	})
	items = append(items, container.NewHBox(details))
	return widget.NewCard("Is the new HSM genuine?", "read this aloud with the fingerprint", container.NewVBox(items...))
}

func (w *recoveryWizard) custodianScreen() {
	k, m := w.r.Progress()
	bar := widget.NewProgressBar()
	bar.Max = float64(m)
	bar.SetValue(float64(min(k, m)))
	bar.TextFormatter = func() string { return fmt.Sprintf("%d of %d shares", k, m) }
	name := widget.NewEntry()
	name.SetPlaceHolder("custodian's name")
	next := len(w.r.Custodians())
	initial := ""
	manager := w.s.productionTokens()
	if w.session != nil {
		name.SetText(fmt.Sprintf("Custodian %d", next+1))
		initial = w.session.Tokens.Ref(next)
		manager = w.session.Tokens.Manager()
	}
	picker := w.s.newTokenPicker(manager, initial)
	ref := picker.Ref
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	var open *widget.Button
	open = widget.NewButtonWithIcon("Open my share on my token", theme.LoginIcon(), func() {
		open.Disable()
		picker.paused.Store(true)
		who, r := name.Text, ref.Text
		opts := token.OpenOptions{PIN: w.s.pinPrompt(), Touch: w.s.touchPrompt()}
		if w.session != nil {
			for i := 0; i < 10; i++ {
				if w.session.Tokens.Ref(i) == r {
					if o := w.session.Tokens.Options(i); o.PIN != nil {
						opts = o
					}
				}
			}
		}
		var c *ceremony.RecoveryCustodian
		// One PIN try left: asked and recorded before the try (pin.go).
		w.s.withLastTry(w.r, who, opts, func(o token.OpenOptions) (err error) {
			c, err = w.r.OpenShare(context.Background(), who, r, o)
			return err
		}, func(err error) {
			picker.paused.Store(false)
			open.Enable()
			if err != nil {
				status.SetText(err.Error())
				if pe := ceremony.Blocked(err); pe != nil {
					// The opened shares stay; the ceremony waits.
					w.s.showBlocked(manager, w.r, who, r, pe)
				}
				return
			}
			w.render() // cleared between custodians
			dialog.ShowInformation("Share opened", fmt.Sprintf("%s: share x=%d opens and is well-formed. Remove your token; the next custodian may come.", c.Name, c.ShareX), w.s.win)
			if c.Warning != "" {
				// The warning is in the transcript already; the witness
				// acknowledges it, and that is recorded too.
				dialog.ShowCustomConfirm("Software key: "+c.Name, "I acknowledge", "Not now", widget.NewLabel(c.Warning), func(ack bool) {
					if ack {
						_ = w.r.RecordException("witness acknowledged: "+c.Name+"'s key is a software key file; "+c.Warning, w.cfg.Witness)
					}
				}, w.s.win)
			}
		})
	})
	open.Importance = widget.HighImportance
	skip := widget.NewButton("This custodian cannot (exception)", func() {
		reason := widget.NewEntry()
		approver := widget.NewEntry()
		approver.SetText(w.cfg.Witness)
		w.s.showForm("Skip "+name.Text, "Record exception", "Back", []*widget.FormItem{
			widget.NewFormItem("Why", reason), widget.NewFormItem("Approved by", approver)}, func(ok bool) {
			if ok {
				if err := w.r.SkipCustodian(name.Text, reason.Text, approver.Text); err != nil {
					dialog.ShowError(err, w.s.win)
				}
			}
		})
	})
	build := widget.NewButtonWithIcon("Build the restore blob", theme.ConfirmIcon(), func() {
		blob, err := w.r.BuildBlob(rand.Reader)
		if err != nil {
			status.SetText(err.Error())
			return
		}
		w.blob = blob
		w.render()
	})
	if k < m {
		build.Disable()
	} else {
		// The quorum is in: building is the main action now (Ctrl+Enter).
		build.Importance = widget.HighImportance
		open.Importance = widget.MediumImportance
	}
	opened := container.NewVBox()
	for _, c := range w.r.Custodians() {
		opened.Add(widget.NewLabel(fmt.Sprintf("✔ %s — share x=%d", c.Name, c.ShareX)))
	}
	title := fmt.Sprintf("Recovery — custodian %d (%d of %d shares opened)", next+1, k, m)
	intro := widget.NewLabel("One custodian at a time: insert your token, enter your PIN, open your share. Your share never leaves this machine's memory and is wiped when the blob is built.")
	intro.Wrapping = fyne.TextWrapWord
	w.s.show(w.cfg.Mode, title, container.NewVBox(intro, bar,
		widget.NewForm(widget.NewFormItem("Name", name), widget.NewFormItem("Token", picker.box)),
		container.NewHBox(open, skip), opened, build, status, w.cancelButton()))
	w.s.startPicker(picker, w.session)
}

func (w *recoveryWizard) exportScreen() {
	dir := exportFolder(w.session, "DRILL-restore")
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	var export *widget.Button
	export = widget.NewButtonWithIcon("Write the restore blob", theme.DocumentSaveIcon(), func() {
		target := dir.Text
		// Writes are synced and read back: slow on a USB stick.
		w.s.busy(export, status, "Writing and checking the restore blob", func() (err error) {
			w.blobPath, err = w.r.Export(target)
			return err
		}, orShow(status, w.render))
	})
	export.Importance = widget.HighImportance
	w.s.show(w.cfg.Mode, "Recovery — export the restore blob", container.NewVBox(
		widget.NewLabel("The security domain was rebuilt and wrapped to the exchange key. Write the blob and its upload instructions."),
		widget.NewForm(widget.NewFormItem("Folder", dir)), export, status))
}

func (w *recoveryWizard) doneScreen() {
	items := []fyne.CanvasObject{widget.NewLabel("The restore blob is written. Upload it with the commands in UPLOAD-INSTRUCTIONS.txt.")}
	result := widget.NewLabel("")
	result.Wrapping = fyne.TextWrapWord
	signOff := widget.NewButtonWithIcon("Witness sign-off", theme.DocumentCreateIcon(), func() {
		signOffDialog(w.s, w.cfg.Witness, w.r.SignOff, func() {
			w.s.endScreen(w.cfg.Mode, "Recovery — closed", w.r.Outcome(), w.blobCard())
		})
	})
	signOff.Importance = widget.HighImportance
	if w.drill != nil {
		// In a drill the upload comes first; then signing off is the main
		// action (Ctrl+Enter).
		signOff.Importance = widget.MediumImportance
		var up *widget.Button
		up = widget.NewButtonWithIcon("Operator: upload the blob to the drill HSM", theme.UploadIcon(), func() {
			var res *drillhsm.UploadResult
			w.s.busy(up, result, "The drill HSM is checking the blob", func() (err error) {
				// DrillRun records the drill HSM's verdict.
				res, err = w.drill.OperatorUpload(w.blob)
				return err
			}, func(err error) {
				switch {
				case err != nil:
					result.SetText("The drill HSM REJECTED the blob: " + err.Error())
				case res.Restored:
					result.SetText("DRILL PASSED — the drill HSM accepted the restore blob: " + res.String())
				default:
					result.SetText("DRILL FAILED — " + res.String())
				}
				up.Importance, signOff.Importance = widget.MediumImportance, widget.HighImportance
				up.Refresh()
				signOff.Refresh()
			})
		})
		up.Importance = widget.HighImportance
		items = append(items, up, result)
	}
	items = append(items, w.blobCard(), w.s.outputActions(filepath.Dir(w.blobPath), []string{
		w.cfg.Mode.FileName("UPLOAD-INSTRUCTIONS.txt"), filepath.Base(w.blobPath)}), signOff)
	w.s.show(w.cfg.Mode, "Recovery — complete", container.NewVBox(items...))
}

// blobCard says where the restore blob is, its size, SHA-256 and words,
// and how to upload it (the instructions the ceremony wrote next to it).
func (w *recoveryWizard) blobCard() fyne.CanvasObject {
	fp := fingerprint.Of(w.blob)
	text := fmt.Sprintf("%s\n%d bytes\nSHA-256 %s\n%s", w.blobPath, len(w.blob), fp.GroupedHex(), fp.WordString())
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	l.Wrapping = fyne.TextWrapBreak
	box := container.NewVBox(l)
	instr := filepath.Join(filepath.Dir(w.blobPath), w.cfg.Mode.FileName("UPLOAD-INSTRUCTIONS.txt"))
	if b, err := safefile.ReadLimited(instr, 1<<20); err == nil {
		cmds := widget.NewLabelWithStyle(string(b), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
		cmds.Wrapping = fyne.TextWrapBreak
		box.Add(cmds)
	}
	return widget.NewCard("Restore blob", "upload it with az or PowerShell", box)
}
