// Command custodian runs key ceremonies for Azure Key Vault Managed HSM
// security domains: with no arguments it opens the GUI, with a subcommand
// it runs the CLI (`custodian help` lists them).
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/custodian-hsm/custodian/app/cli"
	// Starts hashing the binary for the transcripts' identity at once,
	// beside the other packages' initialisation: see the package doc.
	_ "github.com/custodian-hsm/custodian/ceremony/identity/prefetch"
	"github.com/custodian-hsm/custodian/crypto/secret"
)

func main() {
	// Before anything secret exists: no core dumps, no ptrace attach.
	if _, err := secret.HardenProcess(); err != nil {
		fmt.Fprintln(os.Stderr, "custodian: warning: could not fully harden the process:", err)
	}
	modules, guiFlagsOnly := guiModules(os.Args[1:])
	if len(os.Args) > 1 && !guiFlagsOnly {
		err := cli.Run(cli.DefaultEnv(), os.Args[1:])
		if err != nil {
			fmt.Fprintln(os.Stderr, "custodian: "+cli.Message(err))
		}
		os.Exit(cli.ExitCode(err))
	}
	runGUI(modules)
}

// guiModules reads the GUI's only start-up flags, `--pkcs11-module PATH`
// (repeatable): the PKCS#11 modules the GUI may load besides the system's,
// fixed for the run. ok is false when the arguments are anything else (a
// CLI command).
func guiModules(args []string) (modules []string, ok bool) {
	for len(args) > 0 {
		switch {
		case args[0] == "--pkcs11-module" && len(args) > 1:
			modules, args = append(modules, args[1]), args[2:]
		case strings.HasPrefix(args[0], "--pkcs11-module="):
			modules, args = append(modules, strings.TrimPrefix(args[0], "--pkcs11-module=")), args[1:]
		default:
			return nil, false
		}
	}
	return modules, len(modules) > 0
}
