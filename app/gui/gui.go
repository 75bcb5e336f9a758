// Package gui is Custodian's Fyne front-end. It holds no business logic:
// each screen (one file each) shows the state of a ceremony/ workflow and
// turns taps and typing into calls on it.
package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/custodian-hsm/custodian/assets"
)

// AppID is the application identifier (also in FyneApp.toml).
const AppID = "io.github.custodian_hsm.custodian"

// Identity is the running build as people should compare it: version and
// the SHA-256 of the binary, as hex and as words to read aloud.
type Identity struct {
	Version string
	SHA256  string
	Words   string
}

// Run opens the main window and blocks until it is closed.
func Run(id Identity) {
	a := app.NewWithID(AppID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	w := a.NewWindow("Custodian")
	w.SetContent(NewHome(id))
	w.Resize(fyne.NewSize(1280, 800))
	w.SetMaster()
	w.ShowAndRun()
}
