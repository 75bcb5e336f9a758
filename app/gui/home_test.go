package gui

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

func TestHomeNamesTheThreeJourneysAndTheBuild(t *testing.T) {
	a := test.NewApp()
	defer a.Quit()
	id := Identity{Version: "v1.2.3", SHA256: "ab12", Words: "able acid"}
	w := test.NewWindow(NewHome(id))
	defer w.Close()
	w.Resize(fyne.NewSize(1280, 800))

	texts := map[string]bool{}
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch v := o.(type) {
		case *widget.Label:
			texts[v.Text] = true
		case *widget.Card:
			texts[v.Title] = true
			if v.Content != nil {
				walk(v.Content)
			}
		case *fyne.Container:
			for _, c := range v.Objects {
				walk(c)
			}
		case fyne.Widget:
			// Scroll containers and other widgets wrap their content.
			if r := test.WidgetRenderer(v); r != nil {
				for _, c := range r.Objects() {
					walk(c)
				}
			}
		}
	}
	walk(w.Content())
	for _, want := range []string{"Activation", "Recovery", "Drill", "Custodian v1.2.3", "binary SHA-256 ab12", "able acid"} {
		if !texts[want] {
			t.Errorf("home screen does not show %q", want)
		}
	}
}
