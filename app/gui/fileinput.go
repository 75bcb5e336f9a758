package gui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony/transfer/camera"
	"github.com/custodian-hsm/custodian/ceremony/transfer/filekind"
	"github.com/custodian-hsm/custodian/ceremony/transfer/qr"
	"github.com/custodian-hsm/custodian/ceremony/transfer/usb"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
)

// fileInput is a ceremony step's way in for a file, in the step itself:
// a typed path, a file chosen in a dialog, a file read from a removable
// medium (checked against its SHA256SUMS), QR code images decoded, or QR
// codes scanned with a camera (camera.go).
// After each input it says what the file is, its SHA-256 and its words.
type fileInput struct {
	s     *shell
	Path  *widget.Entry
	about *widget.Label
	// fromQR holds a file decoded from QR images; qrLabel is what the
	// path field shows for it (typing over it goes back to paths).
	fromQR  []byte
	qrName  string
	qrLabel string
	box     *fyne.Container
	// cameras and openCamera find and open cameras (package camera's
	// List and Open; tests give others).
	cameras    func() ([]camera.Device, error)
	openCamera func(path string) (cameraSource, error)
}

func (s *shell) newFileInput(placeholder string) *fileInput {
	f := &fileInput{s: s, Path: widget.NewEntry(), about: widget.NewLabel(""), cameras: camera.List, openCamera: openDevice}
	f.Path.SetPlaceHolder(placeholder)
	f.about.Wrapping = fyne.TextWrapWord
	f.about.TextStyle = fyne.TextStyle{Monospace: true}
	choose := widget.NewButtonWithIcon("Choose a file…", theme.FolderOpenIcon(), f.choose)
	medium := widget.NewButtonWithIcon("From a USB medium…", theme.StorageIcon(), f.fromMedium)
	scan := widget.NewButtonWithIcon("Scan QR images…", theme.GridIcon(), f.scanQR)
	cam := widget.NewButtonWithIcon("Scan with camera…", theme.MediaRecordIcon(), f.scanCamera)
	f.box = container.NewVBox(f.Path, container.NewGridWithColumns(4, choose, medium, scan, cam), f.about)
	return f
}

// Read returns the file's name and bytes and shows what it is.
func (f *fileInput) Read() (string, []byte, error) {
	if f.fromQR != nil && f.Path.Text == f.qrLabel {
		f.describe(f.fromQR, "decoded from QR codes")
		return f.qrName, f.fromQR, nil
	}
	data, err := readFileLimited(f.Path.Text)
	if err != nil {
		f.about.SetText(err.Error())
		return "", nil, err
	}
	f.describe(data, "")
	return filepath.Base(f.Path.Text), data, nil
}

// describe shows the file's kind, SHA-256 and words.
func (f *fileInput) describe(data []byte, note string) {
	fp := fingerprint.Of(data)
	text := filekind.Detect(data).String() + "\nSHA-256 " + fp.GroupedHex() + "\n" + fp.WordString()
	if note != "" {
		text = note + "\n" + text
	}
	f.about.SetText(text)
}

// take sets the path and shows what the file is.
func (f *fileInput) take(path, note string) {
	f.fromQR = nil
	f.Path.SetText(path)
	data, err := readFileLimited(path)
	if err != nil {
		f.about.SetText(err.Error())
		return
	}
	f.describe(data, note)
}

func (f *fileInput) choose() { f.openDialog("", "") }

// openDialog opens Fyne's file dialog, at dir when given.
func (f *fileInput) openDialog(dir, note string) {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return
		}
		path := r.URI().Path()
		r.Close()
		if dir != "" {
			f.checkOnMedium(path)
			return
		}
		f.take(path, note)
	}, f.s.win)
	if dir != "" {
		if l, err := storage.ListerForURI(storage.NewFileURI(dir)); err == nil {
			d.SetLocation(l)
		}
	}
	d.Resize(f.s.win.Canvas().Size())
	d.Show()
}

// fromMedium opens the file dialog on the mounted removable medium.
func (f *fileInput) fromMedium() {
	media, err := usb.List()
	var mounts []string
	for _, m := range media {
		if m.MountPoint != "" && m.Refused == "" {
			mounts = append(mounts, m.MountPoint)
		}
	}
	switch {
	case err != nil:
		f.about.SetText("Could not list removable media: " + err.Error())
	case len(mounts) == 0:
		f.about.SetText("No removable medium is mounted: insert the USB stick and mount it, then try again.")
	default:
		f.openDialog(mounts[0], "")
	}
}

// checkOnMedium reads a file from a medium with the SHA256SUMS check.
func (f *fileInput) checkOnMedium(path string) {
	go func() {
		res, err := usb.Import(context.Background(), []string{path})
		f.s.do(func() {
			if err == nil && len(res) == 1 && res[0].Err != nil {
				err = res[0].Err
			}
			if err != nil {
				f.about.SetText("Not taken from the medium: " + err.Error())
				return
			}
			f.take(path, res[0].Summary())
		})
	}()
}

// scanQR decodes the QR images (PNG, JPEG) of a folder chosen in a dialog,
// in any order, until the file is complete.
func (f *fileInput) scanQR() {
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil || u == nil {
			return
		}
		f.decodeFolder(u.Path())
	}, f.s.win)
	d.Resize(f.s.win.Canvas().Size())
	d.Show()
}

func (f *fileInput) decodeFolder(dir string) {
	entries, err := os.ReadDir(dir)
	var paths []string
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if !e.IsDir() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg") {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(paths)
	if err == nil && len(paths) == 0 {
		err = errors.New("no PNG or JPEG images in " + dir)
	}
	if err != nil {
		f.about.SetText(err.Error())
		return
	}
	f.about.SetText(fmt.Sprintf("Decoding %d images…", len(paths)))
	go func() {
		file, err := qr.DecodeFiles(paths, nil, nil)
		f.s.do(func() {
			if err != nil {
				f.about.SetText("QR codes: " + err.Error())
				return
			}
			f.fromQR, f.qrName = file.Data, file.Name
			f.qrLabel = "(decoded from QR codes) " + file.Name
			f.Path.SetText(f.qrLabel)
			f.describe(file.Data, fmt.Sprintf("decoded from %d QR images", len(paths)))
		})
	}()
}
