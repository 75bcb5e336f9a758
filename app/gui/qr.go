package gui

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/ceremony/transfer/filekind"
	"github.com/custodian-hsm/custodian/ceremony/transfer/qr"
	"github.com/custodian-hsm/custodian/ceremony/transfer/ur"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// qrScreen shows a file as an animated QR sequence (the transmitter), and
// receives one from a camera or from image files.
func (s *shell) qrScreen() { s.openQRScreen() }

// openQRScreen is qrScreen, returning its transmitter (for the screenshot
// tour and tests).
func (s *shell) openQRScreen() *qrTransmitter {
	path := widget.NewEntry()
	path.SetPlaceHolder("file to show as QR codes")
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	var tx *qrTransmitter
	show := widget.NewButtonWithIcon("Show", theme.MediaPlayIcon(), func() {
		// The old file's frames stop here, before the new file is read.
		tx.setFile("", nil)
		data, err := safefile.ReadLimited(path.Text, ur.MaxPayload)
		if err != nil {
			status.SetText(err.Error())
			return
		}
		status.SetText("")
		tx.setFile(filepath.Base(path.Text), data)
	})
	show.Importance = widget.HighImportance
	path.OnSubmitted = func(string) { show.OnTapped() }
	tx = newQRTransmitter(s, "", nil, path, show, status)
	receiver, stopScan := s.qrReceiver()
	tabs := container.NewAppTabs(
		container.NewTabItemWithIcon("Show a file", theme.MediaPlayIcon(), tx.object),
		// Scrolled on its own, so its height does not push the code off
		// the window in the other tab.
		container.NewTabItemWithIcon("Receive a file", theme.DownloadIcon(), container.NewVScroll(receiver)),
	)
	// Frames nobody sees are not drawn: the other tab stops them.
	tabs.OnSelected = func(*container.TabItem) { tx.stop() }
	s.show(ceremony.Production, "Transfer — QR codes", tabs)
	s.onLeave(func() {
		tx.close()
		stopScan()
	})
	return tx
}

// qrReceiver reads a file from QR codes: image files or a camera. stop
// ends a running camera scan.
func (s *shell) qrReceiver() (receiver fyne.CanvasObject, stop func()) {
	images := widget.NewMultiLineEntry()
	images.SetPlaceHolder("image files of the codes (or a folder of them), one per line")
	device := widget.NewEntry()
	device.SetText("/dev/video0")
	out := widget.NewEntry()
	out.SetPlaceHolder("where to save the received file (a new name)")
	received := widget.NewLabel("")
	received.Wrapping = fyne.TextWrapWord
	recvBar := widget.NewProgressBar()
	preview := canvas.NewImageFromImage(nil)
	preview.FillMode = canvas.ImageFillContain
	preview.SetMinSize(fyne.NewSize(320, 240))
	save := func(f ur.File, err error) {
		s.do(func() {
			if err != nil {
				received.SetText("Not received: " + err.Error())
				return
			}
			if err := safefile.Write(out.Text, f.Data, safefile.Private()); err != nil {
				received.SetText(err.Error())
				return
			}
			det := filekind.Detect(f.Data)
			received.SetText(fmt.Sprintf("Received %q (sent as %s), saved to %s\n%s\nSHA-256 %s\n%s",
				f.Name, f.Kind, out.Text, det, fingerprint.Of(f.Data).GroupedHex(), fingerprint.Of(f.Data).WordString()))
		})
	}
	progress := func(p ur.Progress) {
		s.do(func() { recvBar.SetValue(p.Estimate); received.SetText(p.String()) })
	}
	decode := widget.NewButtonWithIcon("Decode the images", theme.FileImageIcon(), func() {
		if out.Text == "" {
			received.SetText("Choose where to save the received file first.")
			return
		}
		paths := imagePaths(images.Text)
		go func() {
			var skipped []string
			f, err := qr.DecodeFiles(paths, progress, func(e *qr.ImageError) { skipped = append(skipped, e.Error()) })
			if err == nil && len(skipped) > 0 {
				s.do(func() { received.SetText(fmt.Sprintf("%d image(s) had no readable code", len(skipped))) })
			}
			save(f, err)
		}()
	})
	var cancelScan context.CancelFunc
	scan := widget.NewButtonWithIcon("Scan with the camera", theme.MediaRecordIcon(), func() {
		if out.Text == "" {
			received.SetText("Choose where to save the received file first.")
			return
		}
		cam, err := qr.OpenWebcam(device.Text)
		if err != nil {
			received.SetText(err.Error())
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		cancelScan = cancel
		sc := qr.Scanner{Source: previewSource{cam, preview, s}, Progress: progress,
			Rejected: func(err error) { s.do(func() { received.SetText(err.Error()) }) }}
		go func() {
			defer cancel()
			defer cam.Close()
			f, err := sc.Run(ctx)
			save(f, err)
		}()
	})
	stopScan := widget.NewButton("Stop", func() {
		if cancelScan != nil {
			cancelScan()
		}
	})
	stop = func() {
		if cancelScan != nil {
			cancelScan()
		}
	}
	return widget.NewCard("Receive a file", "frames in any order; duplicates and other codes are ignored", container.NewVBox(
		widget.NewForm(widget.NewFormItem("Save as", out), widget.NewFormItem("Images", images), widget.NewFormItem("Camera", device)),
		container.NewHBox(decode, scan, stopScan), recvBar, container.NewCenter(preview), received)), stop
}

// previewSource shows each camera frame while the scanner reads it.
type previewSource struct {
	qr.FrameSource
	preview *canvas.Image
	s       *shell
}

func (p previewSource) Next(ctx context.Context) (image.Image, error) {
	im, err := p.FrameSource.Next(ctx)
	if err == nil {
		p.s.do(func() { p.preview.Image = im; p.preview.Refresh() })
	}
	return im, err
}

// imagePaths expands the entry's lines (files or folders) to image files.
func imagePaths(text string) []string {
	var paths []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if st, err := os.Stat(line); err == nil && st.IsDir() {
			entries, _ := os.ReadDir(line)
			for _, e := range entries {
				ext := strings.ToLower(filepath.Ext(e.Name()))
				if ext == ".png" || ext == ".jpg" || ext == ".jpeg" {
					paths = append(paths, filepath.Join(line, e.Name()))
				}
			}
			continue
		}
		paths = append(paths, line)
	}
	return paths
}
