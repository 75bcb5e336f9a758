// Package ceremony holds Custodian's workflows — activation, verification,
// recovery, drills and custodian rotation — as state machines that the GUI
// and the CLI drive step by step, and the record each one leaves behind.
//
// A workflow is an explicit sequence of steps. Each method checks that it
// is called in the right step and moves the machine on; a failed step can
// be retried (resumable within a run), and Cancel is allowed at any step
// and wipes everything secret the workflow holds. Every step is recorded in
// the ceremony transcript; nothing secret is ever recorded.
//
// The front-ends hold no business logic: everything a person decides
// (names, quorum, which token, approvals of exceptions) is passed in, and
// everything they should see (guard rails, fingerprints, progress) comes
// out of these types.
package ceremony

import (
	"errors"
	"fmt"
	"strings"

	"github.com/custodian-hsm/custodian/ceremony/airgap"
)

// Mode is PRODUCTION or DRILL. It is never inferred: a drill says so on
// every file name, file and transcript line.
type Mode int

// Modes.
const (
	Production Mode = iota
	Drill
)

func (m Mode) String() string {
	if m == Drill {
		return "DRILL"
	}
	return "PRODUCTION"
}

// FileName prefixes a file name with DRILL- in drill mode, so a drill's
// files can never be mistaken for production ones on a USB stick.
func (m Mode) FileName(name string) string {
	if m == Drill && !strings.HasPrefix(name, "DRILL-") {
		return "DRILL-" + name
	}
	return name
}

// Limits of a Managed HSM security domain (see the spec, §1).
const (
	MinCustodians = 3
	MaxCustodians = 10
	MinQuorum     = 2
)

// Severity ranks a guard rail.
type Severity int

// Severities.
const (
	Info Severity = iota
	Warning
	Blocker
)

func (s Severity) String() string {
	switch s {
	case Warning:
		return "warning"
	case Blocker:
		return "blocker"
	}
	return "info"
}

// GuardRail is something people must see before the ceremony commits to a
// choice.
type GuardRail struct {
	Severity Severity
	Message  string
}

// GuardRails explains a choice of N custodians and quorum M before anything
// happens. Blockers make the choice impossible.
func GuardRails(n, m int) []GuardRail {
	var g []GuardRail
	if n < MinCustodians || n > MaxCustodians {
		g = append(g, GuardRail{Blocker, fmt.Sprintf("a Managed HSM takes %d to %d custodian certificates; %d were chosen", MinCustodians, MaxCustodians, n)})
	}
	if m < MinQuorum || m > MaxCustodians {
		g = append(g, GuardRail{Blocker, fmt.Sprintf("the quorum must be between %d and %d; %d was chosen", MinQuorum, MaxCustodians, m)})
	}
	if m > n {
		g = append(g, GuardRail{Blocker, fmt.Sprintf("the quorum (%d) cannot exceed the number of custodians (%d): the security domain could never be recovered (the Azure CLI does not check this)", m, n)})
	}
	if len(g) > 0 {
		return g
	}
	if m == MinQuorum {
		g = append(g, GuardRail{Warning, "a quorum of 2 is weak: any two custodians together can recover the HSM's keys"})
	}
	lockout := n - m + 1
	g = append(g, GuardRail{Warning, fmt.Sprintf("if %d of the %d custodian tokens are lost or broken, the security domain can never be recovered: Microsoft cannot help", lockout, n)})
	if m == n {
		g = append(g, GuardRail{Warning, "the quorum equals the number of custodians: losing any single token makes recovery impossible"})
	}
	g = append(g, GuardRail{Info, fmt.Sprintf("recovery needs %d custodians, each with their token and PIN, at the same place", m)})
	return g
}

// CheckQuorum returns an error when a choice has blockers.
func CheckQuorum(n, m int) error {
	var msgs []string
	for _, g := range GuardRails(n, m) {
		if g.Severity == Blocker {
			msgs = append(msgs, g.Message)
		}
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "; "))
	}
	return nil
}

// StepError reports a method called in the wrong step of a workflow.
type StepError struct {
	Workflow string
	Want     string
	Have     string
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s: this can only be done in step %q; the ceremony is in step %q", e.Workflow, e.Want, e.Have)
}

// ErrCancelled is returned by every method of a cancelled or abandoned
// workflow. It wraps ErrEnded.
var ErrCancelled = fmt.Errorf("the ceremony was cancelled or abandoned: %w", ErrEnded)

// AirGapShown says how the air-gap findings reached the witness: the
// transcript may say they were shown only when they were.
type AirGapShown int

const (
	// AirGapNotConfirmed: nobody confirmed the findings were seen (the
	// transcript says so).
	AirGapNotConfirmed AirGapShown = iota
	// AirGapAcknowledged: the witness acknowledged them in a dialog.
	AirGapAcknowledged
	// AirGapPrinted: the CLI printed them on the terminal.
	AirGapPrinted
)

// recordAirGap runs the air-gap self-check (unless report is given) and
// records it: in production each finding is a warning, recorded with how
// it reached the witness; in a drill a note.
func recordAirGap(record func(Event) error, mode Mode, witness string, report *airgap.Report, shown AirGapShown) (*airgap.Report, error) {
	if report == nil {
		report = airgap.Live().Check()
	}
	e := Event{Step: "airgap.check", Actor: System, Message: report.Summary()}
	if !report.Clean() {
		if mode == Production {
			how := "NOT confirmed as seen by the witness"
			switch shown {
			case AirGapAcknowledged:
				how = "shown to and acknowledged by witness " + witness
			case AirGapPrinted:
				how = "printed on the terminal for witness " + witness
			}
			e.Decision = fmt.Sprintf("PRODUCTION ceremony on a machine that is not fully air-gapped: %d finding(s) %s", len(report.Warnings()), how)
		} else {
			e.Decision = "noted (drill)"
		}
	}
	return report, record(e)
}
