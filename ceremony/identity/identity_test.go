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
