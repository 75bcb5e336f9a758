package gui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// Theme choices offered in the app (and kept in the preferences).
const (
	ThemeSystem = "System"
	ThemeLight  = "Light"
	ThemeDark   = "Dark"
)

// themeChoices are the options of the theme switch, in the order shown.
var themeChoices = []string{ThemeSystem, ThemeLight, ThemeDark}

// prefTheme is the preference key of the theme choice.
const prefTheme = "theme"

// focusColor marks the focused control. Fyne's default focus colour is
// the primary blue made translucent, which vanishes on a blue button; a
// saturated amber shows on blue, grey and white alike.
var focusColor = color.NRGBA{R: 0xff, G: 0xb3, B: 0x00, A: 0xcc}

// custodianTheme is Fyne's default theme with a focus colour that shows on
// every control and a variant people choose in the app: System follows
// the desktop (and FYNE_THEME), Light and Dark force one.
type custodianTheme struct {
	choice string
}

func (t custodianTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	switch t.choice {
	case ThemeLight:
		v = theme.VariantLight
	case ThemeDark:
		v = theme.VariantDark
	}
	if n == theme.ColorNameFocus {
		return focusColor
	}
	return theme.DefaultTheme().Color(n, v)
}

func (t custodianTheme) Font(s fyne.TextStyle) fyne.Resource { return theme.DefaultTheme().Font(s) }

func (t custodianTheme) Icon(n fyne.ThemeIconName) fyne.Resource {
	return theme.DefaultTheme().Icon(n)
}

func (t custodianTheme) Size(n fyne.ThemeSizeName) float32 { return theme.DefaultTheme().Size(n) }

// applyTheme sets the app's theme to choice and remembers it.
func applyTheme(a fyne.App, choice string) {
	known := false
	for _, c := range themeChoices {
		known = known || c == choice
	}
	if !known {
		choice = ThemeSystem
	}
	a.Preferences().SetString(prefTheme, choice)
	a.Settings().SetTheme(custodianTheme{choice: choice})
}

// savedTheme is the theme chosen last time (System the first time).
func savedTheme(a fyne.App) string {
	return a.Preferences().StringWithFallback(prefTheme, ThemeSystem)
}
