package cli

import (
	"fmt"

	"github.com/custodian-hsm/custodian/ceremony/airgap"
)

// cmdAirgapCheck runs the same air-gap self-check the status bar shows
// and every ceremony records (ceremony/airgap), and prints each check's
// result. Exit 0 when nothing was found, 1 with findings: a script that
// prepares or tests a ceremony machine stops on the first one.
func cmdAirgapCheck(env *Env, args []string) error {
	fs := newFlags(env, "airgap check")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("airgap check takes no arguments (got %q)", fs.Arg(0))
	}
	return airgapCheck(env, airgap.Live())
}

func airgapCheck(env *Env, sys airgap.System) error {
	r := sys.Check()
	for _, f := range r.Findings {
		mark := "ok     "
		if f.Severity != airgap.OK {
			mark = "FINDING"
		}
		fmt.Fprintf(env.Stdout, "%s  %-9s  %s\n", mark, f.Check, f.Message)
	}
	if !r.Clean() {
		return failuref("%s", r.Summary())
	}
	fmt.Fprintln(env.Stdout, r.Summary())
	return nil
}
