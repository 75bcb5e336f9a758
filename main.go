// Command custodian runs key ceremonies for Azure Key Vault Managed HSM
// security domains: with no arguments it opens the GUI, with a subcommand
// it runs the CLI (`custodian help` lists them).
package main

import (
	"fmt"
	"os"

	"github.com/custodian-hsm/custodian/app/cli"
	"github.com/custodian-hsm/custodian/app/gui"
	"github.com/custodian-hsm/custodian/ceremony/identity"
	"github.com/custodian-hsm/custodian/crypto/secret"
	// Before Fyne reads the locale: see the package doc.
	_ "github.com/custodian-hsm/custodian/internal/locale"
)

func main() {
	// Before anything secret exists: no core dumps, no ptrace attach.
	if _, err := secret.HardenProcess(); err != nil {
		fmt.Fprintln(os.Stderr, "custodian: warning: could not fully harden the process:", err)
	}
	if len(os.Args) > 1 {
		err := cli.Run(cli.DefaultEnv(), os.Args[1:])
		if err != nil {
			fmt.Fprintln(os.Stderr, "custodian: "+cli.Message(err))
		}
		os.Exit(cli.ExitCode(err))
	}
	id := identity.Current()
	gui.Run(gui.Identity{Version: id.String(), SHA256: id.Hex(), Words: id.Words(), DrillBuild: identity.DrillBuild}, gui.Options{})
}
