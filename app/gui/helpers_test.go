package gui

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony/airgap"
)

// The helpers below drive the GUI the way a person does: they find what is
// on screen (buttons by their label, entries by their placeholder, text by
// what it says) and tap or type on it. Nothing reaches into a wizard's
// fields.

// harness is one window with the real shell in it, on a test app.
type harness struct {
	t     *testing.T
	app   fyne.App
	win   fyne.Window
	shell *shell
	// ctrlEnters counts steps taken with Ctrl+Enter (keys).
	ctrlEnters int
}

var testAirGap = &airgap.Report{Findings: []airgap.Finding{{Check: "network", Severity: airgap.Warning, Message: "network interface(s) up: eth0 (test finding)"}}}

var testIdentity = Identity{Version: "v0.0.0-test", SHA256: "0123456789abcdef", Words: "able acid also apex"}

func newHarness(t *testing.T) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	w := test.NewWindow(nil)
	t.Cleanup(w.Close)
	s := newShell(a, w, testIdentity, Options{WorkDir: t.TempDir()})
	s.uiLock = new(sync.Mutex)
	// The machine's own self-check varies (CI may be clean or not): tests
	// see one fixed finding.
	s.airGap = func() *airgap.Report { return testAirGap }
	w.Resize(fyne.NewSize(1280, 800))
	s.installShortcuts()
	s.home()
	return &harness{t: t, app: a, win: w, shell: s}
}

func (h *harness) canvas() fyne.Canvas { return h.win.Canvas() }

// locked runs f while no worker updates the window. Fyne's test driver
// runs fyne.Do on the worker's goroutine; the shell's uiLock keeps those
// updates and the test's looking and tapping apart. Every harness method
// below takes the lock itself; tests use locked for anything else they
// do with widgets.
func (h *harness) locked(f func()) {
	h.shell.uiLock.Lock()
	defer h.shell.uiLock.Unlock()
	f()
}

// visible returns every visible object under o, depth first, descending
// into containers and widgets' renderers but not into buttons (a button is
// one thing to a person).
func visible(o fyne.CanvasObject) []fyne.CanvasObject {
	if o == nil || !o.Visible() {
		return nil
	}
	out := []fyne.CanvasObject{o}
	switch v := o.(type) {
	case *widget.Button, *widget.Label:
	case *fyne.Container:
		for _, c := range v.Objects {
			out = append(out, visible(c)...)
		}
	case fyne.Widget:
		if r := test.WidgetRenderer(v); r != nil {
			for _, c := range r.Objects() {
				out = append(out, visible(c)...)
			}
		}
	}
	return out
}

// layers are the screen and its dialogs, the top dialog first.
func (h *harness) layers() []fyne.CanvasObject {
	ov := h.canvas().Overlays().List()
	var out []fyne.CanvasObject
	for i := len(ov) - 1; i >= 0; i-- {
		out = append(out, ov[i])
	}
	return append(out, h.canvas().Content())
}

func (h *harness) all() []fyne.CanvasObject {
	var out []fyne.CanvasObject
	for _, l := range h.layers() {
		out = append(out, visible(l)...)
	}
	return out
}

// texts is what a person can read on screen and in dialogs (lock held).
func (h *harness) texts() []string {
	var out []string
	for _, o := range h.all() {
		switch v := o.(type) {
		case *widget.Label:
			out = append(out, v.Text)
		case *canvas.Text:
			out = append(out, v.Text)
		case *widget.Button:
			out = append(out, v.Text)
		case *widget.Card:
			out = append(out, v.Title, v.Subtitle)
		}
	}
	return out
}

func (h *harness) shows(substr string) (found bool) {
	h.locked(func() {
		for _, s := range h.texts() {
			if strings.Contains(s, substr) {
				found = true
			}
		}
	})
	return found
}

// button finds an enabled, visible button whose label starts with label,
// looking at the top dialog first.
func (h *harness) button(label string) (found *widget.Button) {
	h.locked(func() {
		for _, o := range h.all() {
			if b, ok := o.(*widget.Button); ok && strings.HasPrefix(b.Text, label) && !b.Disabled() && found == nil {
				found = b
			}
		}
	})
	return found
}

// entry finds a visible entry by its placeholder.
func (h *harness) entry(placeholder string) (found *widget.Entry) {
	h.locked(func() {
		for _, o := range h.all() {
			if e, ok := o.(*widget.Entry); ok && strings.HasPrefix(e.PlaceHolder, placeholder) && !e.Disabled() && found == nil {
				found = e
			}
		}
	})
	return found
}

// waitFor polls until cond holds: workers come back through fyne.Do, so a
// test waits for the screen to change instead of sleeping a fixed time.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; the screen shows:\n%s", what, h.describe())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) waitShows(substr string) {
	h.t.Helper()
	h.waitFor(fmt.Sprintf("%q on screen", substr), func() bool { return h.shows(substr) })
}

// tap waits for the button labelled label and taps it.
func (h *harness) tap(label string) {
	h.t.Helper()
	var b *widget.Button
	h.waitFor(fmt.Sprintf("button %q", label), func() bool { b = h.button(label); return b != nil })
	h.locked(func() { test.Tap(b) })
}

// typeInto clears the entry found by its placeholder and types text.
func (h *harness) typeInto(placeholder, text string) {
	h.t.Helper()
	var e *widget.Entry
	h.waitFor(fmt.Sprintf("entry %q", placeholder), func() bool { e = h.entry(placeholder); return e != nil })
	h.locked(func() {
		h.canvas().Focus(e)
		if e.Text != "" {
			// Select everything and delete it, as a person would.
			e.TypedShortcut(&fyne.ShortcutSelectAll{})
			e.TypedKey(&fyne.KeyEvent{Name: fyne.KeyBackspace})
		}
		test.Type(e, text)
	})
}

// press reaches the button labelled label with Tab alone and presses Space
// on it, as a keyboard-only operator does.
func (h *harness) press(label string) {
	h.t.Helper()
	h.waitFor(fmt.Sprintf("button %q", label), func() bool { return h.button(label) != nil })
	pressed := false
	h.locked(func() {
		for i := 0; i < 80 && !pressed; i++ {
			if b, ok := h.canvas().Focused().(*widget.Button); ok && strings.HasPrefix(b.Text, label) && h.onScreen(b) {
				b.TypedKey(&fyne.KeyEvent{Name: fyne.KeySpace})
				pressed = true
				return
			}
			test.FocusNext(h.canvas())
		}
	})
	if pressed {
		return
	}
	h.t.Fatalf("Tab never reaches the button %q; the screen shows:\n%s", label, h.describe())
}

// describe lists the screen for failure messages.
func (h *harness) describe() (out string) {
	h.locked(func() { out = h.describeLocked() })
	return out
}

// describeLocked is describe with the lock held.
func (h *harness) describeLocked() string {
	var b strings.Builder
	for _, s := range h.texts() {
		if s = strings.TrimSpace(s); s != "" {
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}
	return b.String()
}

// dismissDialogs closes information dialogs (their button says OK).
func (h *harness) dismissDialogs() {
	h.shell.uiLock.Lock()
	defer h.shell.uiLock.Unlock()
	for {
		top := h.canvas().Overlays().Top()
		if top == nil {
			return
		}
		var ok *widget.Button
		for _, o := range visible(top) {
			if b, isB := o.(*widget.Button); isB && b.Text == "OK" {
				ok = b
			}
		}
		if ok == nil {
			return
		}
		test.Tap(ok)
	}
}

// onScreen tells whether o is shown now (not left over from a previous
// screen); lock held.
func (h *harness) onScreen(o fyne.CanvasObject) bool {
	for _, v := range h.all() {
		if v == o {
			return true
		}
	}
	return false
}
