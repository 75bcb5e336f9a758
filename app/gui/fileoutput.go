package gui

import (
	"context"
	"fmt"
	"path/filepath"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony/transfer/usb"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// showFileAsQR shows a file as a QR sequence in an overlay over the
// current screen (qr_transmitter.go), so the ceremony stays where it is.
// Tests replace it to see what would be shown.
var showFileAsQR = func(s *shell, name string, data []byte) { s.showAsQR(name, data) }

// outputActions offers, for the files a step wrote in dir, "Write to a USB
// medium" (each file written atomically, read back and listed in
// SHA256SUMS) and "Show as QR", without leaving the step.
func (s *shell) outputActions(dir string, names []string) fyne.CanvasObject {
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	read := func(name string) ([]byte, error) {
		return safefile.ReadLimited(filepath.Join(dir, name), 512<<20)
	}
	var write *widget.Button
	write = widget.NewButtonWithIcon("Write to a USB medium", theme.UploadIcon(), func() {
		media, err := usb.List()
		mount := ""
		for _, m := range media {
			if m.MountPoint != "" && m.Refused == "" && mount == "" {
				mount = m.MountPoint
			}
		}
		if err != nil || mount == "" {
			status.SetText("No removable medium is mounted: insert the USB stick and mount it, then try again.")
			return
		}
		var files []usb.File
		for _, n := range names {
			data, err := read(n)
			if err != nil {
				status.SetText(err.Error())
				return
			}
			files = append(files, usb.File{Name: n, Data: data})
		}
		var m *usb.Manifest
		s.busy(write, status, "Writing to "+mount, func() (err error) {
			m, err = usb.Export(context.Background(), mount, files, nil)
			return err
		}, func(err error) {
			if err != nil {
				status.SetText("Not written to the medium: " + err.Error())
				return
			}
			status.SetText(fmt.Sprintf("Written to %s and read back: %d file(s), %d already there; %s lists them.", mount, len(m.Written), len(m.Present), m.Path))
		})
	})
	which := widget.NewSelect(names, nil)
	if len(names) > 0 {
		which.SetSelected(names[len(names)-1])
	}
	show := widget.NewButtonWithIcon("Show as QR", theme.GridIcon(), func() {
		data, err := read(which.Selected)
		if err != nil {
			status.SetText(err.Error())
			return
		}
		showFileAsQR(s, which.Selected, data)
	})
	return widget.NewCard("Take the files across", "", container.NewVBox(
		container.NewGridWithColumns(3, write, which, show), status))
}
