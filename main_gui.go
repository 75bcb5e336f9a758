//go:build !nogui

package main

import (
	"github.com/custodian-hsm/custodian/app/gui"
	"github.com/custodian-hsm/custodian/ceremony/identity"
	// Before Fyne reads the locale: see the package doc.
	_ "github.com/custodian-hsm/custodian/internal/locale"
)

func runGUI() {
	id := identity.Current()
	gui.Run(gui.Identity{Version: id.String(), SHA256: id.Hex(), Words: id.Words(), DrillBuild: identity.DrillBuild}, gui.Options{})
}
