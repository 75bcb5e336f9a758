package gui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/ceremony/transfer/usb"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// transferScreen moves files across the air gap on removable media: export
// with a SHA256SUMS manifest, import with detection and checks.
func (s *shell) transferScreen() {
	media := container.NewVBox()
	mount := widget.NewSelect(nil, nil)
	mount.PlaceHolder = "choose a mounted medium"
	listMedia := func() {
		go func() {
			list, err := usb.List()
			s.do(func() {
				media.RemoveAll()
				var mounts []string
				if err != nil {
					media.Add(widget.NewLabel("Could not list media: " + err.Error()))
				}
				for _, m := range list {
					line := fmt.Sprintf("%s  %q  %s  %s", m.Device, m.Label, m.FSType, m.MountPoint)
					if m.Refused != "" {
						line += "  — refused: " + m.Refused
					} else if m.MountPoint != "" {
						mounts = append(mounts, m.MountPoint)
					}
					media.Add(widget.NewLabel(line))
				}
				if len(list) == 0 {
					media.Add(widget.NewLabel("No removable media. Insert a USB stick and mount it."))
				}
				mount.Options = mounts
				mount.Refresh()
			})
		}()
	}
	listMedia()

	files := widget.NewMultiLineEntry()
	files.SetPlaceHolder("files to export, one path per line")
	progress := widget.NewProgressBar()
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	export := widget.NewButtonWithIcon("Export to the medium", theme.UploadIcon(), func() {
		var list []usb.File
		for _, p := range strings.Split(files.Text, "\n") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			data, err := safefile.ReadLimited(p, 512<<20)
			if err != nil {
				status.SetText(err.Error())
				return
			}
			list = append(list, usb.File{Name: filepath.Base(p), Data: data})
		}
		target := mount.Selected
		go func() {
			m, err := usb.Export(context.Background(), target, list, func(ev usb.ProgressEvent) {
				s.do(func() {
					if ev.Total > 0 {
						progress.SetValue(float64(ev.Done) / float64(ev.Total))
					}
					status.SetText(fmt.Sprintf("%s: file %d of %d (%s)", ev.File, ev.Index+1, ev.Count, ev.Phase))
				})
			})
			s.do(func() {
				if err != nil {
					status.SetText("Export failed: " + err.Error())
					return
				}
				status.SetText(fmt.Sprintf("Exported and read back: %d file(s) written, %d already present; manifest %s", len(m.Written), len(m.Present), m.Path))
			})
		}()
	})
	export.Importance = widget.HighImportance

	importFrom := widget.NewEntry()
	importFrom.SetPlaceHolder("a folder on the medium, or one file")
	imported := widget.NewLabel("")
	imported.Wrapping = fyne.TextWrapWord
	importBtn := widget.NewButtonWithIcon("Check files", theme.DownloadIcon(), func() {
		paths := []string{importFrom.Text}
		if st, err := os.Stat(importFrom.Text); err == nil && st.IsDir() {
			entries, _ := os.ReadDir(importFrom.Text)
			paths = nil
			for _, e := range entries {
				if !e.IsDir() {
					paths = append(paths, filepath.Join(importFrom.Text, e.Name()))
				}
			}
		}
		go func() {
			res, err := usb.Import(context.Background(), paths)
			s.do(func() {
				var b strings.Builder
				if err != nil {
					b.WriteString(err.Error() + "\n")
				}
				for _, r := range res {
					b.WriteString(filepath.Base(r.Path) + ": " + r.Summary() + "\n")
				}
				imported.SetText(b.String())
			})
		}()
	})
	qrButton := widget.NewButtonWithIcon("QR codes: show or receive a file", theme.GridIcon(), s.qrScreen)
	s.show(ceremony.Production, "Transfer", container.NewVBox(
		qrButton,
		widget.NewCard("Removable media", "", container.NewVBox(media, widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), listMedia))),
		widget.NewCard("Export", "each file is written atomically, read back, and listed in SHA256SUMS",
			container.NewVBox(widget.NewForm(widget.NewFormItem("Medium", mount), widget.NewFormItem("Files", files)), export, progress, status)),
		widget.NewCard("Import", "what each file is, checked against SHA256SUMS",
			container.NewVBox(widget.NewForm(widget.NewFormItem("From", importFrom)), importBtn, imported)),
	))
}
