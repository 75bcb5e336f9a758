package main

import (
	"slices"
	"strings"
	"testing"
)

const module = "github.com/custodian-hsm/custodian"

// The production build links no test code: what `make test` checks.
func TestProductionBuildLinksNoTestCode(t *testing.T) {
	root, mod, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := listDeps(root, "")
	if err != nil {
		t.Fatal(err)
	}
	if bad := violations(pkgs, mod); len(bad) > 0 {
		t.Errorf("the production build links test code:\n%s", strings.Join(bad, "\n"))
	}
	if !slices.ContainsFunc(pkgs, func(p listed) bool { return p.ImportPath == mod+"/crypto/token/pkcs11/softhsm" }) {
		t.Error("the production build lost the SoftHSM drill helper (drills with SoftHSM belong in it)")
	}
}

// The check sees what it is meant to keep out: the drill build carries the
// virtual YubiKey, its rig and the screenshot tour, and depscheck names
// each. (If the tour moves, this test fails until depscheck follows it.)
func TestDrillBuildIsCaught(t *testing.T) {
	root, mod, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := listDeps(root, "drillbuild")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Join(violations(pkgs, mod), "\n")
	for _, want := range []string{
		mod + "/internal/testinfra/virtualpiv (test infrastructure)",
		mod + "/internal/testinfra/virtualpiv/rig (test infrastructure)",
		mod + "/app/gui/screenshots.go (the screenshot tour)",
	} {
		if !strings.Contains(bad, want) {
			t.Errorf("depscheck missed %s in the drill build; it reported:\n%s", want, bad)
		}
	}
	// Even the drill build must not carry the testing packages.
	if strings.Contains(bad, "testing") {
		t.Errorf("the drill build links a testing package:\n%s", bad)
	}
}

func TestViolationsNamesEachKind(t *testing.T) {
	pkgs := []listed{
		{ImportPath: "testing"},
		{ImportPath: "testing/fstest"},
		{ImportPath: "fyne.io/fyne/v2/test"},
		{ImportPath: module + "/internal/testinfra/virtualpiv"},
		{ImportPath: module + "/app/gui", GoFiles: []string{"gui.go", "screenshots.go"}},
		// Not test code, though the names look alike.
		{ImportPath: "testingx"},
		{ImportPath: "fyne.io/fyne/v2/theme"},
		{ImportPath: module + "/internal/testinfrastructure"},
		{ImportPath: module + "/app/gui/other", GoFiles: []string{"screenshots.go"}},
		{ImportPath: module + "/crypto/token/pkcs11/softhsm"},
	}
	got := violations(pkgs, module)
	if len(got) != 5 {
		t.Fatalf("violations = %d:\n%s\nwant the first 5 packages", len(got), strings.Join(got, "\n"))
	}
	for i, p := range pkgs[:5] {
		if !strings.HasPrefix(got[i], p.ImportPath) {
			t.Errorf("violation %d = %q, want %s", i, got[i], p.ImportPath)
		}
	}
}
