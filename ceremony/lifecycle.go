package ceremony

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Ending is how a workflow ended. Every workflow ends exactly once.
type Ending int

// Endings.
const (
	Running   Ending = iota // not ended yet
	SignedOff               // a witness signed the record off (agreeing or not)
	Cancelled               // a person stopped it, saying why
	Abandoned               // it was left: the screen, the window, the process
	Completed               // a single CLI operation finished; no witness signs at a terminal
)

func (e Ending) String() string {
	switch e {
	case SignedOff:
		return "signed off"
	case Cancelled:
		return "cancelled"
	case Abandoned:
		return "abandoned"
	case Completed:
		return "completed"
	}
	return "running"
}

// Why a workflow was abandoned: what the front-end saw.
const (
	LeftScreen   = "left the screen (Home) during the ceremony"
	WindowClosed = "the window was closed during the ceremony"
	Interrupted  = "the process was interrupted (SIGINT or SIGTERM)"
)

// ErrEnded is returned by every step of a workflow that has ended.
// ErrCancelled (cancelled or abandoned) wraps it.
var ErrEnded = errors.New("the ceremony has ended; start a new one")

// Closing is what a Recorder writes on the closing entry.
type Closing struct {
	Ending Ending
	Actor  Actor
	Reason string
}

// Outcome is how a workflow ended and the record it left.
type Outcome struct {
	Ending Ending
	By     Actor
	Reason string
	// Wiped lists the secrets wiped when it ended (for example "share of
	// Custodian 2"); earlier wipes (after the quorum proof, after the blob
	// was built) are not listed.
	Wiped []string
	// Digest is the transcript's final digest, and Transcript its file
	// ("" for a part of a larger ceremony, whose transcript goes on, and
	// for a memory recorder).
	Digest     string
	Transcript string
	// Err is set when the transcript could not be closed: the record is
	// then incomplete and `custodian transcript seal` closes it.
	Err error
}

// Secret is something a workflow holds that must be wiped when it ends.
type Secret interface{ Wipe() }

// Lifecycle is what every workflow (activation, recovery, rotation, the
// share self-test) is built on: it holds the recorder and the secrets,
// records each step, and ends the workflow exactly once — signed off,
// cancelled or abandoned — wiping every secret it holds and closing the
// transcript with an entry saying how it ended.
//
// Ending never waits for a token: a step blocked on a PIN prompt does not
// hold it up, and the share such a step opens afterwards is wiped at once
// (hold refuses it). It does wait for a rebuild in progress (using), so
// that no secret is wiped while it is being read.
type Lifecycle struct {
	workflow string
	mode     Mode

	busy    sync.Mutex // held while secrets are used (see using)
	mu      sync.Mutex // guards everything below
	rec     Recorder
	step    string
	held    []heldSecret
	outcome *Outcome
	onWipe  func(label string)
}

type heldSecret struct {
	s     Secret
	label string
}

func newLifecycle(workflow string, mode Mode, rec Recorder) *Lifecycle {
	if rec == nil {
		rec = &MemoryRecorder{}
	}
	return &Lifecycle{workflow: workflow, mode: mode, rec: rec}
}

// Lifecycle returns the workflow's lifecycle (promoted to Activation,
// Recovery, Rotation and ShareCheck).
func (l *Lifecycle) Lifecycle() *Lifecycle { return l }

// WipeHook calls f with each secret's label as it is wiped, at the end or
// earlier: the tests' (and a curious witness's) view that nothing is left.
// f runs with the lifecycle locked: it must not call back into it.
func (l *Lifecycle) WipeHook(f func(label string)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.onWipe = f
}

// Held lists the secrets held now.
func (l *Lifecycle) Held() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s []string
	for _, h := range l.held {
		s = append(s, h.label)
	}
	return s
}

// Outcome is how the workflow ended, or nil while it runs.
func (l *Lifecycle) Outcome() *Outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.outcome
}

// Ended reports whether the workflow has ended.
func (l *Lifecycle) Ended() bool { return l.Outcome() != nil }

// moveTo notes the workflow's step, for the record of how it ended.
func (l *Lifecycle) moveTo(step string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.step = step
}

// endedErr is the error a step of an ended workflow returns.
func (l *Lifecycle) endedErr() error {
	if l.outcome.Ending == Cancelled || l.outcome.Ending == Abandoned {
		return ErrCancelled
	}
	return ErrEnded
}

// record writes a step to the record; an ended workflow records nothing
// more. A step that cannot be recorded did not happen.
func (l *Lifecycle) record(e Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.outcome != nil {
		return l.endedErr()
	}
	return l.recordLocked(e)
}

func (l *Lifecycle) recordLocked(e Event) error {
	if l.mode == Drill && !strings.HasPrefix(e.Message, "DRILL") {
		e.Message = strings.TrimSpace("DRILL " + e.Message)
	}
	if err := l.rec.Record(e); err != nil {
		return fmt.Errorf("recording step %s in the transcript: %w (the ceremony stops: an unrecorded step did not happen)", e.Step, err)
	}
	return nil
}

// check returns the ended error, or nil while the workflow runs.
func (l *Lifecycle) check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.outcome != nil {
		return l.endedErr()
	}
	return nil
}

// hold keeps a secret until the workflow ends (or release). A workflow
// that ended meanwhile wipes it at once and says so.
func (l *Lifecycle) hold(s Secret, label string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.outcome != nil {
		l.wipeOne(heldSecret{s, label})
		return l.endedErr()
	}
	l.held = append(l.held, heldSecret{s, label})
	return nil
}

// wipeAll wipes every secret held, now; it returns their labels.
func (l *Lifecycle) wipeAll() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.wipeAllLocked()
}

func (l *Lifecycle) wipeAllLocked() []string {
	var labels []string
	for _, h := range l.held {
		l.wipeOne(h)
		labels = append(labels, h.label)
	}
	l.held = nil
	return labels
}

func (l *Lifecycle) wipeOne(h heldSecret) {
	h.s.Wipe()
	if l.onWipe != nil {
		l.onWipe(h.label)
	}
}

// using runs f, which reads held secrets, so that the workflow cannot end
// (and wipe them) halfway through.
func (l *Lifecycle) using(f func() error) error {
	l.busy.Lock()
	defer l.busy.Unlock()
	if err := l.check(); err != nil {
		return err
	}
	return f()
}

// end ends the workflow: every secret is wiped, the ending is recorded as
// the workflow's last step and the transcript is closed. It happens once;
// later calls return the first outcome.
func (l *Lifecycle) end(how Ending, by Actor, reason string, last func(*Outcome) *Event) (*Outcome, error) {
	l.busy.Lock()
	defer l.busy.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.outcome != nil {
		return l.outcome, nil
	}
	o := &Outcome{Ending: how, By: by, Reason: reason, Wiped: l.wipeAllLocked()}
	l.outcome = o
	if last != nil {
		if err := l.recordLocked(*last(o)); err != nil {
			o.Err = err
		}
	}
	digest, err := l.rec.Close(Closing{Ending: how, Actor: by, Reason: reason})
	o.Digest = digest
	if err != nil && o.Err == nil {
		o.Err = fmt.Errorf("closing the transcript: %w (seal it with `custodian transcript seal`)", err)
	}
	if p, ok := l.rec.(interface{ Path() string }); ok && digest != "" {
		o.Transcript = p.Path()
	}
	return o, o.Err
}

func (l *Lifecycle) wipedNote(o *Outcome) string {
	if len(o.Wiped) == 0 {
		return "nothing secret was held"
	}
	return fmt.Sprintf("%d secret(s) wiped: %s", len(o.Wiped), strings.Join(o.Wiped, ", "))
}

// Cancel stops the workflow at any step: a person (by) decided, saying
// why. Every secret is wiped and the transcript is closed "cancelled".
func (l *Lifecycle) Cancel(by, reason string) error {
	by, reason = strings.TrimSpace(by), strings.TrimSpace(reason)
	if by == "" {
		by = "unnamed"
	}
	if reason == "" {
		reason = "no reason given"
	}
	_, err := l.finish(Cancelled, Actor{RoleWitness, by}, reason, "cancelled")
	return err
}

// Abandon ends a workflow nobody finished: the screen was left, the
// window closed, the process interrupted (LeftScreen, WindowClosed,
// Interrupted). Every secret is wiped and the transcript is closed
// "abandoned".
func (l *Lifecycle) Abandon(why string) (*Outcome, error) {
	return l.finish(Abandoned, System, why, "abandoned")
}

// finish records "<workflow>.<step>" with where the workflow stood and
// what was wiped, then ends it.
func (l *Lifecycle) finish(how Ending, by Actor, reason, step string) (*Outcome, error) {
	l.mu.Lock()
	at := l.step
	l.mu.Unlock()
	return l.end(how, by, reason, func(o *Outcome) *Event {
		return &Event{Step: l.workflow + "." + step, Actor: by,
			Message: fmt.Sprintf("%s in step %s: %s; %s", how, at, reason, l.wipedNote(o))}
	})
}

// signOff records a witness's sign-off (or refusal) and ends the
// workflow signed off.
func (l *Lifecycle) signOff(witness string, agree bool, note string) error {
	e, err := signOffEvent(l.workflow+".sign-off", witness, agree, note)
	if err != nil {
		return err
	}
	if err := l.check(); err != nil {
		return err
	}
	reason := "the witness agrees with the record"
	if !agree {
		reason = "the witness DOES NOT AGREE with the record: " + oneLine(note)
	}
	_, err = l.end(SignedOff, Actor{RoleWitness, strings.TrimSpace(witness)}, reason, func(*Outcome) *Event { return &e })
	return err
}

// complete ends a single CLI operation that ran to its end.
func (l *Lifecycle) complete(summary string) (*Outcome, error) {
	return l.end(Completed, System, summary, nil)
}

// RecordException records a deviation from the script and who approved it.
func (l *Lifecycle) RecordException(what, approvedBy string) error {
	return recordException(l.record, l.workflow+".exception", what, approvedBy)
}
