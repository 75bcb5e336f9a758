//go:build drillbuild

package gui

// drillSetupSnapshot names the drill set-up's snapshots: the drill build
// offers virtual YubiKeys, the production build does not.
const drillSetupSnapshot = "drill-setup"

// wantVirtualYubiKeys says whether this build offers vcard drill tokens.
const wantVirtualYubiKeys = true
