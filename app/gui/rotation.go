package gui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// rotationWizard walks a custodian rotation. The new set's enrollment,
// operator package and share self-tests are an activation's (the
// activation wizard's screens, named "Rotation"); this wizard shows the
// steps a rotation adds: the SD downloaded again for the new certificates,
// the optional comparison with the old SD and an old quorum before the
// new quorum is proven, and the old keys to retire before the sign-off.
// In a drill, drill plays the operator and the HSM.
type rotationWizard struct {
	*activationWizard
	r *ceremony.Rotation
	// comparison says what the comparison found ("" before it).
	comparison string
}

func (s *shell) newRotationWizard(r *ceremony.Rotation, d *ceremony.DrillRun, tokens *token.Manager) *rotationWizard {
	w := &rotationWizard{r: r}
	aw := &activationWizard{s: s, a: r.Activation, drill: d, tokens: tokens, kind: "Rotation", role: "new custodian"}
	if d != nil {
		aw.session, aw.offset = d.Session, d.NewTokenIndex(0)
	}
	aw.screens = map[ceremony.ActivationStep]func(){
		ceremony.ActAwaitSD: w.awaitSDScreen,
		ceremony.ActProve:   w.compareScreen,
		ceremony.ActDone:    w.retireScreen,
	}
	w.activationWizard = aw
	return w
}

// startDrillRotation goes on, after the drill's activation, to the
// rotation DrillRun hands out: as many new custodians replace the old.
func (s *shell) startDrillRotation(d *ceremony.DrillRun) {
	r, err := d.NewRotation()
	if err != nil {
		s.drillFailed(d, err)
		return
	}
	s.newRotationWizard(r, d, d.Session.Tokens.Manager()).render()
}

// awaitSDScreen: the operator downloads the security domain again from
// the same HSM for the new certificates (the package says how, for az and
// PowerShell) and brings it back; Custodian checks it like an
// activation's.
func (w *rotationWizard) awaitSDScreen() {
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	load := sdLoader(status, w.drill, func(name string, data []byte) error {
		_, err := w.r.LoadSD(name, data)
		return err
	}, w.render)
	intro := widget.NewLabel("The operator downloads the security domain again from the same HSM, wrapped to the new custodians' certificates, and brings the file back. Custodian checks that every share belongs to a new custodian and the quorum is right.")
	intro.Wrapping = fyne.TextWrapWord
	body := []fyne.CanvasObject{intro}
	if pkg := w.r.Package(); pkg != nil {
		body = append(body, w.s.outputActions(pkg.Dir, pkg.Files), instructionsCard(filepath.Join(pkg.Dir, w.mode().FileName("INSTRUCTIONS.txt"))))
	}
	if w.drill != nil {
		body = append(body, w.s.drillOperatorButton("Operator: download the drill HSM's security domain again for the new certificates",
			"The drill HSM's security domain is downloaded again", status, w.drill.OperatorRedownload, load))
	}
	body = append(body, w.s.sdFileForm("New SD file", "path of the security domain file downloaded again for the new certificates", "Verify the new security domain", status, load)...)
	body = append(body, status, w.cancelButton())
	w.s.show(w.mode(), "Rotation — verify the new security domain", container.NewVBox(body...))
}

// instructionsCard shows the operator package's instructions (the az and
// PowerShell commands), as the package wrote them.
func instructionsCard(path string) fyne.CanvasObject {
	text := "The commands are in " + path
	if b, err := safefile.ReadLimited(path, 1<<20); err == nil {
		text = string(b)
	}
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	l.Wrapping = fyne.TextWrapBreak
	return widget.NewCard("For the operator", "download the security domain again with az or PowerShell", l)
}

// compareScreen: with the old SD and an old quorum of keys at hand,
// both domains are rebuilt and compared; then the new quorum is proven.
// The comparison is optional (the old keys may be gone already).
func (w *rotationWizard) compareScreen() {
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	found := widget.NewLabel(w.comparison)
	found.Wrapping = fyne.TextWrapWord
	var compare func(b *widget.Button, name string, data []byte, keys []ceremony.OldKey)
	compare = func(b *widget.Button, name string, data []byte, keys []ceremony.OldKey) {
		var c *ceremony.DomainComparison
		w.s.busy(b, status, "Opening the old shares and comparing the two security domains", func() (err error) {
			tokenUse.Lock()
			defer tokenUse.Unlock()
			c, err = w.r.CompareWithOld(context.Background(), name, data, keys)
			return err
		}, func(err error) {
			// An old custodian's token down to its last PIN try: they
			// decide, the decision is recorded, and the comparison runs
			// again with that one try allowed.
			var oe *ceremony.OldKeyError
			if pe := ceremony.LastTry(err); pe != nil && errors.As(err, &oe) && !keys[oe.Index].Opts.AllowLastRetry {
				w.s.askLastTry(oe.Name, pe, func(yes bool) {
					if !yes {
						status.SetText((&lastTryDeclinedError{custodian: oe.Name, tok: pe.Token}).Error())
						return
					}
					if err := w.r.ConfirmLastTry(oe.Name, pe.Token, oe.Name); err != nil {
						status.SetText(err.Error())
						return
					}
					keys[oe.Index].Opts.AllowLastRetry = true
					compare(b, name, data, keys)
				})
				return
			}
			orShow(status, func() {
				w.comparison = comparisonText(c)
				w.render()
			})(err)
		})
	}
	items := []fyne.CanvasObject{}
	var picker *tokenPicker
	if w.comparison == "" {
		intro := widget.NewLabel("Optional, before the new quorum is proven: with the old security domain file and a quorum of the old custodians' keys, Custodian rebuilds both domains in memory and compares them (same master key, same items). Items the service re-encrypted between the downloads are reported, not failed.")
		intro.Wrapping = fyne.TextWrapWord
		items = append(items, intro)
		if w.drill != nil {
			var b *widget.Button
			b = widget.NewButtonWithIcon("Compare with the old security domain (the old quorum opens its shares)", theme.SearchIcon(), func() {
				name, data := w.drill.SecurityDomain()
				compare(b, name, data, w.drill.OldKeys())
			})
			items = append(items, b)
		} else {
			var form fyne.CanvasObject
			picker, form = w.oldQuorumForm(compare)
			items = append(items, form)
		}
	} else {
		items = append(items, widget.NewCard("The old and the new security domains", "read this aloud; it is in the record", found))
	}
	var prove *widget.Button
	prove = widget.NewButtonWithIcon("Prove the new quorum recovers the security domain", theme.ConfirmIcon(), func() {
		w.s.busy(prove, status, "Rebuilding the new security domain from the new shares", w.r.ProveQuorum, func(err error) {
			if err != nil {
				status.SetText("NOT VERIFIED: " + err.Error())
				return
			}
			w.render()
		})
	})
	prove.Importance = widget.HighImportance
	items = append(items, prove, status, w.cancelButton())
	w.s.show(w.mode(), "Rotation — compare and prove the new quorum", container.NewVBox(items...))
	if picker != nil {
		w.s.startPicker(picker, nil)
	}
}

// oldQuorumForm takes the old SD file and the old custodians' keys one at
// a time (each opens their old share when the comparison runs).
func (w *rotationWizard) oldQuorumForm(compare func(*widget.Button, string, []byte, []ceremony.OldKey)) (*tokenPicker, fyne.CanvasObject) {
	oldSD := w.s.newFileInput("path of the OLD security domain file")
	name := widget.NewEntry()
	name.SetPlaceHolder("old custodian's name")
	picker := w.s.newTokenPicker(w.tokens, "")
	var keys []ceremony.OldKey
	added := widget.NewLabel("")
	added.Wrapping = fyne.TextWrapWord
	add := widget.NewButtonWithIcon("Add this old custodian's key", theme.ContentAddIcon(), func() {
		if name.Text == "" || picker.Ref.Text == "" {
			added.SetText("Name the old custodian and choose their token first.")
			return
		}
		keys = append(keys, ceremony.OldKey{Name: name.Text, Ref: picker.Ref.Text, Opts: token.OpenOptions{PIN: w.s.pinPrompt(), Touch: w.s.touchPrompt()}})
		text := ""
		for _, k := range keys {
			text += "✔ " + k.Name + " — " + k.Ref + "\n"
		}
		added.SetText(text)
		name.SetText("")
	})
	var run *widget.Button
	run = widget.NewButtonWithIcon("Compare the two security domains", theme.SearchIcon(), func() {
		sdName, data, err := oldSD.Read()
		if err != nil {
			added.SetText(err.Error())
			return
		}
		compare(run, sdName, data, keys)
	})
	return picker, widget.NewCard("Compare with the old security domain", fmt.Sprintf("the old quorum is %d of %d", oldQuorum(w.r), len(w.r.OldCustodians())),
		container.NewVBox(widget.NewForm(widget.NewFormItem("Old SD file", oldSD.box), widget.NewFormItem("Old custodian", name), widget.NewFormItem("Token", picker.box)),
			add, added, run))
}

// oldQuorum is the old set's quorum as the old manifest says.
func oldQuorum(r *ceremony.Rotation) int { return r.OldManifest().Quorum }

func comparisonText(c *ceremony.DomainComparison) string {
	if c.Same() {
		return "SAME KEYS — " + c.String()
	}
	return "THE DOMAINS DIFFER — do not retire the old keys: " + c.String()
}

// retireScreen: the new security domain is proven; the record lists the
// old tokens and files to retire, and each old key's destruction is
// recorded with its witness, then the witness signs the rotation off.
func (w *rotationWizard) retireScreen() {
	intro := widget.NewLabel("The new security domain is verified: every share belongs to a new custodian, the self-tests passed and the new quorum recovers it. Retire the old keys only now, each destruction witnessed.")
	intro.Wrapping = fyne.TextWrapWord
	items := []fyne.CanvasObject{intro}
	if w.comparison != "" {
		l := widget.NewLabel(w.comparison)
		l.Wrapping = fyne.TextWrapWord
		items = append(items, l)
	}
	items = append(items, w.toRetireCard())
	for i, c := range w.r.OldCustodians() {
		if w.r.Retired(i) {
			continue
		}
		i, c := i, c
		items = append(items, widget.NewButtonWithIcon("Retire the old key of "+c.Name, theme.DeleteIcon(), func() { w.retireDialog(i, c.Name) }))
	}
	sign := widget.NewButtonWithIcon("Witness sign-off", theme.DocumentCreateIcon(), func() {
		signOffDialog(w.s, w.a.Config().Witness, w.r.SignOff, func() {
			w.s.endScreen(w.mode(), "Rotation — closed", w.r.Outcome(), w.toRetireCard())
		})
	})
	sign.Importance = widget.HighImportance
	items = append(items, sign)
	w.s.show(w.mode(), "Rotation — retire the old keys", container.NewVBox(items...))
}

// toRetireCard lists the old tokens and files to retire (what the
// sign-off records).
func (w *rotationWizard) toRetireCard() fyne.CanvasObject {
	box := container.NewVBox()
	for _, line := range w.r.ToRetire() {
		l := widget.NewLabel("• " + line)
		l.Wrapping = fyne.TextWrapWord
		box.Add(l)
	}
	return widget.NewCard("To retire", "the old tokens and files; the record lists them", box)
}

func (w *rotationWizard) retireDialog(i int, name string) {
	method := widget.NewSelect(ceremony.DestructionMethods, nil)
	method.SetSelected(ceremony.DestructionMethods[0])
	witness := widget.NewEntry()
	witness.SetText(w.a.Config().Witness)
	w.s.showForm("Retire "+name+"'s old key", "Record the destruction", "Back", []*widget.FormItem{
		widget.NewFormItem("How", method), widget.NewFormItem("Witness", witness)}, func(ok bool) {
		if !ok {
			return
		}
		if err := w.r.Retire(i, method.Selected, witness.Text); err != nil {
			dialog.ShowError(err, w.s.win)
			return
		}
		w.render()
	})
}
