// Package softhsm runs a private SoftHSM2 instance for drills and tests:
// its own configuration and token directory, tokens initialised with
// softhsm2-util. It is never used by a production ceremony.
//
// SoftHSM reads its configuration from $SOFTHSM2_CONF when the module is
// initialised, so Start sets that variable for the whole process: one
// SoftHSM instance per process.
package softhsm

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Modules are where Debian and Ubuntu install the SoftHSM2 module.
var Modules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
}

// ErrNotInstalled says SoftHSM2 is missing.
var ErrNotInstalled = errors.New("SoftHSM2 is not installed (apt-get install softhsm2; `make test-deps` does it)")

// Instance is a private SoftHSM2.
type Instance struct {
	Dir    string
	Module string
}

// Module finds the SoftHSM2 module.
func Module() (string, error) {
	for _, m := range Modules {
		if _, err := os.Stat(m); err == nil {
			return m, nil
		}
	}
	return "", ErrNotInstalled
}

// Start makes a SoftHSM2 configuration in dir (created) and points this
// process at it.
func Start(dir string) (*Instance, error) {
	mod, err := Module()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		return nil, ErrNotInstalled
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	text := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, err
	}
	if err := os.Setenv("SOFTHSM2_CONF", conf); err != nil {
		return nil, err
	}
	return &Instance{Dir: dir, Module: mod}, nil
}

// InitToken creates a token. The PINs pass on softhsm2-util's command line,
// which is acceptable only because this is a drill or test token.
func (s *Instance) InitToken(label, soPIN, userPIN string) error {
	cmd := exec.Command("softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", soPIN, "--pin", userPIN)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+filepath.Join(s.Dir, "softhsm2.conf"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("softhsm2-util --init-token %s: %v: %s", label, err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}
