//go:build !nogui

package main

import (
	"github.com/custodian-hsm/custodian/app/gui"
	"github.com/custodian-hsm/custodian/ceremony/identity"
	// Before Fyne reads the locale: see the package doc.
	_ "github.com/custodian-hsm/custodian/internal/locale"
)

// runGUI opens the GUI; modules are the PKCS#11 modules it may load
// besides the system's (--pkcs11-module at start).
func runGUI(modules []string) {
	id := identity.Current()
	gui.Run(gui.Identity{Version: id.String(), SHA256: id.Hex(), Words: id.Words(), DrillBuild: identity.DrillBuild}, gui.Options{PKCS11Modules: modules})
}
