package gui

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// The production set-up screens start with the cursor in their first
// field, and Tab walks the fields in reading order to the start button.
func TestSetupScreensByKeyboard(t *testing.T) {
	cases := []struct {
		start, title string
		fields       []string
		button       string
	}{
		{"Start activation", "Activation — set-up", []string{"Managed HSM name", "ceremony identifier", "witness's full name"}, "I have read the guard rails"},
		{"Start recovery", "Recovery — set-up", []string{"Managed HSM name", "ceremony identifier", "witness's full name"}, "Start the recovery"},
	}
	for _, c := range cases {
		t.Run(c.title, func(t *testing.T) {
			h := newHarness(t)
			h.press(c.start)
			h.waitShows(c.title)
			for i, placeholder := range c.fields {
				e := h.entry(placeholder)
				if e == nil {
					t.Fatalf("no field %q", placeholder)
				}
				if i == 0 {
					h.waitFocused(e)
				}
				h.locked(func() {
					if h.canvas().Focused() != fyne.Focusable(e) {
						t.Fatalf("field %d (%q) does not have the focus after %d Tab(s)", i+1, placeholder, i)
					}
					// What the driver does with key presses: to the focused widget.
					for _, r := range "typed " + placeholder {
						h.canvas().Focused().TypedRune(r)
					}
					if e.Text != "typed "+placeholder {
						t.Fatalf("typing went elsewhere: %q holds %q", placeholder, e.Text)
					}
					test.FocusNext(h.canvas())
				})
			}
			// The rest of the form and the start button follow.
			h.locked(func() {
				for i := 0; i < 10; i++ {
					if b, ok := h.canvas().Focused().(*widget.Button); ok && len(b.Text) >= len(c.button) && b.Text[:len(c.button)] == c.button {
						return
					}
					test.FocusNext(h.canvas())
				}
				t.Errorf("Tab does not reach %q after the fields", c.button)
			})
		})
	}
}

// waitFocused waits for f to have the focus: screens and dialogs focus
// their first field once the key event that opened them is over.
func (h *harness) waitFocused(f fyne.Focusable) {
	h.t.Helper()
	h.waitFor("the focus", func() (ok bool) {
		h.locked(func() { ok = h.canvas().Focused() == f })
		return ok
	})
}

// pressAsDriver presses Space on the focused button the way the desktop
// driver delivers it: the key press to the focused widget, then the typed
// character to whatever has the focus by then.
func (h *harness) pressAsDriver(label string) {
	h.t.Helper()
	h.waitFor(fmt.Sprintf("button %q", label), func() bool { return h.button(label) != nil })
	h.locked(func() {
		for i := 0; i < 80; i++ {
			if b, ok := h.canvas().Focused().(*widget.Button); ok && strings.HasPrefix(b.Text, label) {
				b.TypedKey(&fyne.KeyEvent{Name: fyne.KeySpace})
				if f := h.canvas().Focused(); f != nil {
					f.TypedRune(' ')
				}
				return
			}
			test.FocusNext(h.canvas())
		}
		h.t.Fatalf("Tab never reaches %q", label)
	})
}

// Space on a button that changes the screen presses the button and
// nothing else: the next screen's first field gets the focus, empty.
func TestSpaceOnAButtonDoesNotTypeIntoTheNextScreen(t *testing.T) {
	h := newHarness(t)
	h.pressAsDriver("Start activation")
	h.waitShows("Activation — set-up")
	e := h.entry("Managed HSM name")
	h.waitFocused(e)
	h.locked(func() {
		if e.Text != "" {
			t.Errorf("the Space that pressed the button was typed into the next field: %q", e.Text)
		}
	})
}

// A dialog opened with Space has the cursor in its first field, the field
// is empty, and the dialog is wide enough to read what is typed.
func TestDialogsFocusTheirFirstFieldAndAreWide(t *testing.T) {
	h := newHarness(t)
	h.startDrill(h.press)
	h.pressAsDriver("Record an exception")
	h.waitShows("Exception")
	e := h.entry("what deviated from the script")
	h.waitFocused(e)
	h.locked(func() {
		if e.Text != "" {
			t.Errorf("the Space typed into the dialog: %q", e.Text)
		}
		if w := e.Size().Width; w < 300 {
			t.Errorf("the exception field is %.0f px wide", w)
		}
	})
}

// The theme switch on Home changes the theme and remembers the choice.
func TestThemeSwitch(t *testing.T) {
	h := newHarness(t)
	var sel *widget.Select
	h.locked(func() {
		for _, o := range h.all() {
			if s, ok := o.(*widget.Select); ok && len(s.Options) == 3 && s.Options[0] == ThemeSystem {
				sel = s
			}
		}
	})
	if sel == nil {
		t.Fatal("Home has no theme switch")
	}
	for _, c := range []struct {
		choice string
		want   fyne.ThemeVariant
	}{{ThemeDark, theme.VariantDark}, {ThemeLight, theme.VariantLight}} {
		h.locked(func() { sel.SetSelected(c.choice) })
		th := h.app.Settings().Theme()
		bg := th.Color(theme.ColorNameBackground, 99)
		if bg != theme.DefaultTheme().Color(theme.ColorNameBackground, c.want) {
			t.Errorf("%s: background %v", c.choice, bg)
		}
		if got := savedTheme(h.app); got != c.choice {
			t.Errorf("remembered %q, want %q", got, c.choice)
		}
	}
}

// shortcut presses Ctrl+key as the desktop driver does: the window menu's
// item with that shortcut runs, whatever has the focus.
func (h *harness) shortcut(key fyne.KeyName) {
	h.t.Helper()
	h.locked(func() {
		for _, m := range h.win.MainMenu().Items {
			for _, it := range m.Items {
				if sc, ok := it.Shortcut.(*desktop.CustomShortcut); ok && sc.KeyName == key && sc.Modifier == fyne.KeyModifierShortcutDefault {
					it.Action()
					return
				}
			}
		}
		h.t.Fatalf("no Ctrl+%s in the menu", key)
	})
}

// keys acts on a button with the keyboard only: Ctrl+Enter when it is the
// main (blue) button of the screen or dialog, else Tab to it and Space.
func (h *harness) keys(label string) {
	h.t.Helper()
	h.waitFor(fmt.Sprintf("button %q", label), func() bool { return h.button(label) != nil })
	main := false
	h.locked(func() {
		b := mainButton(h.canvas())
		main = b != nil && strings.HasPrefix(b.Text, label)
	})
	if main {
		h.ctrlEnters++
		h.shortcut(fyne.KeyReturn)
		return
	}
	h.press(label)
}

// A whole drill, 3 custodians and quorum 2, with key events only: the
// main action of each step by Ctrl+Enter, the others by Tab and Space.
func TestDrillByShortcuts(t *testing.T) {
	h := newHarness(t)
	start := time.Now()
	walkDrill(t, h, h.keys)
	// The blue button of each step, and the OK of the one-button
	// dialogs ("Custodian enrolled", "Share opened"), go by Ctrl+Enter.
	if h.ctrlEnters < 20 {
		t.Errorf("only %d steps went by Ctrl+Enter", h.ctrlEnters)
	}
	t.Logf("%d steps by Ctrl+Enter; ", h.ctrlEnters)
	t.Logf("keyboard drill (3 custodians, quorum 2) driven in %s", time.Since(start).Round(time.Millisecond))
}

// Home, Ctrl+H and closing the window during a ceremony ask first, with
// Stay as the default; ending abandons the ceremony in its transcript.
func TestLeavingACeremonyAsksAndAbandons(t *testing.T) {
	h := newHarness(t)
	h.startDrill(h.tap)
	h.shortcut(fyne.KeyH)
	h.waitShows("End this ceremony?")
	stay := h.button("Stay")
	h.waitFocused(stay)
	h.locked(func() { h.canvas().Focused().TypedKey(&fyne.KeyEvent{Name: fyne.KeySpace}) })
	h.waitFor("the dialog to close", func() bool { return !h.shows("End this ceremony?") })
	if !h.shows("Activation — custodian 1 of 3") {
		t.Fatal("Stay left the ceremony")
	}
	h.tap("Home")
	h.waitShows("End this ceremony?")
	h.tap("End the ceremony")
	h.waitShows("Start drill")
	got := h.transcripts()
	if len(got) != 1 {
		t.Fatalf("transcripts %v", got)
	}
	data, _ := os.ReadFile(got[0])
	if !bytes.Contains(data, []byte("abandoned")) {
		t.Errorf("the transcript does not say abandoned:\n%s", data)
	}
}
