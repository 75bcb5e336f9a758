package gui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony/airgap"
)

// NewStatusBar shows, in two short lines at the foot of every screen, what
// a witness checks before a ceremony: which build this is (DRILL BUILD in
// the drill build), its version, the SHA-256 of the binary shortened to
// its first and last 8 hex digits and its first words, and the air-gap
// verdict. The full hash, all the words and every air-gap finding are one
// press away (Details, or Ctrl+I): at 1024×768 the full identity took a
// third of the window from the screen above it.
func NewStatusBar(id Identity) fyne.CanvasObject { return statusBar(id, airgap.Live().Check()) }

// statusBar is NewStatusBar with the air-gap report given (the shell's
// screens show the shell's own self-check, which tests replace).
func statusBar(id Identity, report *airgap.Report) fyne.CanvasObject {
	version := widget.NewLabel("Custodian " + id.Version)
	version.Truncation = fyne.TextTruncateEllipsis
	hash := widget.NewLabelWithStyle("binary SHA-256 "+shortHash(id.SHA256), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	words := widget.NewLabel(firstWords(id.Words))
	build := []fyne.CanvasObject{widget.NewIcon(theme.InfoIcon())}
	if id.DrillBuild {
		build = append(build, drillBuildMark("DRILL BUILD — never for production"))
	}
	// The version gives way (ellipsis) before the hash and the words do.
	line1 := container.NewBorder(nil, nil, container.NewHBox(build...), container.NewHBox(hash, words), version)
	gap := widget.NewLabel(airGapLine(report))
	gap.Truncation = fyne.TextTruncateEllipsis
	details := widget.NewButtonWithIcon("Details", theme.InfoIcon(), nil)
	details.OnTapped = func() {
		if w := windowOf(details); w != nil {
			showBuildDetails(w, id, report)
		}
	}
	line2 := container.NewBorder(nil, nil, nil, details, gap)
	return container.NewVBox(widget.NewSeparator(), line1, line2)
}

// shortHash is the first and last 8 hex digits of a SHA-256, enough to
// tell builds apart at a glance; the details show all 64. When the hash is
// unknown the reason can be long: the details say it.
func shortHash(hex string) string {
	for _, c := range hex {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return "unknown (see Details)"
		}
	}
	if len(hex) <= 20 {
		return hex
	}
	return hex[:8] + "…" + hex[len(hex)-8:]
}

// firstWords is the first group of the hash's words ("wolf math figs
// inky"), followed by an ellipsis when there are more.
func firstWords(words string) string {
	first, _, more := strings.Cut(words, " · ")
	if more {
		return first + " …"
	}
	return first
}

// windowOf finds the window that shows o (the status bar is built without
// its window).
func windowOf(o fyne.CanvasObject) fyne.Window {
	a := fyne.CurrentApp()
	if a == nil {
		return nil
	}
	c := a.Driver().CanvasForObject(o)
	for _, w := range a.Driver().AllWindows() {
		if w.Canvas() == c {
			return w
		}
	}
	return nil
}

// showBuildDetails shows the build's whole identity and every air-gap
// finding, for the witness to compare with the release notes and to read.
func showBuildDetails(w fyne.Window, id Identity, report *airgap.Report) {
	hash := widget.NewLabelWithStyle(id.SHA256, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	hash.Wrapping = fyne.TextWrapBreak
	words := widget.NewLabel(id.Words)
	words.Wrapping = fyne.TextWrapWord
	var findings []string
	for _, f := range report.Findings {
		mark := "✔ "
		if f.Severity != airgap.OK {
			mark = "⚠ "
		}
		findings = append(findings, mark+f.Check+": "+f.Message)
	}
	if len(findings) == 0 {
		findings = []string{airGapLine(report)}
	}
	gap := widget.NewLabel(strings.Join(findings, "\n"))
	gap.Wrapping = fyne.TextWrapWord
	heading := func(s string) fyne.CanvasObject {
		return widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	body := container.NewVBox(heading("Version"), widget.NewLabel("Custodian "+id.Version))
	if id.DrillBuild {
		body.Add(drillBuildMark("DRILL BUILD — test tools inside, never use this binary for a production ceremony"))
	}
	body.Add(heading("SHA-256 of the binary"))
	body.Objects = append(body.Objects, hash, words, heading("Air-gap self-check"), gap)
	d := dialog.NewCustom("This build and this machine", "Close", container.NewVScroll(body), w)
	size := w.Canvas().Size()
	d.Resize(fyne.NewSize(min(760, size.Width-40), min(560, size.Height-40)))
	d.Show()
}

// drillBuildMark tells everyone at the table that this binary is the drill
// build (virtual YubiKeys, screenshot tour): never one for a production
// ceremony.
func drillBuildMark(say string) fyne.CanvasObject {
	text := canvas.NewText(say, drillColor)
	text.TextStyle = fyne.TextStyle{Bold: true}
	return container.NewCenter(text)
}

// airGapLine is the air-gap self-check's verdict in one line.
func airGapLine(r *airgap.Report) string {
	if r.Clean() {
		return "✔ " + r.Summary()
	}
	return "⚠ " + r.Summary()
}
