package identity

import (
	"crypto/sha256"
	"os"
	"strings"
	"testing"
)

func TestCurrentHashesTheRunningBinary(t *testing.T) {
	id := Current()
	if id.Err != nil {
		t.Fatal(id.Err)
	}
	exe, _ := os.Executable()
	data, _ := os.ReadFile(exe)
	if id.Binary != sha256.Sum256(data) {
		t.Error("the identity is not the SHA-256 of the running binary")
	}
	if len(strings.Fields(strings.ReplaceAll(id.Words(), "·", ""))) != 32 {
		t.Errorf("words %q", id.Words())
	}
	if !strings.Contains(id.String(), "go1.") {
		t.Errorf("version line %q", id.String())
	}
}

// The version line says DRILL BUILD exactly in the drill build (the tests
// run in both builds: make test runs the suite with -tags drillbuild and
// the production-build checks without).
func TestVersionLineNamesTheDrillBuild(t *testing.T) {
	line := Current().String()
	if got := strings.Contains(line, DrillBuildMark); got != DrillBuild {
		t.Errorf("DrillBuild=%v but the version line %q says DRILL BUILD: %v", DrillBuild, line, got)
	}
}
