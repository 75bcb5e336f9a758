//go:build nogui

package main

import (
	"fmt"
	"os"
)

// A build with -tags nogui links no GUI toolkit: Go runs every linked
// package's init before main, and Fyne's (translations, GLFW, font scan)
// cost about 40 ms of CPU on every CLI command. Scripts and benchmarks
// that only use the CLI can use this build.
func runGUI([]string) {
	fmt.Fprintln(os.Stderr, "custodian: this build has no GUI (built with -tags nogui): run a command, e.g. custodian help")
	os.Exit(2)
}
