package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// shortcut is one keyboard shortcut of the main window.
type shortcut struct {
	label string
	key   fyne.KeyName
	run   func()
}

// shortcuts are the main actions by keyboard (Ctrl, or Cmd on macOS).
// They sit in the window's menu, so they work whatever has the focus,
// a text field included, and the menu lists them for people to find.
func (s *shell) shortcuts() []shortcut {
	return []shortcut{
		{"Do the main action of this screen", fyne.KeyReturn, s.mainAction},
		{"Home", fyne.KeyH, s.goHome},
		{"Start a drill", fyne.KeyD, func() { s.confirmLeave("Ctrl+D", s.drillScreen) }},
		{"Tokens", fyne.KeyT, func() { s.confirmLeave("Ctrl+T", s.tokensScreen) }},
		{"This build and the air-gap self-check", fyne.KeyI, func() { showBuildDetails(s.win, s.id, s.checkAirGap()) }},
	}
}

// installShortcuts puts the shortcuts in the window's menu, with Quit
// (Ctrl+Q) asking first during a ceremony.
func (s *shell) installShortcuts() {
	var items []*fyne.MenuItem
	for _, sc := range s.shortcuts() {
		it := fyne.NewMenuItem(sc.label, sc.run)
		it.Shortcut = &desktop.CustomShortcut{KeyName: sc.key, Modifier: fyne.KeyModifierShortcutDefault}
		items = append(items, it)
	}
	quit := fyne.NewMenuItem("Quit", s.quit)
	quit.IsQuit = true
	quit.Shortcut = &desktop.CustomShortcut{KeyName: fyne.KeyQ, Modifier: fyne.KeyModifierShortcutDefault}
	items = append(items, fyne.NewMenuItemSeparator(), quit)
	s.win.SetMainMenu(fyne.NewMainMenu(fyne.NewMenu("Custodian", items...)))
}

// mainAction presses the main (blue) button of the top dialog, or of the
// screen when no dialog is open: Ctrl+Enter goes through a ceremony one
// step at a time. A dialog with a single button (OK after "Custodian
// enrolled", "Share opened") has that button as its main action, so the
// keyboard goes on the same way through those too.
func (s *shell) mainAction() {
	if b := mainButton(s.win.Canvas()); b != nil {
		b.OnTapped()
	}
}

// mainButton is the button Ctrl+Enter presses on c (nil for none).
func mainButton(c fyne.Canvas) *widget.Button {
	top := c.Overlays().Top()
	if top == nil {
		return primaryButton(c.Content())
	}
	if b := primaryButton(top); b != nil {
		return b
	}
	if all := buttons(top); len(all) == 1 {
		return all[0]
	}
	return nil
}

// buttons lists the visible, enabled buttons under o.
func buttons(o fyne.CanvasObject) []*widget.Button {
	if o == nil || !o.Visible() {
		return nil
	}
	switch v := o.(type) {
	case *widget.Button:
		if !v.Disabled() && v.OnTapped != nil {
			return []*widget.Button{v}
		}
	case *fyne.Container:
		var out []*widget.Button
		for _, c := range v.Objects {
			out = append(out, buttons(c)...)
		}
		return out
	case *container.Scroll:
		return buttons(v.Content)
	case *widget.Card:
		return buttons(v.Content)
	case *widget.PopUp:
		return buttons(v.Content)
	case *widget.Form:
		var out []*widget.Button
		for _, it := range v.Items {
			out = append(out, buttons(it.Widget)...)
		}
		return out
	}
	return nil
}

// primaryButton finds the first visible, enabled high-importance button
// under o (the dialogs' confirm buttons are high importance too).
func primaryButton(o fyne.CanvasObject) *widget.Button {
	if o == nil || !o.Visible() {
		return nil
	}
	switch v := o.(type) {
	case *widget.Button:
		if v.Importance == widget.HighImportance && !v.Disabled() && v.OnTapped != nil {
			return v
		}
		return nil
	case *fyne.Container:
		for _, c := range v.Objects {
			if b := primaryButton(c); b != nil {
				return b
			}
		}
		return nil
	case *container.Scroll:
		return primaryButton(v.Content)
	case *widget.Card:
		return primaryButton(v.Content)
	case *widget.PopUp:
		return primaryButton(v.Content)
	case *widget.Form:
		for _, it := range v.Items {
			if b := primaryButton(it.Widget); b != nil {
				return b
			}
		}
	}
	return nil
}
