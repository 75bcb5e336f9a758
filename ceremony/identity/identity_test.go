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

// Prefetch (started at process start by package prefetch) and Current
// called meanwhile hash the binary once and agree; run with -race, this
// also checks that a Current waiting for the prefetch reads no half-set
// identity.
func TestPrefetchAndCurrentAgree(t *testing.T) {
	Prefetch()
	got := make(chan Identity, 4)
	for i := 0; i < 4; i++ {
		go func() { got <- Current() }()
	}
	exe, _ := os.Executable()
	data, _ := os.ReadFile(exe)
	for i := 0; i < 4; i++ {
		if id := <-got; id.Err != nil || id.Binary != sha256.Sum256(data) {
			t.Fatalf("identity %d: %v %x", i, id.Err, id.Binary)
		}
	}
}
