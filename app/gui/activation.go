package gui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// activationWizard walks an activation ceremony one step and one custodian
// at a time. In a drill, drill plays the operator and the HSM and session
// holds its tokens. A rotation is an activation of the new set: the
// rotation wizard reuses these screens under its own name (kind, role),
// with its drill tokens after the old set's (offset), and shows its own
// screens for the steps in screens.
type activationWizard struct {
	s       *shell
	a       *ceremony.Activation
	drill   *ceremony.DrillRun
	session *ceremony.DrillSession
	tokens  *token.Manager
	// next is called when the activation is done (a drill goes on to the
	// recovery).
	next func()

	kind, role string // "Activation"/"custodian" unless set
	offset     int    // the drill token of custodian i is offset+i
	screens    map[ceremony.ActivationStep]func()
}

func (w *activationWizard) title(step string) string {
	if w.kind == "" {
		return "Activation — " + step
	}
	return w.kind + " — " + step
}

func (w *activationWizard) custodian() string {
	if w.role == "" {
		return "custodian"
	}
	return w.role
}

func (w *activationWizard) mode() ceremony.Mode { return w.a.Config().Mode }

// render shows the screen for the ceremony's current step.
func (w *activationWizard) render() {
	w.s.wizard = w
	if f, ok := w.screens[w.a.Step()]; ok {
		f()
		return
	}
	switch w.a.Step() {
	case ceremony.ActEnroll:
		w.enrollScreen()
	case ceremony.ActPackage:
		w.packageScreen()
	case ceremony.ActAwaitSD:
		w.awaitSDScreen()
	case ceremony.ActSelfTest:
		w.selfTestScreen()
	case ceremony.ActProve:
		w.proveScreen()
	case ceremony.ActDone:
		w.doneScreen()
	case ceremony.ActCancelled:
		w.s.home()
	}
}

// cancelButton stops the ceremony and wipes what it holds.
func (w *activationWizard) cancelButton() fyne.CanvasObject {
	return container.NewGridWithColumns(2,
		w.s.exceptionButton(w.a.Config().Witness, w.a.RecordException),
		w.s.cancelButton("Cancel the ceremony?", "Everything secret held in memory is wiped. The transcript records the cancellation.",
			func() { _ = w.a.Cancel(w.a.Config().Witness, "cancelled from the GUI") }))
}

func (w *activationWizard) enrollScreen() {
	k, n := w.a.NextCustodian()
	title := w.title(fmt.Sprintf("%s %d of %d", w.custodian(), k, n))
	name := widget.NewEntry()
	name.SetPlaceHolder("custodian's full name")
	ref := ""
	if w.session != nil {
		ref = w.session.Tokens.Ref(w.offset + k - 1)
		name.SetText(fmt.Sprintf("%s %d", capitalize(w.custodian()), k))
	}
	picker := w.s.newTokenPicker(w.tokens, ref)
	refEntry := picker.Ref
	bits := widget.NewSelect([]string{"2048", "3072", "4096"}, nil)
	bits.SetSelected("2048")
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	progress := widget.NewProgressBarInfinite()
	progress.Hide()
	var enroll *widget.Button
	enroll = widget.NewButtonWithIcon("Generate the key on the token", theme.ConfirmIcon(), func() {
		b, _ := strconv.Atoi(bits.Selected)
		enroll.Disable()
		picker.paused.Store(true)
		progress.Show()
		ref, who := refEntry.Text, name.Text
		idx := k - 1
		opts := w.openOptions(idx)
		var run func(ex *ceremony.WitnessedException)
		run = func(ex *ceremony.WitnessedException) {
			req := token.EnrollRequest{Bits: b, Progress: func(stage string) { w.s.do(func() { status.SetText(stage) }) }}
			var c *ceremony.Custodian
			// One PIN try left: asked and recorded before the try (pin.go).
			w.s.withLastTry(w.a, who, opts, func(o token.OpenOptions) (err error) {
				c, err = w.a.EnrollWithException(context.Background(), who, ref, req, o, ex)
				return err
			}, func(err error) {
				picker.paused.Store(false)
				progress.Hide()
				enroll.Enable()
				var ae *ceremony.AdmissionError
				if errors.As(err, &ae) && ae.NeedsException && ex == nil {
					w.s.askKeyException(ae.Error(), w.a.Config().Witness, func(ex *ceremony.WitnessedException) {
						enroll.Disable()
						progress.Show()
						run(ex)
					})
				}
				if err != nil {
					status.SetText("Enrollment failed: " + err.Error())
					if pe := ceremony.Blocked(err); pe != nil {
						w.s.blockedDialog(w.tokens, w.a, who, ref, pe, "generate their key",
							"The ceremony waits: "+who+" may unblock the token and generate again, or use another token.")
					}
					return
				}
				fp := fingerprint.Of(c.Certificate.Raw)
				// The screen is cleared between custodians; the dialog goes
				// on top of the next screen so focus lands on its button.
				w.render()
				dialog.ShowInformation("Custodian enrolled",
					fmt.Sprintf("%s — certificate SHA-256\n%s\n%s\nRead it aloud to the witness; it goes into the record.", c.Name, fp.GroupedHex(), fp.WordString()), w.s.win)
			})
		}
		run(nil)
	})
	enroll.Importance = widget.HighImportance
	form := widget.NewForm(
		widget.NewFormItem("Name", name),
		widget.NewFormItem("Token", picker.box),
		widget.NewFormItem("Key size", bits),
	)
	intro := widget.NewLabel(fmt.Sprintf("Custodian %d of %d: insert your token, then generate your key on it. The private key never leaves the token.", k, n))
	intro.Wrapping = fyne.TextWrapWord
	w.s.show(w.mode(), title, container.NewVBox(intro, form, enroll, progress, status, w.enrolledList(), w.cancelButton()))
	w.s.startPicker(picker, w.session)
}

// openOptions are the token options for custodian i: drill PINs are
// supplied by the drill tokens, real ones are asked in a dialog.
func (w *activationWizard) openOptions(i int) token.OpenOptions {
	if w.session != nil {
		o := w.session.Tokens.Options(w.offset + i)
		if o.PIN != nil {
			return o
		}
	}
	return token.OpenOptions{PIN: w.s.pinPrompt(), Touch: w.s.touchPrompt()}
}

func (w *activationWizard) enrolledList() fyne.CanvasObject {
	box := container.NewVBox()
	for _, c := range w.a.Custodians() {
		fp := fingerprint.Of(c.Certificate.Raw)
		l := widget.NewLabel(fmt.Sprintf("x=%d  %s — %s\n%s", c.Index+1, c.Name, c.Token, fp.GroupedHex()))
		l.Wrapping = fyne.TextWrapWord
		box.Add(l)
	}
	if len(box.Objects) == 0 {
		return box
	}
	return widget.NewCard("Enrolled", "", box)
}

func (w *activationWizard) packageScreen() {
	folder := "DRILL-operator-package"
	if w.kind != "" {
		folder = "DRILL-" + strings.ToLower(w.kind) + "-operator-package"
	}
	dir := exportFolder(w.session, folder)
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	var write *widget.Button
	write = widget.NewButtonWithIcon("Write the operator package", theme.DocumentSaveIcon(), func() {
		target := dir.Text
		var pkg *ceremony.OperatorPackage
		w.s.busy(write, status, "Writing the operator package", func() (err error) {
			pkg, err = w.a.WritePackage(target)
			return err
		}, func(err error) {
			if err != nil {
				status.SetText("Could not write the package: " + err.Error())
				return
			}
			w.render()
			dialog.ShowInformation("Operator package written", fmt.Sprintf("%d files in %s:\ncertificates, manifest and the exact az / PowerShell commands.", len(pkg.Files), pkg.Dir), w.s.win)
		})
	})
	write.Importance = widget.HighImportance
	intro := widget.NewLabel("All custodians are enrolled. Write the operator package: the certificates in share order, a manifest and the commands that activate the HSM.")
	intro.Wrapping = fyne.TextWrapWord
	w.s.show(w.mode(), w.title("operator package"), container.NewVBox(intro, w.enrolledList(), widget.NewForm(widget.NewFormItem("Folder", dir)), write, status, w.cancelButton()))
}

// sdLoader checks a security domain the operator brought back: through
// the drill (which keeps it for the recovery and the rotation's
// comparison) or the workflow's own LoadSD; a rejection is shown in
// status, a good file moves on with next.
func sdLoader(status *widget.Label, drill *ceremony.DrillRun, load func(string, []byte) error, next func()) func(string, []byte) {
	return func(name string, data []byte) {
		var err error
		if drill != nil {
			err = drill.LoadSD(name, data)
		} else {
			err = load(name, data)
		}
		if err != nil {
			status.SetText("The security domain was REJECTED: " + err.Error())
			return
		}
		next()
	}
}

// drillOperatorButton plays the drill's operator for a step that brings
// a security domain back (activate, download again): operate runs on the
// drill HSM and the file it returns goes to load like one from a path.
func (s *shell) drillOperatorButton(label, doing string, status *widget.Label, operate func() (string, []byte, error), load func(string, []byte)) *widget.Button {
	var b *widget.Button
	b = widget.NewButtonWithIcon(label, theme.MailForwardIcon(), func() {
		var name string
		var data []byte
		s.busy(b, status, doing, func() (err error) {
			name, data, err = operate()
			return err
		}, orShow(status, func() { load(name, data) }))
	})
	b.Importance = widget.HighImportance
	return b
}

// sdFileForm is the file input for the security domain the operator
// brought back (formLabel names it in the form) and the button that reads
// it and hands it to load; a file that cannot be read is said in status.
func (s *shell) sdFileForm(formLabel, placeholder, verifyLabel string, status *widget.Label, load func(string, []byte)) []fyne.CanvasObject {
	sdFile := s.newFileInput(placeholder)
	verify := widget.NewButtonWithIcon(verifyLabel, theme.SearchIcon(), func() {
		name, data, err := sdFile.Read()
		if err != nil {
			status.SetText(err.Error())
			return
		}
		load(name, data)
	})
	return []fyne.CanvasObject{widget.NewForm(widget.NewFormItem(formLabel, sdFile.box)), verify}
}

func (w *activationWizard) awaitSDScreen() {
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	load := sdLoader(status, w.drill, func(name string, data []byte) error {
		_, err := w.a.LoadSD(name, data)
		return err
	}, w.render)
	var body []fyne.CanvasObject
	if w.drill != nil {
		b := w.s.drillOperatorButton("Operator: activate the drill HSM and bring the SD back", "The drill HSM is being activated", status, w.drill.OperatorActivate, load)
		orLoad := widget.NewLabel("— or, to rehearse a file coming back on a USB stick (a damaged one too), load it from a path:")
		orLoad.Wrapping = fyne.TextWrapWord
		body = append(body, b, orLoad)
	}
	// A drill offers the same file path as production, so people rehearse
	// the real step and see a damaged file rejected.
	body = append(body, w.s.sdFileForm("SD file", "path of the security domain file the operator brought back", "Verify the security domain", status, load)...)
	intro := widget.NewLabel("The operator activates the HSM with the package and brings back the security domain file. Custodian checks that every share belongs to an enrolled custodian and the quorum is right.")
	intro.Wrapping = fyne.TextWrapWord
	if pkg := w.a.Package(); pkg != nil {
		body = append([]fyne.CanvasObject{w.s.outputActions(pkg.Dir, pkg.Files)}, body...)
	}
	w.s.show(w.mode(), w.title("verify the security domain"), container.NewVBox(append(append([]fyne.CanvasObject{intro}, body...), status, w.cancelButton())...))
}

func (w *activationWizard) selfTestScreen() {
	tested, skipped := w.a.SelfTestStatus()
	done := map[int]string{}
	for _, i := range tested {
		done[i] = "share opened ✔"
	}
	for _, i := range skipped {
		done[i] = "skipped (exception)"
	}
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	list := container.NewVBox()
	custodians := w.a.Custodians()
	for _, c := range custodians {
		c := c
		if d, ok := done[c.Index]; ok {
			list.Add(widget.NewLabel(fmt.Sprintf("Custodian %d of %d — %s: %s", c.Index+1, len(custodians), c.Name, d)))
			continue
		}
		var open *widget.Button
		open = widget.NewButtonWithIcon(fmt.Sprintf("Custodian %d of %d — %s: insert your token and open your share", c.Index+1, len(custodians), c.Name), theme.LoginIcon(), func() {
			open.Disable()
			opts := w.openOptions(c.Index)
			// One PIN try left: asked and recorded before the try (pin.go).
			w.s.withLastTry(w.a, c.Name, opts, func(o token.OpenOptions) error {
				return w.a.SelfTest(context.Background(), c.Index, o)
			}, func(err error) {
				if err != nil {
					open.Enable()
					status.SetText(err.Error())
					if pe := ceremony.Blocked(err); pe != nil {
						// The shares opened so far stay; the ceremony waits.
						w.s.showBlocked(w.tokens, w.a, c.Name, c.KeyRef, pe)
					}
					return
				}
				w.render()
			})
		})
		skip := widget.NewButton("Skip (exception)", func() { w.exceptionDialog(c) })
		// The token by name, so the right one is inserted.
		tok := widget.NewLabel("token: " + ceremony.DescribeToken(c.Token, nil, nil).Title())
		tok.Wrapping = fyne.TextWrapWord
		list.Add(container.NewBorder(nil, tok, nil, skip, open))
	}
	intro := widget.NewLabel("Each custodian opens their own share on their token: it proves the token, the PIN and the share all work. Nothing secret is shown.")
	intro.Wrapping = fyne.TextWrapWord
	w.s.show(w.mode(), w.title("share self-tests"), container.NewVBox(intro, list, status, w.cancelButton()))
}

func (w *activationWizard) exceptionDialog(c *ceremony.Custodian) {
	reason := widget.NewEntry()
	approver := widget.NewEntry()
	approver.SetText(w.a.Config().Witness)
	w.s.showForm("Skip "+c.Name+"'s self-test", "Record exception", "Back", []*widget.FormItem{
		widget.NewFormItem("Why", reason), widget.NewFormItem("Approved by", approver)}, func(ok bool) {
		if !ok {
			return
		}
		if err := w.a.SkipSelfTest(c.Index, reason.Text, approver.Text); err != nil {
			dialog.ShowError(err, w.s.win)
			return
		}
		w.render()
	})
}

func (w *activationWizard) proveScreen() {
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	var prove *widget.Button
	prove = widget.NewButtonWithIcon("Prove the quorum recovers the security domain", theme.ConfirmIcon(), func() {
		prove.Disable()
		go func() {
			err := w.a.ProveQuorum()
			w.s.do(func() {
				if err != nil {
					// Stay on this screen so the message can be read.
					prove.Enable()
					status.SetText("NOT VERIFIED: " + err.Error())
					return
				}
				w.render()
			})
		}()
	})
	prove.Importance = widget.HighImportance
	w.s.show(w.mode(), w.title("prove the quorum"), container.NewVBox(
		widget.NewLabel("The opened shares rebuild the security domain in memory and every item is authenticated; then everything is wiped."),
		prove, status, w.cancelButton()))
}

func (w *activationWizard) doneScreen() {
	next := widget.NewButtonWithIcon("Witness sign-off", theme.DocumentCreateIcon(), func() {
		signOffDialog(w.s, w.a.Config().Witness, w.a.SignOff, func() {
			if w.next != nil {
				w.next()
				return
			}
			w.s.endScreen(w.mode(), w.title("closed"), w.a.Outcome())
		})
	})
	next.Importance = widget.HighImportance
	w.s.show(w.mode(), w.title("complete"), container.NewVBox(
		widget.NewLabel("The security domain is verified: every share belongs to an enrolled custodian, the self-tests passed and the quorum recovers it. All secrets are wiped."),
		w.enrolledList(), next))
}

// signOffDialog records a witness's sign-off or disagreement.
func signOffDialog(s *shell, witness string, signOff func(string, bool, string) error, then func()) {
	name := widget.NewEntry()
	name.SetText(witness)
	disagree := widget.NewCheck("I do not agree with the record", nil)
	note := widget.NewMultiLineEntry()
	s.showForm("Witness sign-off", "Sign off", "Back", []*widget.FormItem{
		widget.NewFormItem("Witness", name), widget.NewFormItem("", disagree), widget.NewFormItem("Note", note)}, func(ok bool) {
		if !ok {
			return
		}
		if err := signOff(name.Text, !disagree.Checked, note.Text); err != nil {
			dialog.ShowError(err, s.win)
			return
		}
		then()
	})
}

// askKeyException asks the witness to approve an exception for a key whose
// origin cannot be verified (a PKCS#11 key's attributes are the token's
// claim; a YubiKey that cannot attest). The admission policy decided that
// the key needs one; the transcript will name the reason and the witness.
func (s *shell) askKeyException(refusal, witness string, done func(*ceremony.WitnessedException)) {
	reason := widget.NewEntry()
	reason.SetPlaceHolder("why this key is acceptable (e.g. vendor HSM without attestation, bought sealed)")
	approver := widget.NewEntry()
	approver.SetText(witness)
	why := widget.NewLabel(refusal)
	why.Wrapping = fyne.TextWrapWord
	dialog.ShowForm("The key's origin cannot be verified", "Record the exception", "Do not enroll", []*widget.FormItem{
		widget.NewFormItem("", why), widget.NewFormItem("Reason", reason), widget.NewFormItem("Approved by", approver)},
		func(ok bool) {
			if !ok {
				return
			}
			ex, err := ceremony.ParseWitnessedException(reason.Text + "; approved by " + approver.Text)
			if err != nil {
				dialog.ShowError(err, s.win)
				return
			}
			done(ex)
		}, s.win)
}

// capitalize upper-cases the first letter of an ASCII word.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
