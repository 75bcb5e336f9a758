package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/app/cli"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
)

func TestWordsAreTheStatusBarEncodingOfTheFilesHash(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	data := []byte("custodian release file\n")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{"words", p}, &out); err != nil {
		t.Fatal(err)
	}
	if want := fingerprint.Of(data).WordString() + "\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
	if err := run([]string{"words", filepath.Join(t.TempDir(), "missing")}, &out); err == nil {
		t.Error("a missing file gave no error")
	}
}

// Every command of the CLI appears in the man page, options with ASCII
// minus signs, so that the manual cannot drift from `custodian help`.
func TestManPageListsEveryCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"man", "1.2.3"}, &out); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	if !strings.HasPrefix(page, ".TH CUSTODIAN 1 ") || !strings.Contains(page, "custodian 1.2.3") {
		t.Errorf("header: %q", page[:min(80, len(page))])
	}
	for _, u := range cli.Usages() {
		if !strings.Contains(page, ".B custodian "+roff(u)+"\n") {
			t.Errorf("man page lacks %q", u)
		}
	}
	if strings.Contains(page, " --") {
		t.Error("an unescaped option dash would render as a hyphen")
	}
}

func TestBadUsage(t *testing.T) {
	if err := run([]string{"mann"}, &bytes.Buffer{}); err == nil {
		t.Error("no error for an unknown subcommand")
	}
}
