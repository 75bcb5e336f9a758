//go:build drillbuild

package identity

// DrillBuild is true in the drill build (`make build-drill`, build tag
// drillbuild), which also carries the virtual YubiKeys and the screenshot
// tour: test infrastructure that is never part of a production binary.
// The version line, the status bar and every transcript say DRILL BUILD.
const DrillBuild = true
