package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// runTranscript is where a command's transcript goes: --transcript PATH,
// else a new file with a name unique to this run in defaultDir. It is
// decided (and checked) before anything is touched; the file is created
// only once the command's input has been accepted.
type runTranscript struct {
	path    string
	mode    ceremony.Mode
	command string
}

func planTranscript(flagValue, defaultDir string, mode ceremony.Mode, command string) (*runTranscript, error) {
	if flagValue != "" {
		if err := refuseExisting("--transcript", flagValue); err != nil {
			return nil, err
		}
		if st, err := os.Stat(filepath.Dir(flagValue)); err != nil || !st.IsDir() {
			return nil, usageErrorf("--transcript %s: the folder %s does not exist", flagValue, filepath.Dir(flagValue))
		}
		return &runTranscript{path: flagValue, mode: mode, command: command}, nil
	}
	if defaultDir == "" {
		defaultDir = "."
	}
	if st, err := os.Stat(defaultDir); err != nil || !st.IsDir() {
		return nil, usageErrorf("the transcript's folder %s does not exist: name one with --transcript PATH", defaultDir)
	}
	name := ceremony.RunTranscriptName(mode, command, time.Now())
	return &runTranscript{path: filepath.Join(defaultDir, name), mode: mode, command: command}, nil
}

// id is the ceremony identifier recorded for this run.
func (t *runTranscript) id() string {
	return strings.TrimSuffix(filepath.Base(t.path), "-transcript.jsonl")
}

func (t *runTranscript) open(kind, hsm string) (*ceremony.TranscriptRecorder, error) {
	rec, err := ceremony.OpenTranscriptFile(t.path, t.mode, kind, t.id(), hsm)
	if err != nil {
		return nil, failuref("starting the transcript: %v", err)
	}
	return rec, nil
}

// modeOf is the mode a command runs in: drill only when asked for.
func modeOf(drill bool) ceremony.Mode {
	if drill {
		return ceremony.Drill
	}
	return ceremony.Production
}

// interruptible ends the workflow as abandoned when SIGINT or SIGTERM
// arrives (Ctrl+C at a PIN prompt, a killed session): every secret is
// wiped and the transcript closed before the process exits 1. stop
// releases the signals once the command is done.
func interruptible(env *Env, l *ceremony.Lifecycle) (stop func()) {
	return onInterrupt(env, l.Abandon)
}

// interruptibleDrill is interruptible for a whole drill.
func interruptibleDrill(env *Env, d *ceremony.DrillRun) (stop func()) {
	return onInterrupt(env, d.Abandon)
}

func onInterrupt(env *Env, abandon func(string) (*ceremony.Outcome, error)) (stop func()) {
	if env.Interrupts == nil {
		return func() {}
	}
	sigs, release := env.Interrupts()
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			o, err := abandon(ceremony.Interrupted)
			fmt.Fprintf(env.Stderr, "\n%s: the ceremony was abandoned\n", sig)
			printOutcome(env, o)
			if err != nil {
				fmt.Fprintf(env.Stderr, "custodian: closing the transcript after %s: %v\n", sig, err)
			} else {
				fmt.Fprintf(env.Stderr, "custodian: interrupted by %s: ceremony abandoned, secrets wiped, transcript closed\n", sig)
			}
			if env.Exit != nil {
				env.Exit(1)
			}
		case <-done:
		}
	}()
	return func() {
		close(done)
		release()
	}
}

// processInterrupts subscribes to the process's SIGINT and SIGTERM.
func processInterrupts() (<-chan os.Signal, func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	return c, func() { signal.Stop(c) }
}

// printOutcome says how a workflow ended, what was wiped, and where its
// transcript and final digest are.
func printOutcome(env *Env, o *ceremony.Outcome) {
	if o == nil {
		return
	}
	fmt.Fprintf(env.Stderr, "ended: %s", o.Ending)
	if o.Reason != "" {
		fmt.Fprintf(env.Stderr, " (%s)", o.Reason)
	}
	fmt.Fprintln(env.Stderr)
	if len(o.Wiped) > 0 {
		fmt.Fprintf(env.Stderr, "wiped: %s\n", strings.Join(o.Wiped, ", "))
	}
	if o.Transcript != "" {
		fp, _ := fingerprint.FromHex(o.Digest)
		fmt.Fprintf(env.Stderr, "transcript: %s\nfinal digest: %s\n              %s\n", o.Transcript, fp.GroupedHex(), fp.WordString())
	}
}

// printTranscript shows the transcript and its final digest on stdout,
// as a witness compares it with the paper.
func printTranscript(env *Env, o *ceremony.Outcome) {
	if o == nil || o.Transcript == "" {
		return
	}
	fp, _ := fingerprint.FromHex(o.Digest)
	fmt.Fprintf(env.Stdout, "transcript %s (ended: %s)\n  final digest: %s\n                %s\n", o.Transcript, o.Ending, fp.GroupedHex(), fp.WordString())
}

// refuseExistingIn is refuseExisting for a file the command writes into
// a folder (SHA256SUMS next to the output).
func refuseExistingIn(dir, name, why string) error {
	p := filepath.Join(dir, name)
	if _, err := os.Lstat(p); err == nil {
		return usageErrorf("%s already exists (%s): Custodian never overwrites a file; choose a new folder", p, why)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return usageErrorf("%s: %v", p, err)
	}
	return nil
}

// withLastTry runs try (which opens a key) with the terminal's PIN
// prompt. When the token refuses because one PIN try is left, the
// custodian is told and asked; a yes is recorded and try runs again with
// the last try allowed. Without a terminal the last try is never used.
func withLastTry(env *Env, l *ceremony.Lifecycle, custodian string, try func(token.OpenOptions) error) error {
	opts := token.OpenOptions{PIN: pinPrompt(env)}
	err := try(opts)
	pe := ceremony.LastTry(err)
	if pe == nil {
		return err
	}
	if err := confirmLastTry(env, l, custodian, pe); err != nil {
		return err
	}
	opts.AllowLastRetry = true
	return try(opts)
}

// confirmLastTry tells custodian their token has one PIN try left and
// asks at the terminal; a yes is recorded with l. Without a terminal, or
// with any answer but yes, it is an error and nothing is tried.
func confirmLastTry(env *Env, l *ceremony.Lifecycle, custodian string, pe *token.PINError) error {
	fmt.Fprintln(env.Stderr, ceremony.LastTryWarning(custodian, pe))
	if env.Ask == nil {
		return failuref("%s: %s has one PIN try left and there is no terminal to confirm the last try on: run the command at a terminal", custodian, pe.Token)
	}
	answer, aerr := env.Ask("Type yes to use the last PIN try: ")
	if aerr != nil || !strings.EqualFold(answer, "yes") {
		return failuref("%s did not use the last PIN try of %s: nothing was tried", custodian, pe.Token)
	}
	if err := l.ConfirmLastTry(custodian, pe.Token, "the custodian at the terminal"); err != nil {
		return failuref("%v", err)
	}
	return nil
}
