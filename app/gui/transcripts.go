package gui

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/ceremony/printout"
	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// transcriptsScreen opens a transcript, verifies its chain and shows its
// steps with the final digest as hex and words.
func (s *shell) transcriptsScreen() {
	path := widget.NewEntry()
	path.SetPlaceHolder("transcript file (.jsonl)")
	verdict := widget.NewLabel("")
	verdict.Wrapping = fyne.TextWrapWord
	steps := container.NewVBox()
	open := widget.NewButtonWithIcon("Open and verify", theme.FolderOpenIcon(), func() {
		steps.RemoveAll()
		v, err := transcript.VerifyFile(path.Text)
		if err != nil {
			verdict.SetText(err.Error())
			return
		}
		if v.OK() {
			fp, _ := fingerprint.FromHex(v.Final)
			verdict.SetText(fmt.Sprintf("INTACT — %d entries, closed.\nFinal digest %s\n%s", len(v.Entries), fp.GroupedHex(), fp.WordString()))
		} else {
			text := "ALTERED — this transcript is not the one that was signed:\n"
			for _, p := range v.Problems {
				text += "• " + p.String() + "\n"
			}
			verdict.SetText(text)
		}
		for _, e := range v.Entries {
			line := fmt.Sprintf("%3d  %s  %s", e.Seq, e.Time, e.Step)
			if e.Actor != nil {
				line += fmt.Sprintf("  [%s %s]", e.Actor.Role, e.Actor.Name)
			}
			if e.Decision != "" {
				line += "\n     decision: " + e.Decision
			}
			if e.Exception != nil {
				line += fmt.Sprintf("\n     EXCEPTION: %s (approved by %s)", e.Exception.What, e.Exception.ApprovedBy)
			}
			if e.Message != "" {
				line += "\n     " + e.Message
			}
			l := widget.NewLabel(line)
			l.Wrapping = fyne.TextWrapWord
			steps.Add(l)
		}
	})
	open.Importance = widget.HighImportance
	printed := widget.NewLabel("")
	printed.Wrapping = fyne.TextWrapWord
	printRecord := widget.NewButtonWithIcon("Print the record (PDF)", theme.DocumentPrintIcon(), func() {
		v, err := transcript.VerifyFile(path.Text)
		if err != nil {
			printed.SetText(err.Error())
			return
		}
		if !v.OK() {
			printed.SetText("Not printed: the transcript failed verification. `custodian transcript print --force` prints it stamped FAILED VERIFICATION.")
			return
		}
		out := strings.TrimSuffix(path.Text, filepath.Ext(path.Text)) + "-record.pdf"
		var pdf bytes.Buffer
		if err := printout.Render(v, &pdf, printout.Options{Compress: true}); err != nil {
			printed.SetText(err.Error())
			return
		}
		if err := safefile.Write(out, pdf.Bytes()); err != nil {
			printed.SetText(err.Error())
			return
		}
		printed.SetText("Written " + out + ": print it, initial every page, sign.")
	})
	s.show(ceremony.Production, "Transcripts", container.NewVBox(widget.NewForm(widget.NewFormItem("Transcript", path)), container.NewHBox(open, printRecord), printed, verdict, steps))
}
