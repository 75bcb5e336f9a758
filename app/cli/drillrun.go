package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/ceremony/identity"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// cmdDrillRun runs a complete drill and prints a one-screen report.
func cmdDrillRun(env *Env, args []string) error {
	fs := newFlags(env, "drill run")
	n := fs.Int("custodians", 3, "number of custodians N (3–10)")
	m := fs.Int("quorum", 2, "quorum M (2–N)")
	kindName := fs.String("tokens", "soft", drillTokensHelp())
	dir := fs.String("dir", "", "a new folder for the drill's files")
	bits := fs.Int("bits", 2048, "custodian key size: 2048, 3072 or 4096")
	items := fs.Int("items", 0, "EncData items the drill HSM makes (default 3, as a live HSM)")
	lost := fs.Bool("fault-lost-token", false, "fault drill: the last custodian's token is lost")
	wrongPIN := fs.Bool("fault-wrong-pin", false, "fault drill: the first custodian types a wrong PIN once")
	corrupt := fs.Bool("fault-corrupt-share", false, "fault drill: the first custodian's share is corrupted at recovery")
	rotation := fs.Bool("rotation", false, "drill a custodian rotation (a new set of N replaces the old, the SD is downloaded again, compared and proven) instead of a recovery")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usageErrorf("--dir is required: a new folder for the drill's files")
	}
	kind, err := ceremony.ParseTokenKind(*kindName)
	if err != nil {
		return usageErrorf("%v", err)
	}
	if err := intIn("--custodians", *n, 3, 10, "a security domain has 3 to 10 custodians"); err != nil {
		return err
	}
	if err := intIn("--quorum", *m, 2, *n, "the quorum is at least 2 and at most --custodians"); err != nil {
		return err
	}
	if err := ceremony.CheckQuorum(*n, *m); err != nil {
		return usageErrorf("%v", err)
	}
	if err := intOneOf("--bits", *bits, 2048, 3072, 4096); err != nil {
		return err
	}
	if err := intIn("--items", *items, 0, 16, "0 means 3, as a live HSM"); err != nil {
		return err
	}
	faults := ceremony.Faults{LostToken: *lost, WrongPIN: *wrongPIN, CorruptShare: *corrupt}
	if *rotation && faults.Any() {
		return usageErrorf("--rotation runs without faults: drill the faults with a recovery drill")
	}
	var stop func()
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	report, err := ceremony.RunDrill(context.Background(), ceremony.DrillConfig{
		Custodians: *n, Quorum: *m, Tokens: kind, Dir: *dir, Bits: *bits, Items: *items,
		Faults: faults, Rotation: *rotation,
		Started:  func(d *ceremony.DrillRun) { stop = interruptibleDrill(env, d) },
		Progress: func(step string) { fmt.Fprintln(env.Stderr, "drill:", step) },
	})
	if errors.Is(err, safefile.ErrExists) {
		return usageErrorf("--dir: %v", err) // refused before it started: no report
	}
	if report != nil {
		fmt.Fprint(env.Stdout, report.String())
	}
	if err != nil {
		return failuref("drill failed: %v", err)
	}
	return nil
}

// drillTokensHelp lists the drill token kinds of this build: vcard
// (virtual YubiKeys) is in the drill build only.
func drillTokensHelp() string {
	help := "drill tokens:"
	for _, k := range ceremony.DrillTokenKinds() {
		help += " " + string(k)
	}
	if !identity.DrillBuild {
		help += " (vcard, virtual YubiKeys: drill build only, make build-drill)"
	}
	return help
}
