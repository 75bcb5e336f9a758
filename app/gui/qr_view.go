package gui

import (
	"image"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony/transfer/qr"
)

// qrView draws one QR symbol as large as its area allows, at a whole
// number of device pixels per module. It is a canvas.Raster: the painter
// asks it for exactly the device pixels it covers (canvas scale included)
// and puts the image on screen 1:1, so nothing resamples the modules.
// Because the painter calls the raster when it actually draws, the view
// also knows which frames reached the screen and when.
type qrView struct {
	widget.BaseWidget
	raster *canvas.Raster

	mu     sync.Mutex
	owner  *qrAnimation // whose frames these are; set only by it
	sym    *qr.Symbol
	serial uint64 // bumped for every new frame set
	drawn  uint64 // serial of the last frame the painter drew
	// drawnSym is what the painter drew last (tests compare captures).
	drawnSym *qr.Symbol
	drawnCh  chan struct{}
	times    []time.Time // when recent new frames were drawn
	// Two buffers: the one last drawn and one the worker fills ahead.
	shown, ahead *image.RGBA
	aheadSym     *qr.Symbol
	k            int // pixels per module in the last drawing
	lastW, lastH int
}

func newQRView() *qrView {
	v := &qrView{drawnCh: make(chan struct{}, 1)}
	v.raster = canvas.NewRaster(v.generate)
	v.raster.ScaleMode = canvas.ImageScalePixels
	v.ExtendBaseWidget(v)
	return v
}

func (v *qrView) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(v.raster)
}

// MinSize is small on purpose: the view takes whatever the layout gives
// and picks the largest whole-pixel module size that fits.
func (v *qrView) MinSize() fyne.Size { return fyne.NewSize(160, 160) }

// setFor shows sym as a's next frame (any goroutine). The first frame
// makes a the owner; frames of a stopped animation are ignored, so a
// worker that loses the race with release cannot bring old frames back.
func (v *qrView) setFor(a *qrAnimation, sym *qr.Symbol) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if a.ctx.Err() != nil || (v.owner != nil && v.owner != a) {
		return
	}
	v.owner, v.sym = a, sym
	v.serial++
}

// release clears the view of a's frames and drops every reference to
// them and to the pixel buffers (a must be cancelled first).
func (v *qrView) release(a *qrAnimation) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.owner != a && v.owner != nil {
		return
	}
	v.owner, v.sym, v.drawnSym = nil, nil, nil
	v.serial++
	v.shown, v.ahead, v.aheadSym, v.times = nil, nil, nil, nil
}

// pending reports whether the last frame set has not been drawn yet.
func (v *qrView) pending() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.sym != nil && v.drawn != v.serial
}

// prepare rasterises sym ahead, off the UI thread, at the size of the last
// drawing, so the painter only uploads it.
func (v *qrView) prepare(a *qrAnimation, sym *qr.Symbol) {
	v.mu.Lock()
	if v.owner != a {
		v.mu.Unlock()
		return
	}
	w, h, buf := v.lastW, v.lastH, v.ahead
	v.ahead = nil
	v.mu.Unlock()
	if w <= 0 || h <= 0 {
		return
	}
	if buf == nil || buf.Rect.Dx() != w || buf.Rect.Dy() != h {
		buf = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	sym.Draw(buf, sym.ModulePixels(w, h), theme.Color(theme.ColorNameBackground))
	v.mu.Lock()
	if v.owner == a {
		v.ahead, v.aheadSym = buf, sym
	}
	v.mu.Unlock()
}

// generate is the raster's generator: the painter calls it with the
// device pixels the view covers whenever it draws the view anew.
func (v *qrView) generate(w, h int) image.Image {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lastW, v.lastH = w, h
	if v.sym == nil || w <= 0 || h <= 0 {
		// One background pixel, stretched by the painter.
		empty := image.NewRGBA(image.Rect(0, 0, 1, 1))
		empty.Set(0, 0, theme.Color(theme.ColorNameBackground))
		return empty
	}
	img := v.shown
	switch {
	case v.ahead != nil && v.aheadSym == v.sym && v.ahead.Rect.Dx() == w && v.ahead.Rect.Dy() == h:
		img, v.ahead = v.ahead, v.shown
	case img == nil || img.Rect.Dx() != w || img.Rect.Dy() != h || v.drawn != v.serial:
		if img == nil || img.Rect.Dx() != w || img.Rect.Dy() != h {
			img = image.NewRGBA(image.Rect(0, 0, w, h))
		}
		v.sym.Draw(img, v.sym.ModulePixels(w, h), theme.Color(theme.ColorNameBackground))
	}
	v.shown, v.aheadSym, v.drawnSym = img, nil, v.sym
	v.k = v.sym.ModulePixels(w, h)
	if v.drawn != v.serial {
		v.drawn = v.serial
		now := time.Now()
		v.times = append(v.times, now)
		if len(v.times) > 64 {
			v.times = v.times[len(v.times)-64:]
		}
		select {
		case v.drawnCh <- struct{}{}:
		default:
		}
	}
	return img
}

// drawnRate is the number of new frames the painter drew per second over
// the last window (0 when it cannot tell yet).
func (v *qrView) drawnRate(window time.Duration, now time.Time) float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, t := range v.times {
		if now.Sub(t) <= window {
			n++
		}
	}
	return float64(n) / window.Seconds()
}

// modulePixels is the pixels per module of the last drawing.
func (v *qrView) modulePixels() (k, side int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.sym == nil {
		return 0, 0
	}
	return v.k, v.k * v.sym.Size
}

// serialNow is the view's frame counter (bumped for every new frame
// set), 0 while it shows no frame.
func (v *qrView) serialNow() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.sym == nil {
		return 0
	}
	return v.serial
}
