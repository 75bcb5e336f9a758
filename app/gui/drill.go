package gui

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
)

// drillScreen starts a drill with no set-up beyond N, M and the token
// kind: software keys by default, so a newcomer can rehearse right after
// `make run`.
func (s *shell) drillScreen() {
	n, m, rails := quorumPicker()
	var kinds []string
	for _, k := range ceremony.DrillTokenKinds() {
		kinds = append(kinds, string(k))
	}
	kind := widget.NewRadioGroup(kinds, nil)
	kind.SetSelected(string(ceremony.SoftTokens))
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	rotate := widget.NewCheck("Rotate custodians afterwards (a new set replaces them, instead of a recovery)", nil)
	var start *widget.Button
	start = widget.NewButtonWithIcon("Start the drill", theme.MediaPlayIcon(), func() {
		cfg := ceremony.DrillConfig{Custodians: atoi(n.Selected), Quorum: atoi(m.Selected), Tokens: ceremony.TokenKind(kind.Selected),
			Dir: filepath.Join(s.workDir, "DRILL-"+time.Now().UTC().Format("20060102-150405.000")), Rotation: rotate.Checked}
		if err := ceremony.CheckQuorum(cfg.Custodians, cfg.Quorum); err != nil {
			status.SetText(err.Error())
			return
		}
		var d *ceremony.DrillRun
		// SoftHSM and virtual cards take seconds to provision.
		s.busy(start, status, "Preparing the drill tokens and the drill HSM", func() (err error) {
			d, err = ceremony.StartDrill(cfg)
			return err
		}, func(err error) {
			if err != nil {
				status.SetText(err.Error())
				return
			}
			s.startDrill(d)
		})
	})
	start.Importance = widget.HighImportance
	intro := widget.NewLabel("A drill rehearses the whole activation and recovery (or a rotation of the custodians) against a simulated HSM. Software keys need nothing installed; SoftHSM and virtual YubiKeys exercise the token code paths. Every file and record says DRILL.")
	intro.Wrapping = fyne.TextWrapWord
	tokens := fyne.CanvasObject(kind)
	if !slices.Contains(ceremony.DrillTokenKinds(), ceremony.VCardTokens) {
		// The production build: say where the virtual YubiKeys went.
		hint := widget.NewLabel("Virtual YubiKeys (vcard) are in the drill build only: make build-drill builds bin/custodian-drill.")
		hint.Wrapping = fyne.TextWrapWord
		tokens = container.NewVBox(kind, hint)
	}
	s.show(ceremony.Drill, "Drill — set-up", container.NewVBox(intro,
		widget.NewForm(widget.NewFormItem("Custodians (N)", n), widget.NewFormItem("Quorum (M)", m), widget.NewFormItem("Tokens", tokens),
			widget.NewFormItem("Rotation", rotate)),
		rails, start, status))
}

// startDrill puts the wizards in front of a drill: the activation wizard
// drives the activation DrillRun hands out, then the recovery (or the
// rotation) wizard the next one, with DrillRun playing the operator and
// the HSM. The drill is the shell's until it ends (Home, or a new drill),
// so leaving abandons it through DrillRun.
func (s *shell) startDrill(d *ceremony.DrillRun) {
	if s.drill != d {
		s.endDrill()
		s.drill = d
	}
	a, err := d.NewActivation()
	if err != nil {
		s.drillFailed(d, err)
		return
	}
	aw := &activationWizard{s: s, a: a, drill: d, session: d.Session, tokens: d.Session.Tokens.Manager()}
	aw.next = func() { s.drillAfterActivation(d) }
	aw.render()
}

// drillAfterActivation goes on to the drill's second workflow once the
// activation is signed off.
func (s *shell) drillAfterActivation(d *ceremony.DrillRun) {
	if d.IsRotation() {
		s.startDrillRotation(d)
		return
	}
	r, err := d.NewRecovery()
	if err != nil {
		s.drillFailed(d, err)
		return
	}
	name, data := d.SecurityDomain()
	(&recoveryWizard{s: s, r: r, cfg: r.Config(), drill: d, session: d.Session, sdName: name, sdBytes: data}).render()
}

// drillFailed ends a drill whose next step could not start: Custodian
// cancels it saying why, and the end screen shows the closed transcript.
func (s *shell) drillFailed(d *ceremony.DrillRun, cause error) {
	o, _ := d.Fail(cause)
	s.endScreen(ceremony.Drill, "Drill — stopped", o, widget.NewLabel(cause.Error()))
}

func (s *shell) showError(title string, err error) {
	l := widget.NewLabel(err.Error())
	l.Wrapping = fyne.TextWrapWord
	s.show(s.mode, title+" — error", container.NewVBox(l))
}

// quorumPicker is the N and M choice of every set-up (3 to 10
// custodians, a quorum of 2 to 10), with the guard rails for the chosen
// pair shown as it changes.
func quorumPicker() (n, m *widget.Select, rails *widget.Label) {
	n = widget.NewSelect([]string{"3", "4", "5", "6", "7", "8", "9", "10"}, nil)
	n.SetSelected("3")
	m = widget.NewSelect([]string{"2", "3", "4", "5", "6", "7", "8", "9", "10"}, nil)
	m.SetSelected("2")
	rails = widget.NewLabel("")
	rails.Wrapping = fyne.TextWrapWord
	showRails := func(string) { rails.SetText(guardRailText(atoi(n.Selected), atoi(m.Selected))) }
	n.OnChanged, m.OnChanged = showRails, showRails
	showRails("")
	return n, m, rails
}

func guardRailText(n, m int) string {
	text := ""
	for _, g := range ceremony.GuardRails(n, m) {
		text += fmt.Sprintf("• %s: %s\n", g.Severity, g.Message)
	}
	return text
}

func atoi(s string) int {
	v, _ := strconv.Atoi(s)
	return v
}
