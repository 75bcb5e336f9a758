package gui

import (
	"image"
	"image/color"
	"math"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony/transfer/qr"
)

// qrFrame is one frame ready to draw: its modules and the same at one
// pixel a module (quiet zone included), rasterised ahead on a worker.
type qrFrame struct {
	sym *qr.Symbol
	img *image.RGBA
}

// newQRFrames rasterises every symbol once, off the UI thread.
func newQRFrames(syms []qr.Symbol) []qrFrame {
	frames := make([]qrFrame, len(syms))
	for i := range syms {
		img := image.NewRGBA(image.Rect(0, 0, syms[i].Size, syms[i].Size))
		syms[i].Draw(img, 1, color.White)
		frames[i] = qrFrame{sym: &syms[i], img: img}
	}
	return frames
}

// qrView draws one QR frame as large as its area allows, at a whole
// number k of device pixels per module. The frame is a texture of one
// pixel per module that the painter enlarges by exactly k with
// nearest-neighbour sampling: the view places it on whole device pixels
// (canvas scale included) and sizes it to k×modules device pixels, so
// every module is a k×k square and the upload is tiny. The painter calls
// the raster when it actually draws, so the view also knows which frames
// reached the screen and when.
//
// A frame set by the worker is not drawn until the UI thread has laid it
// out: the painter gets only the frame of the last layout, at the size
// that layout gave the raster. Otherwise a paint between the worker's
// setFor and the UI thread's layout would put a frame of a new symbol
// size into the old frame's raster (or into none, for the first frame),
// and a camera filming the screen would see that broken frame.
type qrView struct {
	widget.BaseWidget
	raster *canvas.Raster

	mu       sync.Mutex
	owner    *qrAnimation // whose frames these are; set only by it
	next     *qrFrame     // the newest frame set (any goroutine)
	serial   uint64       // bumped for every new frame set
	frame    *qrFrame     // the frame laid out, the only one the painter gets (UI thread)
	shown    uint64       // serial of frame
	drawn    uint64       // serial of the last frame the painter drew
	drawnSym *qr.Symbol
	times    []time.Time // when recent new frames were drawn
	k        int         // device pixels per module in the last layout
	size     fyne.Size   // the view's size in the last layout
}

func newQRView() *qrView {
	v := &qrView{}
	v.raster = canvas.NewRaster(v.generate)
	v.raster.ScaleMode = canvas.ImageScalePixels
	v.ExtendBaseWidget(v)
	return v
}

type qrViewRenderer struct{ v *qrView }

func (v *qrView) CreateRenderer() fyne.WidgetRenderer { return qrViewRenderer{v} }

func (r qrViewRenderer) Layout(size fyne.Size) { r.v.place(size) }

// MinSize is small on purpose: the view takes whatever the layout gives
// and picks the largest whole-pixel module size that fits.
func (r qrViewRenderer) MinSize() fyne.Size           { return fyne.NewSize(160, 160) }
func (r qrViewRenderer) Refresh()                     { r.v.place(r.v.Size()); r.v.raster.Refresh() }
func (r qrViewRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.v.raster} }
func (r qrViewRenderer) Destroy()                     {}
func (v *qrView) MinSize() fyne.Size                  { return fyne.NewSize(160, 160) }
func (v *qrView) canvasScale() float32                { return canvasScaleFor(v) }
func canvasScaleFor(o fyne.CanvasObject) (s float32) {
	s = 1
	if c := fyne.CurrentApp().Driver().CanvasForObject(o); c != nil {
		s = c.Scale()
	}
	return s
}

// place lays the newest frame out (UI thread): it sizes the raster to
// k×modules device pixels, puts it, centred, on a whole device pixel, and
// from then on hands that frame to the painter. Frame and raster change
// together on the UI thread, where the painter runs, so no paint sees one
// without the other.
func (v *qrView) place(size fyne.Size) {
	scale := v.canvasScale()
	w, h := int(size.Width*scale), int(size.Height*scale)
	v.mu.Lock()
	f := v.next
	v.size = size
	k := 0
	if f != nil {
		k = f.sym.ModulePixels(w, h)
	}
	v.k = k
	if k > 0 {
		v.frame, v.shown = f, v.serial
	} else {
		// No frame, or no room for one pixel a module: nothing is drawn.
		v.frame, v.shown = nil, 0
	}
	v.mu.Unlock()
	if k == 0 {
		v.raster.Resize(fyne.NewSize(0, 0))
		return
	}
	side := k * f.sym.Size
	// The view's own position may fall between device pixels: the offset
	// makes the raster's absolute position whole. (Asked only with a frame
	// to place: the walk can lay out containers, which lay the view out.)
	abs := fyne.CurrentApp().Driver().AbsolutePositionForObject(v)
	ox := float32(math.Ceil(float64((abs.X*scale)+float32((w-side)/2)))) - abs.X*scale
	oy := float32(math.Ceil(float64((abs.Y*scale)+float32((h-side)/2)))) - abs.Y*scale
	v.raster.Move(fyne.NewPos(ox/scale, oy/scale))
	// A hair under side: the painters round (GL) or round up (software)
	// the device size, and side must come out of both.
	v.raster.Resize(fyne.NewSize((float32(side)-0.01)/scale, (float32(side)-0.01)/scale))
}

// setFor makes f a's next frame (any goroutine); it reaches the screen
// when the UI thread lays the view out (present). The first frame makes a
// the owner; frames of a stopped animation are ignored, so a worker that
// loses the race with release cannot bring old frames back.
func (v *qrView) setFor(a *qrAnimation, f *qrFrame) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if a.ctx.Err() != nil || (v.owner != nil && v.owner != a) {
		return
	}
	v.owner, v.next = a, f
	v.serial++
}

// present lays out and draws the newest frame set (UI thread).
func (v *qrView) present() { v.Refresh() }

// release clears the view of a's frames and drops every reference to
// them (a must be cancelled first).
func (v *qrView) release(a *qrAnimation) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.owner != a && v.owner != nil {
		return
	}
	v.owner, v.next, v.frame, v.drawnSym, v.times = nil, nil, nil, nil, nil
	v.shown = 0
	v.serial++
}

// pending reports whether the last frame set has not been drawn yet.
func (v *qrView) pending() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.next != nil && v.drawn != v.serial
}

// generate is the raster's generator: the painter calls it whenever it
// draws the view anew. It gives the frame of the last layout, never one
// the UI thread has not laid out yet.
func (v *qrView) generate(w, h int) image.Image {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.frame == nil || w <= 0 || h <= 0 {
		empty := image.NewRGBA(image.Rect(0, 0, 1, 1))
		empty.Set(0, 0, theme.Color(theme.ColorNameBackground))
		return empty
	}
	v.drawnSym = v.frame.sym
	if v.drawn != v.shown {
		v.drawn = v.shown
		v.times = append(v.times, time.Now())
		if len(v.times) > 64 {
			v.times = v.times[len(v.times)-64:]
		}
	}
	return v.frame.img
}

// drawnRate is the number of new frames the painter drew per second over
// the last window.
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

// modulePixels is the device pixels per module of the last layout and
// the side of the code (quiet zone included).
func (v *qrView) modulePixels() (k, side int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.frame == nil {
		return 0, 0
	}
	return v.k, v.k * v.frame.sym.Size
}

// shownSerial is the serial of the frame the view shows now: laid out,
// so the next paint draws it whole; 0 while it shows no frame.
func (v *qrView) shownSerial() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.shown
}

// drawnFrame is the serial and symbol of the last frame the painter drew.
func (v *qrView) drawnFrame() (uint64, *qr.Symbol) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.drawn, v.drawnSym
}
