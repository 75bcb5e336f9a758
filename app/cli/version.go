package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/custodian-hsm/custodian/ceremony/identity"
)

// cmdVersion prints the build's version.
func cmdVersion(env *Env, args []string) error {
	fs := newFlags(env, "version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v := buildVersion()
	if identity.DrillBuild {
		// Never mistaken for the production binary: see ceremony/identity.
		v += " " + identity.DrillBuildMark
	}
	fmt.Fprintln(env.Stdout, "custodian", v)
	return nil
}

func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown build)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
		if s.Key == "vcs.modified" && s.Value == "true" {
			v += " (modified)"
		}
	}
	return v
}
