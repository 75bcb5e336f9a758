package gui

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// densities are the fragment sizes offered: smaller fragments make
// coarser codes that cheap cameras read, at the cost of more frames.
var densities = map[string]int{"low (150 bytes a frame)": 150, "normal (300)": 300, "high (600)": 600, "very high (1000)": 1000}

// qrScreen shows a file as an animated QR sequence, and receives one from
// a camera or from image files.
func (s *shell) qrScreen() {
	// Show.
	path := widget.NewEntry()
	path.SetPlaceHolder("file to show as QR codes (certificate, exchange key, SD file, blob, package)")
	density := widget.NewSelect([]string{"low (150 bytes a frame)", "normal (300)", "high (600)", "very high (1000)"}, nil)
	density.SetSelected("normal (300)")
	fps := widget.NewSlider(1, 15)
	fps.SetValue(8)
	fpsLabel := widget.NewLabel("8 frames a second")
	fps.OnChanged = func(v float64) { fpsLabel.SetText(fmt.Sprintf("%.0f frames a second", v)) }
	img := canvas.NewImageFromImage(nil)
	img.FillMode = canvas.ImageFillContain
	img.ScaleMode = canvas.ImageScalePixels
	img.SetMinSize(fyne.NewSize(520, 520))
	counter := widget.NewLabel("")
	building := widget.NewProgressBar()
	building.Hide()
	var stop func()
	var mu sync.Mutex
	showStatus := widget.NewLabel("")
	showStatus.Wrapping = fyne.TextWrapWord
	show := widget.NewButtonWithIcon("Show", theme.MediaPlayIcon(), func() {
		mu.Lock()
		if stop != nil {
			stop()
		}
		mu.Unlock()
		data, err := safefile.ReadLimited(path.Text, ur.MaxPayload)
		if err != nil {
			showStatus.SetText(err.Error())
			return
		}
		f, det, err := qr.FileFor(filepath.Base(path.Text), data)
		if err != nil {
			showStatus.SetText(err.Error())
			return
		}
		note := fmt.Sprintf("%s — %s — SHA-256 %s", f.Name, det, fingerprint.Of(data).GroupedHex())
		if det.Err != nil {
			note = "WARNING: " + note
		}
		showStatus.SetText(note)
		building.Show()
		opts := qr.Options{FragmentBytes: densities[density.Selected], FPS: fps.Value,
			Progress: func(done, total int) { s.do(func() { building.SetValue(float64(done) / float64(total)) }) }}
		go func() {
			seq, err := qr.NewSequence(f, opts)
			s.do(func() {
				building.Hide()
				if err != nil {
					showStatus.SetText(err.Error())
					return
				}
				mu.Lock()
				stop = s.animate(seq, img, counter, fps)
				mu.Unlock()
			})
		}()
	})
	show.Importance = widget.HighImportance
	full := widget.NewButtonWithIcon("Full screen", theme.ViewFullScreenIcon(), func() { s.win.SetFullScreen(!s.win.FullScreen()) })

	// Receive.
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

	defer s.onLeave(func() {
		mu.Lock()
		if stop != nil {
			stop()
		}
		mu.Unlock()
		if cancelScan != nil {
			cancelScan()
		}
	})
	s.show(ceremony.Production, "Transfer — QR codes", container.NewVBox(
		widget.NewCard("Show a file", "for the camera of the machine on the other side of the air gap", container.NewVBox(
			widget.NewForm(widget.NewFormItem("File", path), widget.NewFormItem("Density", density), widget.NewFormItem("Speed", container.NewBorder(nil, nil, nil, fpsLabel, fps))),
			container.NewHBox(show, full), building, showStatus, container.NewCenter(img), counter)),
		widget.NewCard("Receive a file", "frames in any order; duplicates and other codes are ignored", container.NewVBox(
			widget.NewForm(widget.NewFormItem("Save as", out), widget.NewFormItem("Images", images), widget.NewFormItem("Camera", device)),
			container.NewHBox(decode, scan, stopScan), recvBar, container.NewCenter(preview), received)),
	))
}

// animate loops over a sequence's frames at the slider's speed until the
// returned stop is called or another screen replaces this one.
func (s *shell) animate(seq *qr.Sequence, img *canvas.Image, counter *widget.Label, fps *widget.Slider) (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	frames := make([]image.Image, len(seq.Parts))
	go func() {
		for i := 0; ; i = (i + 1) % len(seq.Parts) {
			if frames[i] == nil {
				im, err := seq.Image(i)
				if err != nil {
					s.do(func() { counter.SetText(err.Error()) })
					return
				}
				frames[i] = im
			}
			frame, n := frames[i], i+1
			s.do(func() {
				img.Image = frame
				img.Refresh()
				if seq.SeqLen == 1 {
					counter.SetText("one code: hold it in front of the camera")
				} else {
					counter.SetText(fmt.Sprintf("frame %d of %d (a loop of %d fragments; keep it running until the receiver is done)", n, len(seq.Parts), seq.SeqLen))
				}
			})
			if seq.SeqLen == 1 {
				<-done
				return
			}
			select {
			case <-done:
				return
			case <-time.After(time.Duration(float64(time.Second) / max(fps.Value, 1))):
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
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
