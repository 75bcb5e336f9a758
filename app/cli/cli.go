// Package cli is Custodian's command-line front-end: the same operations as
// the GUI, for scripts and for people who prefer a terminal.
//
// Exit codes are part of the interface: 0 success; 1 an operation that ran
// and failed (a verification that found a problem, not enough shares); 2
// usage errors and bad input. Errors are one line on stderr saying what
// failed and what to do; never a stack trace. No command overwrites a file.
// Secrets (PINs, passphrases) are asked on the terminal, never taken from
// flags or the environment.
package cli

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/term"

	"github.com/custodian-hsm/custodian/internal/safefile"
)

// Env is what a command may use of the outside world. Tests give their own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// ReadSecret asks for a PIN or passphrase without echo. The returned
	// slice is the caller's to wipe.
	ReadSecret func(prompt string) ([]byte, error)
	// Ask asks a question on the terminal and returns the answer; nil
	// when there is no terminal to ask on.
	Ask func(prompt string) (string, error)
	// Interrupts subscribes a running ceremony to SIGINT and SIGTERM (nil:
	// not subscribed); the returned function unsubscribes.
	Interrupts func() (<-chan os.Signal, func())
	// Exit ends the process after an interrupted ceremony was closed.
	Exit func(code int)
}

// DefaultEnv talks to the process's terminal.
func DefaultEnv() *Env {
	return &Env{
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		ReadSecret: terminalSecret,
		Ask:        terminalAsk,
		Interrupts: processInterrupts,
		Exit:       os.Exit,
	}
}

// terminalAsk asks a question on /dev/tty, with echo.
func terminalAsk(prompt string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", errNoTerminal
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	line, err := bufio.NewReader(tty).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("reading the answer from the terminal: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// errNoTerminal is Ask's answer when there is no terminal.
var errNoTerminal = errors.New("there is no terminal to ask on")

// terminalSecret reads from /dev/tty without echo, so a secret can be
// typed even when stdin/stdout are redirected, and is refused when there
// is no terminal (a script must use pin-source=file: instead).
func terminalSecret(prompt string) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, errors.New("no terminal to ask for the secret on: run interactively, or give a pkcs11/yubikey reference a pin-source=file:PATH")
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return nil, fmt.Errorf("reading the secret from the terminal: %w", err)
	}
	return b, nil
}

// exitError carries an exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf reports bad usage or bad input: exit 2.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// badInput marks an error as bad input (exit 2), keeping its message.
func badInput(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return &exitError{code: 2, err: err}
}

// failuref reports an operation that ran and failed: exit 1.
func failuref(format string, args ...any) error {
	return &exitError{code: 1, err: fmt.Errorf(format, args...)}
}

// ExitCode maps an error returned by Run to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

type command struct {
	usage string
	run   func(env *Env, args []string) error
}

// commands maps "group sub" (or a single word) to its implementation.
var commands = map[string]command{
	"version":      {"version", cmdVersion},
	"airgap check": {"airgap check", cmdAirgapCheck},
	"usb list":     {"usb list [--all]", cmdUSBList},
	"usb export":   {"usb export --to MOUNT [--folder NAME] [--any-disk] FILE...", cmdUSBExport},
	"usb import":   {"usb import --from DIR [--to DIR] [--max-size BYTES] [FILE...]", cmdUSBImport},
	"qr encode":    {"qr encode --in FILE --out-dir D [--fps F] [--fragment-bytes B] [--kind K] [--level L|M|Q|H]", cmdQREncode},
	"qr decode":    {"qr decode --out FILE IMAGE...", cmdQRDecode},
	"qr scan":      {"qr scan --device /dev/videoN --out FILE", cmdQRScan},

	"sd verify":       {"sd verify --sd-file F [--cert C ...] [--quorum M]", cmdSDVerify},
	"sd restore-blob": {"sd restore-blob --sd-file F --sd-exchange-key K --key REF [--key REF ...] --out BLOB [--exchange-key-sha256 HEX] [--drill] [--hsm-name N] [--witness W] [--transcript F] [--accept-unattested-exchange-key \"REASON; approved by NAME\"] [--collateral DIR] [--at TIME] [--known-identities FILE] [--pkcs11-module PATH]", cmdSDRestoreBlob},
	"sd exchange-key": {"sd exchange-key --sd-exchange-key FILE [--collateral DIR] [--at TIME] [--known-identities FILE] [--drill]", cmdSDExchangeKey},
	"sd request":      {"sd request --cert C ... --quorum M --out F", cmdSDRequest},
	"sd check-share":  {"sd check-share --sd-file F --key REF [--drill] [--transcript P] [--pkcs11-module PATH]", cmdSDCheckShare},

	"token list":   {"token list [--drill] [--pkcs11-module PATH]", cmdTokenList},
	"token enroll": {"token enroll --token REF --name NAME --out CERT.cer [--bits 2048|3072|4096] [--slot 9d] [--touch never|always|cached] [--accept-unattested-key \"REASON; approved by NAME\"] [--drill] [--transcript P] [--pkcs11-module PATH]", cmdTokenEnroll},
	"token attest": {"token attest --key REF [--drill] [--pkcs11-module PATH]", cmdTokenAttest},

	"drill keys":        {"drill keys --dir D --count N [--bits 2048|3072|4096]", cmdDrillKeys},
	"drill hsm":         {"drill hsm activate --hsm-dir D --quorum M --out SD CERT... | init-recovery --hsm-dir D --out SDE.cer | upload --hsm-dir D --blob BLOB", cmdDrillHSM},
	"transcript verify": {"transcript verify FILE [--digest HEX|WORDS]", transcriptVerifyCmd},
	"transcript seal":   {"transcript seal FILE", transcriptSealCmd},
	"transcript print":  {"transcript print FILE --out record.pdf [--force]", transcriptPrintCmd},

	"rotation package": {"rotation package --old-manifest M --cert C ... --quorum M --out-dir D [--witness W] [--drill] [--transcript P]", cmdRotationPackage},
	"rotation check":   {"rotation check --old-manifest M --sd-file NEW --cert C --key REF ... [--old-sd OLD --old-key REF ...] [--drill] [--pkcs11-module PATH] [--transcript P]", cmdRotationCheck},
	"rotation retire":  {"rotation retire --old-manifest M --checked CHECK.jsonl --custodian NAME ... --method 1|2|3 --witness W [--drill]", cmdRotationRetire},

	"drill run": {"drill run --custodians N --quorum M --tokens soft|softhsm|vcard --dir D [--rotation] [--fault-…]", cmdDrillRun},
}

// Run executes one command line (without the program name) and returns an
// error whose ExitCode is the process's exit code.
func Run(env *Env, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(env.Stdout)
		return nil
	}
	name := args[0]
	rest := args[1:]
	cmd, ok := commands[name]
	if !ok && len(args) > 1 {
		name = args[0] + " " + args[1]
		rest = args[2:]
		cmd, ok = commands[name]
	}
	if !ok {
		printUsage(env.Stderr)
		return usageErrorf("unknown command %q: see the list above", strings.Join(args[:min(2, len(args))], " "))
	}
	// Stale partial files of an interrupted earlier run are removed when
	// the same output is written again; say so.
	safefile.Notice = func(line string) { fmt.Fprintln(env.Stderr, line) }
	defer func() { safefile.Notice = nil }()
	err := cmd.run(env, rest)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Custodian — key ceremonies for Azure Managed HSM security domains.")
	fmt.Fprintln(w, "Run without arguments for the GUI. Commands:")
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  custodian %s\n", commands[n].usage)
	}
	fmt.Fprintln(w, "Exit codes: 0 success, 1 operation failed, 2 usage or bad input.")
}

// newFlags makes a flag set that reports errors as usage errors.
func newFlags(env *Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("custodian "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parseFlags parses and turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageErrorf("%v", err)
	}
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// writeFailed reports a failed write of path. safefile's errors already
// name the file ("writing X: …", "X already exists: …"): the path is added
// only when missing, so no message says "writing X: writing X:". A file
// that exists is bad usage (exit 2); anything else failed (exit 1).
func writeFailed(path string, err error) error {
	code := 1
	if errors.Is(err, safefile.ErrExists) {
		code = 2
	}
	if strings.Contains(err.Error(), path) {
		return &exitError{code: code, err: err}
	}
	return &exitError{code: code, err: fmt.Errorf("writing %s: %w", path, err)}
}

// Message is the one line printed for err after "custodian: ": line
// breaks inside a message are folded so that the error is always the last
// line on stderr.
func Message(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
