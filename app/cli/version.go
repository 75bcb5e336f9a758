package cli

import (
	"fmt"

	"github.com/custodian-hsm/custodian/ceremony/identity"
)

// cmdVersion prints what a witness compares with the published release:
// the version, the commit it was built from, the Go toolchain, and the
// SHA-256 of this very binary as hex (as `sha256sum` prints it) and as
// words (as the status bar shows it and every transcript records it).
// It fails (exit 1) when the binary cannot be read back to hash it.
func cmdVersion(env *Env, args []string) error {
	fs := newFlags(env, "version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("version takes no arguments (got %q)", fs.Arg(0))
	}
	id := identity.Current()
	commit := id.Revision
	if commit == "" {
		commit = "unknown (not built by the Makefile)"
	} else if id.Modified {
		commit += " (modified: built with uncommitted changes)"
	}
	v := id.Version
	if identity.DrillBuild {
		// Never mistaken for the production binary: see ceremony/identity.
		v += " " + identity.DrillBuildMark
	}
	fmt.Fprintln(env.Stdout, "custodian", v)
	fmt.Fprintln(env.Stdout, "commit   ", commit)
	fmt.Fprintln(env.Stdout, "toolchain", id.GoVersion)
	if id.Err != nil {
		return failuref("cannot hash the running binary: %v", id.Err)
	}
	fmt.Fprintln(env.Stdout, "sha256   ", id.Hex())
	fmt.Fprintln(env.Stdout, "words    ", id.Words())
	return nil
}
