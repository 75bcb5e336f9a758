package gui

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony/transfer/qr"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
)

// densityChoices are the fragment sizes offered, densest last: smaller
// fragments make coarser codes that cheap cameras read, at the cost of
// more frames. The default is qr.DefaultScreenFragmentBytes.
var densityChoices = []struct {
	label string
	bytes int
}{
	{"low (150 bytes a frame)", 150},
	{"as printed (300)", 300},
	{fmt.Sprintf("normal (%d)", qr.DefaultScreenFragmentBytes), qr.DefaultScreenFragmentBytes},
	{"high (600)", 600},
	{"very high (1000)", 1000},
}

// qrAnimations counts the animations whose goroutines are still running
// (tests check that switching files and leaving stop them at once).
var qrAnimations atomic.Int32

// qrAnimation is one file's frames on screen: its goroutine stops when
// cancel is called, and nothing of it outlives that but what the
// goroutine holds until it returns.
type qrAnimation struct {
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when its goroutine has returned
}

// qrTransmitter shows one file as an animated QR sequence: a side column
// of controls and the code, as large as the area allows at whole device
// pixels per module. Ceremony steps open it with showAsQR; the QR screen
// embeds it. Stop (or leaving the screen) stops and frees the animation.
type qrTransmitter struct {
	s          *shell
	name       string
	data       []byte
	view       *qrView
	density    *widget.Select
	speed      *widget.Slider
	speedLabel *widget.Label
	about      *widget.Label
	counter    *widget.Label
	rate       *widget.Label
	building   *widget.ProgressBar
	object     fyne.CanvasObject
	controls   *fyne.Container
	anim       *qrAnimation // UI thread only
	full       *qrFullScreen
	// held keeps the current frame on screen (the screenshot tour needs
	// a still picture).
	held atomic.Bool
	// adapt lowers the speed when the screen draws fewer frames than
	// chosen (off only in tests that pace the frames by captures).
	adapt bool
}

// newQRTransmitter makes the transmitter for a file (data may be nil:
// setFile gives it one later). extra controls go at the top of the side
// column (the QR screen's file field, an overlay's Close button).
func newQRTransmitter(s *shell, name string, data []byte, extra ...fyne.CanvasObject) *qrTransmitter {
	t := &qrTransmitter{s: s, view: newQRView(), adapt: true,
		about: widget.NewLabel(""), counter: widget.NewLabel(""), rate: widget.NewLabel(""),
		building: widget.NewProgressBar()}
	for _, l := range []*widget.Label{t.about, t.counter, t.rate} {
		l.Wrapping = fyne.TextWrapWord
	}
	t.building.Hide()
	var labels []string
	for _, d := range densityChoices {
		labels = append(labels, d.label)
	}
	t.density = widget.NewSelect(labels, func(string) { t.restart() })
	t.density.SetSelected(densityLabel(qr.DefaultScreenFragmentBytes))
	t.speed = widget.NewSlider(1, 15)
	t.speed.Step = 1
	t.speed.SetValue(qr.DefaultFPS)
	t.speedLabel = widget.NewLabel("")
	t.speed.OnChanged = func(float64) { t.showSpeed() }
	t.speed.OnChangeEnded = func(float64) { t.restart() }
	t.showSpeed()
	full := widget.NewButtonWithIcon("Full screen", theme.ViewFullScreenIcon(), t.enterFullScreen)
	controls := container.NewVBox(extra...)
	controls.Add(widget.NewForm(widget.NewFormItem("Density", t.density), widget.NewFormItem("Speed", t.speed)))
	controls.Add(t.speedLabel)
	controls.Add(t.rate)
	controls.Add(full)
	controls.Add(t.building)
	controls.Add(t.about)
	controls.Add(t.counter)
	t.controls = controls
	side := container.New(fixedWidth(300), controls)
	t.object = container.NewBorder(nil, nil, container.NewVScroll(side), nil, t.view)
	if data != nil {
		t.setFile(name, data)
	}
	return t
}

func densityLabel(n int) string {
	for _, d := range densityChoices {
		if d.bytes == n {
			return d.label
		}
	}
	return densityChoices[2].label
}

func (t *qrTransmitter) fragmentBytes() int {
	for _, d := range densityChoices {
		if d.label == t.density.Selected {
			return d.bytes
		}
	}
	return qr.DefaultScreenFragmentBytes
}

func (t *qrTransmitter) showSpeed() {
	t.speedLabel.SetText(fmt.Sprintf("%.0f frames a second chosen", t.speed.Value))
}

// setFile stops whatever is shown and starts showing data (UI thread).
func (t *qrTransmitter) setFile(name string, data []byte) {
	t.name, t.data = name, data
	t.restart()
}

// restart stops the running animation and starts one for the current
// file and settings (UI thread).
func (t *qrTransmitter) restart() {
	t.stop()
	if t.data == nil {
		return
	}
	f, det, err := qr.FileFor(t.name, t.data)
	if err != nil {
		t.say(t.about, err.Error())
		return
	}
	note := fmt.Sprintf("%s — %s\nSHA-256 %s", f.Name, det, fingerprint.Of(t.data).GroupedHex())
	if det.Err != nil {
		note = "WARNING: " + note
	}
	t.say(t.about, note)
	ctx, cancel := context.WithCancel(context.Background())
	a := &qrAnimation{ctx: ctx, cancel: cancel, done: make(chan struct{})}
	t.anim = a
	t.building.SetValue(0)
	t.showBuilding(true)
	t.say(t.counter, "making the frames…")
	opts := qr.Options{FragmentBytes: t.fragmentBytes(), FPS: t.speed.Value, Context: ctx,
		Progress: func(done, total int) {
			t.ui(a, func() { t.building.SetValue(float64(done) / float64(total)) })
		}}
	qrAnimations.Add(1)
	go func() {
		defer close(a.done)
		defer qrAnimations.Add(-1)
		seq, err := qr.NewSequence(f, opts)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			t.ui(a, func() { t.showBuilding(false); t.say(t.counter, err.Error()) })
			return
		}
		// Only the frames are kept: the UR strings are not needed to draw.
		frames, seqLen := newQRFrames(seq.Symbols), seq.SeqLen
		seq = nil
		t.ui(a, func() { t.showBuilding(false) })
		t.play(a, frames, seqLen, opts.FPS)
	}()
}

// ui runs f on the UI thread unless a has been stopped by then: a
// stopped animation never touches the screen again.
func (t *qrTransmitter) ui(a *qrAnimation, f func()) {
	t.s.do(func() {
		if a.ctx.Err() == nil {
			f()
		}
	})
}

// stop cancels the running animation and clears the code at once (UI
// thread). It does not wait for the goroutine: it may be waiting for the
// UI thread itself; it returns within one frame and draws nothing more.
func (t *qrTransmitter) stop() {
	if t.anim == nil {
		return
	}
	t.anim.cancel()
	t.view.release(t.anim)
	t.view.Refresh()
	t.anim = nil
	t.say(t.counter, "")
	t.say(t.rate, "")
	t.showBuilding(false)
}

// close stops the animation and leaves full screen (UI thread).
func (t *qrTransmitter) close() {
	t.leaveFullScreen()
	t.stop()
}

// play shows the frames (rasterised ahead) in a loop until a is cancelled. A frame is
// shown for at least one period and until the painter has drawn it, so no
// frame is skipped when the screen is slow; the rate actually drawn is
// shown, and when it stays below the chosen one the speed is lowered to
// what the screen sustains, and the user is told.
func (t *qrTransmitter) play(a *qrAnimation, frames []qrFrame, seqLen int, fps float64) {
	n := len(frames)
	i := 0
	t.view.setFor(a, &frames[0])
	t.ui(a, func() { t.view.present(); t.count(0, n, seqLen) })
	if n == 1 {
		<-a.ctx.Done()
		return
	}
	tick := time.NewTicker(period(fps))
	defer tick.Stop()
	check := time.NewTicker(time.Second)
	defer check.Stop()
	started, chosen := time.Now(), fps
	for {
		select {
		case <-a.ctx.Done():
			return
		case now := <-check.C:
			fps = t.checkRate(a, now.Sub(started), chosen, fps, tick)
		case <-tick.C:
			if t.view.pending() || t.held.Load() {
				continue // not drawn yet: wait for it rather than skip it
			}
			i = (i + 1) % n
			t.view.setFor(a, &frames[i])
			frame := i
			t.ui(a, func() {
				// Laid out before it is drawn: a frame of another
				// version has another size.
				t.view.present()
				t.count(frame, n, seqLen)
			})
		}
	}
}

func period(fps float64) time.Duration {
	return time.Duration(float64(time.Second) / max(fps, 1))
}

func (t *qrTransmitter) count(i, n, seqLen int) {
	if seqLen == 1 {
		t.say(t.counter, "one code: hold it in front of the camera")
		return
	}
	t.say(t.counter, fmt.Sprintf("frame %d of %d (a loop of %d fragments; keep it running until the receiver is done)", i+1, n, seqLen))
}

// rateWindow is how far back the drawn rate is measured; a slow screen
// is acted on only after this long at the current speed.
const rateWindow = 3 * time.Second

// checkRate shows the rate drawn and returns the speed to use: the chosen
// one, or a lower one when the screen cannot keep up.
func (t *qrTransmitter) checkRate(a *qrAnimation, running time.Duration, chosen, fps float64, tick *time.Ticker) float64 {
	drawn := t.view.drawnRate(rateWindow, time.Now())
	k, side := t.view.modulePixels()
	text := fmt.Sprintf("Drawn: %.1f frames a second (%.0f chosen) · %d px a module, %d px square", drawn, chosen, k, side)
	if running >= rateWindow && t.adapt && drawn < 0.85*fps && fps > 1 {
		fps = max(1, math.Floor(drawn))
		tick.Reset(period(fps))
	}
	if fps < chosen {
		text = fmt.Sprintf("This screen draws only %.1f frames a second, fewer than the %.0f chosen: the speed was lowered to %.0f, "+
			"so the transfer takes longer. Full screen or a smaller window may draw faster.\n%s", drawn, chosen, fps, text)
	}
	if k > 0 && k < 2 {
		text += "\nThe window is too small for this density: enlarge it, use full screen or a lower density."
	}
	t.ui(a, func() { t.say(t.rate, text) })
	return fps
}

// qrFullScreen is the transmitter in full screen: the window shows only
// the code; Escape brings back what was there.
type qrFullScreen struct {
	content fyne.CanvasObject
	onKey   func(*fyne.KeyEvent)
	wasFull bool
}

func (t *qrTransmitter) enterFullScreen() {
	if t.full != nil {
		return
	}
	w, c := t.s.win, t.s.win.Canvas()
	t.full = &qrFullScreen{content: w.Content(), onKey: c.OnTypedKey(), wasFull: w.FullScreen()}
	hint := canvas.NewText("Esc leaves full screen", theme.Color(theme.ColorNamePlaceHolder))
	hint.TextSize = theme.CaptionTextSize()
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameBackground))
	c.Unfocus()
	w.SetContent(container.NewStack(bg, container.NewBorder(nil, container.NewHBox(hint), nil, nil, t.view)))
	w.SetFullScreen(true)
	c.SetOnTypedKey(func(ev *fyne.KeyEvent) {
		if ev.Name == fyne.KeyEscape {
			t.leaveFullScreen()
		}
	})
}

func (t *qrTransmitter) leaveFullScreen() {
	if t.full == nil {
		return
	}
	f := t.full
	t.full = nil
	w := t.s.win
	w.Canvas().SetOnTypedKey(f.onKey)
	w.SetFullScreen(f.wasFull)
	w.SetContent(f.content)
	t.object.Refresh()
}

// showAsQR shows a file as QR codes over the current screen, without
// leaving it (a ceremony step's "show as QR"): Close, or leaving the
// screen, stops and frees the animation.
func (s *shell) showAsQR(name string, data []byte) *qrTransmitter {
	c := s.win.Canvas()
	var overlay fyne.CanvasObject
	var t *qrTransmitter
	closeBtn := widget.NewButtonWithIcon("Close", theme.CancelIcon(), func() {
		t.close()
		c.Overlays().Remove(overlay)
	})
	title := widget.NewLabelWithStyle("Show "+name+" as QR codes", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	t = newQRTransmitter(s, name, data, title, closeBtn)
	overlay = container.NewStack(canvas.NewRectangle(theme.Color(theme.ColorNameBackground)), container.NewPadded(t.object))
	c.Overlays().Add(overlay)
	overlay.Resize(c.Size())
	prev := s.leave
	s.onLeave(func() {
		t.close()
		c.Overlays().Remove(overlay)
		if prev != nil {
			prev()
		}
	})
	return t
}

// fixedWidth lays its objects out one width wide and as tall as they
// need, so wrapped labels in the side column wrap at that width.
type fixedWidth float32

func (w fixedWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	h := float32(0)
	for _, o := range objs {
		h = max(h, o.MinSize().Height)
	}
	return fyne.NewSize(float32(w), h)
}

func (w fixedWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(fyne.NewSize(size.Width, max(size.Height, o.MinSize().Height)))
	}
}

// say sets a side-column label and lays the column out again when the
// text needs another height (a wrapped label grows or shrinks).
func (t *qrTransmitter) say(l *widget.Label, text string) {
	if l.Text == text {
		return
	}
	before := l.MinSize().Height
	l.SetText(text)
	if l.MinSize().Height != before && t.controls != nil {
		t.controls.Refresh()
	}
}

// showBuilding shows or hides the progress of making the frames, and lays
// the side column out again.
func (t *qrTransmitter) showBuilding(on bool) {
	if on == t.building.Visible() {
		return
	}
	if on {
		t.building.Show()
	} else {
		t.building.Hide()
	}
	t.controls.Refresh()
}
