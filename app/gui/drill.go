package gui

import (
	"fmt"
	"os"
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
	n := widget.NewSelect([]string{"3", "4", "5", "6", "7", "8", "9", "10"}, nil)
	n.SetSelected("3")
	m := widget.NewSelect([]string{"2", "3", "4", "5", "6", "7", "8", "9", "10"}, nil)
	m.SetSelected("2")
	var kinds []string
	for _, k := range ceremony.DrillTokenKinds() {
		kinds = append(kinds, string(k))
	}
	kind := widget.NewRadioGroup(kinds, nil)
	kind.SetSelected(string(ceremony.SoftTokens))
	rails := widget.NewLabel("")
	rails.Wrapping = fyne.TextWrapWord
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	showRails := func(string) { rails.SetText(guardRailText(atoi(n.Selected), atoi(m.Selected))) }
	n.OnChanged, m.OnChanged = showRails, showRails
	showRails("")
	var start *widget.Button
	start = widget.NewButtonWithIcon("Start the drill", theme.MediaPlayIcon(), func() {
		nn, mm := atoi(n.Selected), atoi(m.Selected)
		if err := ceremony.CheckQuorum(nn, mm); err != nil {
			status.SetText(err.Error())
			return
		}
		dir := filepath.Join(s.workDir, "DRILL-"+time.Now().UTC().Format("20060102-150405.000"))
		tokenKind := ceremony.TokenKind(kind.Selected)
		var session *ceremony.DrillSession
		// SoftHSM and virtual cards take seconds to provision.
		s.busy(start, status, "Preparing the drill tokens and the drill HSM", func() (err error) {
			session, err = ceremony.NewDrillSession(dir, tokenKind, nn)
			return err
		}, func(err error) {
			if err != nil {
				status.SetText(err.Error())
				return
			}
			s.startDrill(session, nn, mm)
		})
	})
	start.Importance = widget.HighImportance
	intro := widget.NewLabel("A drill rehearses the whole activation and recovery against a simulated HSM. Software keys need nothing installed; SoftHSM and virtual YubiKeys exercise the token code paths. Every file and record says DRILL.")
	intro.Wrapping = fyne.TextWrapWord
	tokens := fyne.CanvasObject(kind)
	if !slices.Contains(ceremony.DrillTokenKinds(), ceremony.VCardTokens) {
		// The production build: say where the virtual YubiKeys went.
		hint := widget.NewLabel("Virtual YubiKeys (vcard) are in the drill build only: make build-drill builds bin/custodian-drill.")
		hint.Wrapping = fyne.TextWrapWord
		tokens = container.NewVBox(kind, hint)
	}
	s.show(ceremony.Drill, "Drill — set-up", container.NewVBox(intro,
		widget.NewForm(widget.NewFormItem("Custodians (N)", n), widget.NewFormItem("Quorum (M)", m), widget.NewFormItem("Tokens", tokens)),
		rails, start, status))
}

// startDrill runs the activation wizard, then the recovery wizard, with the
// drill session playing the operator and the HSM.
func (s *shell) startDrill(session *ceremony.DrillSession, n, m int) {
	if s.drill != session {
		s.endDrill()
		s.drill = session
	}
	rec, err := s.recorder(session.Dir, ceremony.Drill, "drill", "DRILL-"+filepath.Base(session.Dir), "drill-hsm")
	if err != nil {
		s.showError("Drill", err)
		return
	}
	a, err := ceremony.NewActivation(ceremony.ActivationConfig{Mode: ceremony.Drill, HSMName: "drill-hsm",
		CeremonyID: "DRILL-" + filepath.Base(session.Dir), Custodians: n, Quorum: m, Witness: "Drill witness"}, session.Tokens.Manager(), ceremony.Part(rec))
	if err != nil {
		s.showError("Drill", err)
		return
	}
	aw := &activationWizard{s: s, a: a, session: session, tokens: session.Tokens.Manager()}
	aw.next = func() {
		name := a.Package().Manifest.SDFileName
		sdBytes, err := os.ReadFile(filepath.Join(session.Dir, name))
		if err != nil {
			s.showError("Drill", err)
			return
		}
		cfg := ceremony.RecoveryConfig{Mode: ceremony.Drill, HSMName: "drill-hsm", CeremonyID: a.Config().CeremonyID + "-recovery", Witness: "Drill witness"}
		r, err := ceremony.NewRecovery(cfg, session.Tokens.Manager(), rec)
		if err != nil {
			s.showError("Drill", err)
			return
		}
		rw := &recoveryWizard{s: s, r: r, cfg: cfg, session: session, sdName: name, sdBytes: sdBytes}
		rw.render()
	}
	aw.render()
}

func (s *shell) showError(title string, err error) {
	l := widget.NewLabel(err.Error())
	l.Wrapping = fyne.TextWrapWord
	s.show(s.mode, title+" — error", container.NewVBox(l))
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
