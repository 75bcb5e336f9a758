package gui

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
)

// transcriptsScreen opens a transcript, verifies its chain and shows its
// steps with the final digest as hex and words.
func (s *shell) transcriptsScreen() {
	path := widget.NewEntry()
	path.SetPlaceHolder("transcript file (.jsonl)")
	digest := widget.NewEntry()
	digest.SetPlaceHolder("final digest from the signed record (hex, optional): checked against the file")
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
			text := fmt.Sprintf("INTACT — %d entries, closed.\nFinal digest %s\n%s", len(v.Entries), fp.GroupedHex(), fp.WordString())
			if want := normalHex(digest.Text); want != "" {
				if want == strings.ToLower(v.Final) {
					text += "\nThe digest matches the signed record."
				} else {
					text += "\nTHE DIGEST DOES NOT MATCH the signed record: this is not the transcript that was signed."
				}
			}
			verdict.SetText(text)
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
		out, err := printRecord(path.Text)
		if err != nil {
			printed.SetText(err.Error())
			return
		}
		printed.SetText("Written " + out + ": print it, initial every page, sign.")
	})
	seal := widget.NewButtonWithIcon("Seal an interrupted transcript", theme.DocumentSaveIcon(), func() {
		v, err := transcript.Seal(path.Text, time.Now)
		if err != nil {
			printed.SetText(err.Error())
			return
		}
		fp, _ := fingerprint.FromHex(v.Final)
		printed.SetText(fmt.Sprintf("Sealed: the transcript is closed as interrupted.\nFinal digest %s\n%s", fp.GroupedHex(), fp.WordString()))
	})
	s.show(ceremony.Production, "Transcripts", container.NewVBox(widget.NewForm(widget.NewFormItem("Transcript", path), widget.NewFormItem("Digest", digest)), container.NewGridWithColumns(3, open, printRecord, seal), printed, verdict, steps))
}

// normalHex strips the spaces and colons people type in a digest.
func normalHex(s string) string {
	return strings.ToLower(strings.NewReplacer(" ", "", ":", "", "\n", "", "\t", "").Replace(strings.TrimSpace(s)))
}
