package gui

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
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
