package gui

import (
	"context"
	"errors"
	"fmt"
	"image"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/ceremony/transfer/camera"
)

// cameraSource is an open camera as the scan panel uses it.
type cameraSource interface {
	ceremony.GrayFrames
	Close() error
}

// openDevice opens a V4L2 camera; tests give fileInput another opener.
func openDevice(path string) (cameraSource, error) { return camera.Open(path, camera.Options{}) }

// cameraScan is the "Scan with camera" panel shown over a ceremony step:
// the camera's live picture, how many parts have come, and Cancel. The
// step stays where it was underneath; the file received goes into it.
type cameraScan struct {
	f       *fileInput
	devices []camera.Device
	overlay fyne.CanvasObject
	preview *canvas.Image
	bar     *widget.ProgressBar
	status  *widget.Label
	retry   *widget.Button
	cancel  context.CancelFunc
	done    chan struct{} // closed when the scan goroutine has released the camera
	closed  bool
}

// scanCamera lists the cameras; without one it says so and offers the
// image-file scan instead.
func (f *fileInput) scanCamera() {
	devs, err := f.cameras()
	if err != nil {
		f.noCamera(err)
		return
	}
	c := &cameraScan{f: f, devices: devs}
	c.show()
	c.start(devs[0])
}

func (f *fileInput) noCamera(err error) {
	msg := err.Error()
	if errors.Is(err, camera.ErrNoCamera) {
		msg = "No camera found: connect a USB camera, or scan image files instead."
	}
	f.about.SetText(msg)
	d := dialog.NewConfirm("No camera", msg+"\n\nScan QR image files instead?", func(ok bool) {
		if ok {
			f.scanQR()
		}
	}, f.s.win)
	d.SetConfirmText("Scan QR images…")
	d.SetDismissText("Close")
	d.Show()
}

func (c *cameraScan) show() {
	s := c.f.s
	c.preview = canvas.NewImageFromImage(image.NewGray(image.Rect(0, 0, 4, 3)))
	c.preview.FillMode = canvas.ImageFillContain
	c.preview.ScaleMode = canvas.ImageScaleFastest
	c.preview.SetMinSize(fyne.NewSize(320, 240))
	c.bar = widget.NewProgressBar()
	c.status = widget.NewLabel("Starting the camera…")
	c.status.Wrapping = fyne.TextWrapWord
	names := make([]string, len(c.devices))
	for i, d := range c.devices {
		names[i] = d.String()
	}
	pick := widget.NewSelect(names, nil)
	pick.SetSelectedIndex(0) // scanCamera starts the first camera
	pick.OnChanged = func(name string) { c.restart(c.current(name)) }
	cancel := widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), c.close)
	c.retry = widget.NewButtonWithIcon("Scan again", theme.ViewRefreshIcon(), func() { c.restart(c.current(pick.Selected)) })
	c.retry.Hide()
	images := widget.NewButtonWithIcon("Scan QR images instead…", theme.GridIcon(), func() { c.close(); c.f.scanQR() })
	title := widget.NewLabelWithStyle("Scan QR codes with the camera", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	hint := widget.NewLabel("Hold the camera up to the other machine's QR codes, close enough that the code fills most of the picture. Parts arrive in any order; missed ones come round again.")
	hint.Wrapping = fyne.TextWrapWord
	body := container.NewBorder(
		container.NewVBox(title, hint, widget.NewForm(widget.NewFormItem("Camera", pick))),
		container.NewVBox(c.bar, c.status, container.NewHBox(cancel, c.retry, images)),
		nil, nil, c.preview)
	cv := s.win.Canvas()
	c.overlay = container.NewStack(canvas.NewRectangle(theme.Color(theme.ColorNameBackground)), container.NewPadded(body))
	cv.Overlays().Add(c.overlay)
	c.overlay.Resize(cv.Size())
	s.onLeave(c.close)
}

func (c *cameraScan) current(name string) camera.Device {
	for _, d := range c.devices {
		if d.String() == name {
			return d
		}
	}
	return c.devices[0]
}

// restart stops the running scan, if any, and scans from d.
func (c *cameraScan) restart(d camera.Device) {
	if c.closed {
		return
	}
	c.stop()
	c.start(d)
}

// start opens d and scans it on a worker until a file is complete. The
// worker first waits for the previous one to release its camera, so that
// scanning the same device again does not find it busy.
func (c *cameraScan) start(d camera.Device) {
	ctx, cancel := context.WithCancel(context.Background())
	prev, done := c.done, make(chan struct{})
	c.cancel, c.done = cancel, done
	c.retry.Hide()
	c.bar.SetValue(0)
	c.status.SetText("Starting " + d.String() + "…")
	s := c.f.s
	go func() {
		defer close(done)
		defer cancel()
		if prev != nil {
			<-prev
		}
		cam, err := c.f.openCamera(d.Path)
		if err != nil {
			s.do(func() { c.failed(ctx, err) })
			return
		}
		defer cam.Close()
		scan := ceremony.QRScan{
			Progress: func(p ceremony.QRScanProgress) { s.do(func() { c.progress(ctx, p) }) },
			Preview:  func(g *image.Gray) { s.do(func() { c.show1(ctx, g) }) },
		}
		file, err := scan.Run(ctx, cam)
		s.do(func() {
			if err != nil {
				c.failed(ctx, err)
				return
			}
			c.received(file)
		})
	}()
}

func (c *cameraScan) show1(ctx context.Context, g *image.Gray) {
	if ctx.Err() != nil {
		return
	}
	c.preview.Image = g
	c.preview.Refresh()
}

func (c *cameraScan) progress(ctx context.Context, p ceremony.QRScanProgress) {
	if ctx.Err() != nil {
		return
	}
	c.bar.SetValue(p.Estimate)
	text := p.String()
	if p.Refused != nil {
		text += "\nNot taken: " + p.Refused.Error()
	}
	c.status.SetText(text)
}

func (c *cameraScan) failed(ctx context.Context, err error) {
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return // cancelled by the user or by another camera chosen
	}
	c.status.SetText(err.Error())
	c.retry.Show()
}

// received puts the file into the step and closes the panel.
func (c *cameraScan) received(file ceremony.ScannedFile) {
	f := c.f
	c.close()
	f.fromQR, f.qrName = file.Data, file.Name
	f.qrLabel = "(received through the camera) " + file.Name
	f.Path.SetText(f.qrLabel)
	f.describe(file.Data, fmt.Sprintf("received through the camera: %d frames in %.1f s", file.Frames, file.Elapsed.Seconds()))
}

// stop cancels the scan; the worker closes the camera as soon as Next
// sees it (within 0.1 s). It does not wait: the worker's last update may
// be waiting for the UI goroutine that calls stop.
func (c *cameraScan) stop() {
	if c.cancel != nil {
		c.cancel()
		c.cancel = nil
	}
}

// close stops the scan and removes the panel; the step is as it was.
func (c *cameraScan) close() {
	if c.closed {
		return
	}
	c.closed = true
	c.stop()
	c.f.s.win.Canvas().Overlays().Remove(c.overlay)
}
