// Package rig runs virtual YubiKeys (package virtualpiv) behind a real,
// private pcscd, so that tests and drills exercise the whole PC/SC stack:
// piv-go and crypto/token/pcsc talk to libpcsclite, libpcsclite to the
// rig's pcscd, pcscd to vsmartcard's vpcd driver, and vpcd over TCP on
// 127.0.0.1 to the cards, which run in this process.
//
// # How it is wired
//
// Start creates a private directory with one reader.conf entry per two
// cards (vpcd gives every reader entry two slots), each entry with its own
// copy of libifdvpcd.so: vpcd keeps its connections in static variables
// per slot number, so two entries sharing one loaded library would
// overwrite each other's. Every entry says DEVICENAME 127.0.0.1:<port>,
// vpcd's "reverse" mode in which the driver connects to a virtual card
// listening on that address (port for slot 0, port+1 for slot 1). The
// other mode, DEVICENAME /dev/null:<port>, makes vpcd listen on all
// interfaces; the rig never uses it. The cards' listeners are bound to
// 127.0.0.1 only, before pcscd starts, and outlive it: vpcd 3.3 aborts
// pcscd when its connection to a card drops or cannot be made. For the
// same reason a card cannot be "pulled" while pcscd runs, and with an odd
// number of cards the spare slot holds a blank card without a PIV
// application (piv.Cards lists its reader; PIV clients skip it).
//
// pcscd 1.9 puts its socket and pid file in the fixed directory
// /run/pcscd and ignores PCSCLITE_CSOCK_NAME (only the client library
// honours it). The rig therefore starts pcscd in a private mount
// namespace (util-linux unshare) in which the rig's own directory is
// bind-mounted on /run/pcscd, so the system pcscd, if any, is never
// touched. The daemon runs in the foreground, is killed by Close, and
// dies with this process (parent-death signal).
//
// # Client side
//
// libpcsclite reads PCSCLITE_CSOCK_NAME once, at the first
// SCardEstablishContext of the process, and keeps that socket for the
// life of the process. Start sets it (see Apply) before its own first
// PC/SC call; from then on piv-go (piv.Cards, piv.Open) and
// crypto/token/pcsc in this process see only the rig's readers. For the
// same reason the socket path is the same for every rig of a process, and
// only one rig runs at a time in a process. Env gives the variable for
// child processes (a CLI under test).
//
// With an odd number of cards the spare slot's blank card is listed by
// PC/SC (piv.Cards); piv.Open on it fails and, in piv-go v2.6.0, leaks an
// exclusive connection that keeps the reader busy for the rest of the
// process: open only the readers in Rig.Readers with piv-go, or probe in
// shared mode (crypto/token/pcsc), as crypto/token/piv does.
//
// # Requirements
//
// Debian packages pcscd, vsmartcard-vpcd and util-linux (unshare,
// mount); libpcsclite-dev to build. Root, or unprivileged user
// namespaces (the rig then uses unshare --map-root-user). See Available.
//
// vsmartcard-vpcd is for test and drill machines only and must never be
// installed on a ceremony machine (see package virtualpiv).
package rig

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/custodian-hsm/custodian/crypto/token/pcsc"
	"github.com/custodian-hsm/custodian/internal/testinfra/virtualpiv"
)

// Default locations of the Debian packages.
const (
	DefaultPCSCD   = "/usr/sbin/pcscd"
	DefaultVPCD    = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
	DefaultUnshare = "/usr/bin/unshare"
	// DefaultIPCDir is where pcscd 1.9 (Debian) keeps its socket.
	DefaultIPCDir = "/run/pcscd"
	// ReaderPrefix starts the names of the rig's readers: the name of a
	// YubiKey 5's reader, because Yubico's ykcs11 serves only readers whose
	// names start with "Yubico". A name decides nothing: whether a card is
	// a drill card is known from how it was made (Rig.Serials, passed to
	// crypto/token/piv as Options.DrillSerials), never from its reader.
	ReaderPrefix = "Yubico YubiKey OTP+FIDO+CCID"
	// EnvSocket is the variable libpcsclite reads for the daemon's socket.
	EnvSocket      = "PCSCLITE_CSOCK_NAME"
	slotsPerReader = 2
	maxCards       = 8 // pcscd allows 16 reader slots; keep well below
)

// Options configure a rig. The zero value starts one factory-fresh card.
type Options struct {
	// Cards is the number of virtual cards (1–8); 0 means 1.
	Cards int
	// Card returns the options of card i; nil means factory-fresh cards
	// with random, distinct serials. Authority, RSAKeys and Touch below
	// fill in what the returned options leave nil.
	Card func(i int) virtualpiv.Options
	// Authority issues all the cards' attestation certificates; nil means
	// a fresh TEST authority for this rig.
	Authority *virtualpiv.Authority
	// RSAKeys is passed to every card (e.g. a KeyPool's Key method).
	RSAKeys virtualpiv.RSAKeySource
	// Touch is passed to every card.
	Touch func(virtualpiv.TouchRequest) bool
	// Paths of pcscd, libifdvpcd.so and unshare; empty means the Debian
	// locations (Default*). IPCDir is pcscd's compiled-in socket directory.
	PCSCD, VPCD, Unshare, IPCDir string
	// Log receives pcscd's output besides the rig's log file.
	Log io.Writer
	// Debug runs pcscd with -d -a (debug messages and APDUs). APDUs
	// include PINs: only for debugging with factory or test values.
	Debug bool
}

// Rig is a running private pcscd with virtual cards.
type Rig struct {
	dir      string
	sockPath string
	cards    []*virtualpiv.Card
	readers  []string
	slots    []*slotServer // all slots, empty ones included
	cardSlot []*slotServer // slot of card i
	auth     *virtualpiv.Authority
	cmd      *exec.Cmd
	waitErr  chan error
	logPath  string
	logFile  *os.File

	closeOnce sync.Once
	closeErr  error
	envSaved  bool
	prevEnv   string
	hadEnv    bool
}

var (
	processMu     sync.Mutex
	processActive bool
	processRunDir string // fixed for the process: libpcsclite caches the socket path
)

// Available reports what is missing to run a rig on this machine, or nil.
func Available() error {
	return AvailableWith(Options{})
}

// AvailableWith is Available for a rig with these options (paths).
func AvailableWith(o Options) error {
	o = withDefaults(o)
	var missing []string
	for _, f := range []struct{ path, pkg string }{
		{o.PCSCD, "pcscd"}, {o.VPCD, "vsmartcard-vpcd"}, {o.Unshare, "util-linux"},
	} {
		if _, err := os.Stat(f.path); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", f.path, f.pkg))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("rig: missing %s", strings.Join(missing, ", "))
	}
	if os.Geteuid() != 0 {
		if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" {
			return errors.New("rig: pcscd needs a private mount namespace: run as root or enable unprivileged user namespaces (kernel.unprivileged_userns_clone=1)")
		}
	}
	return nil
}

func withDefaults(o Options) Options {
	if o.PCSCD == "" {
		o.PCSCD = DefaultPCSCD
	}
	if o.VPCD == "" {
		o.VPCD = DefaultVPCD
	}
	if o.Unshare == "" {
		o.Unshare = DefaultUnshare
	}
	if o.IPCDir == "" {
		o.IPCDir = DefaultIPCDir
	}
	if o.Cards == 0 {
		o.Cards = 1
	}
	if os.Getenv("CUSTODIAN_RIG_DEBUG") != "" {
		o.Debug = true
	}
	return o
}

// Start creates the cards, starts pcscd and waits until every card
// answers through PC/SC (bounded by ctx; 60 s when ctx has no deadline).
// It sets PCSCLITE_CSOCK_NAME in this process (see Apply).
func Start(ctx context.Context, opts Options) (_ *Rig, err error) {
	opts = withDefaults(opts)
	if opts.Cards < 1 || opts.Cards > maxCards {
		return nil, fmt.Errorf("rig: %d cards requested; a rig runs 1 to %d", opts.Cards, maxCards)
	}
	if err := AvailableWith(opts); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
	}

	processMu.Lock()
	if processActive {
		processMu.Unlock()
		return nil, errors.New("rig: another rig is running in this process; libpcsclite talks to one pcscd per process, so Close it first")
	}
	processActive = true
	processMu.Unlock()
	r := &Rig{}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()

	r.dir, err = os.MkdirTemp("", "custodian-vpiv-rig-")
	if err != nil {
		return nil, fmt.Errorf("rig: creating the private directory: %w", err)
	}
	runDir, err := runDirectory()
	if err != nil {
		return nil, err
	}
	r.sockPath = filepath.Join(runDir, "pcscd.comm")

	// Cards.
	r.auth = opts.Authority
	if r.auth == nil {
		if r.auth, err = virtualpiv.NewAuthority(); err != nil {
			return nil, err
		}
	}
	serials := map[uint32]bool{}
	for i := 0; i < opts.Cards; i++ {
		var co virtualpiv.Options
		if opts.Card != nil {
			co = opts.Card(i)
		}
		if co.Authority == nil {
			co.Authority = r.auth
		}
		if co.RSAKeys == nil {
			co.RSAKeys = opts.RSAKeys
		}
		if co.Touch == nil {
			co.Touch = opts.Touch
		}
		var card *virtualpiv.Card
		for attempt := 0; ; attempt++ {
			if card, err = virtualpiv.New(co); err != nil {
				return nil, err
			}
			if !serials[card.Serial()] {
				break
			}
			if co.Serial != 0 || attempt > 10 {
				return nil, fmt.Errorf("rig: two cards with serial %d", card.Serial())
			}
		}
		serials[card.Serial()] = true
		r.cards = append(r.cards, card)
	}

	// Listeners (before pcscd: vpcd connects at once) and reader.conf.
	confDir := filepath.Join(r.dir, "reader.conf.d")
	if err := os.Mkdir(confDir, 0o700); err != nil {
		return nil, fmt.Errorf("rig: %w", err)
	}
	lib, err := os.ReadFile(opts.VPCD)
	if err != nil {
		return nil, fmt.Errorf("rig: reading the vpcd driver: %w", err)
	}
	readerEntries := (opts.Cards + slotsPerReader - 1) / slotsPerReader
	for e := 0; e < readerEntries; e++ {
		lns, port, err := listenConsecutive(slotsPerReader)
		if err != nil {
			return nil, err
		}
		for s, ln := range lns {
			if i := e*slotsPerReader + s; i < len(r.cards) {
				srv := newSlotServer(ln, r.cards[i])
				r.slots = append(r.slots, srv)
				r.cardSlot = append(r.cardSlot, srv)
			} else {
				r.slots = append(r.slots, newSlotServer(ln, blankCard{}))
			}
		}
		libPath := filepath.Join(r.dir, fmt.Sprintf("libifdvpcd-%d.so", e))
		if err := os.WriteFile(libPath, lib, 0o500); err != nil {
			return nil, fmt.Errorf("rig: copying the vpcd driver: %w", err)
		}
		// Distinct names: pcscd 1.9 numbers readers per library, so two
		// entries called alike would both be "… 00 00".
		name := fmt.Sprintf("%s (Custodian virtual %c)", ReaderPrefix, 'A'+e)
		conf := fmt.Sprintf("FRIENDLYNAME \"%s\"\nDEVICENAME 127.0.0.1:%d\nLIBPATH %s\nCHANNELID %d\n", name, port, libPath, port)
		if err := os.WriteFile(filepath.Join(confDir, fmt.Sprintf("vpcd-%d", e)), []byte(conf), 0o600); err != nil {
			return nil, fmt.Errorf("rig: writing reader.conf: %w", err)
		}
	}

	if err := r.startDaemon(opts, confDir, runDir); err != nil {
		return nil, err
	}
	if err := r.Apply(); err != nil {
		return nil, err
	}
	if err := r.waitReady(ctx); err != nil {
		return nil, fmt.Errorf("%w%s", err, r.logTail())
	}
	return r, nil
}

// runDirectory returns the process's socket directory, creating it (0700)
// when needed: its path must not change within a process.
func runDirectory() (string, error) {
	processMu.Lock()
	defer processMu.Unlock()
	if processRunDir == "" {
		d, err := os.MkdirTemp("", "custodian-pcscd-run-")
		if err != nil {
			return "", fmt.Errorf("rig: creating the socket directory: %w", err)
		}
		processRunDir = d
		return d, nil
	}
	if err := os.Mkdir(processRunDir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("rig: recreating the socket directory: %w", err)
	}
	fi, err := os.Lstat(processRunDir)
	st, ok := fi.Sys().(*syscall.Stat_t)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 || !ok || int(st.Uid) != os.Geteuid() {
		return "", fmt.Errorf("rig: socket directory %s is not our private directory", processRunDir)
	}
	return processRunDir, nil
}

func (r *Rig) startDaemon(opts Options, confDir, runDir string) error {
	args := []string{"--mount", "--propagation", "private"}
	if os.Geteuid() != 0 {
		args = append([]string{"--user", "--map-root-user"}, args...)
	}
	pcscdArgs := []string{"--foreground", "--config", confDir}
	if opts.Debug {
		pcscdArgs = append(pcscdArgs, "--debug", "--apdu")
	} else {
		pcscdArgs = append(pcscdArgs, "--info")
	}
	if supportsDisablePolkit(opts.PCSCD) {
		pcscdArgs = append(pcscdArgs, "--disable-polkit")
	}
	// The shell runs inside the new namespace: make the private directory
	// pcscd's IPC directory, then become pcscd (exec keeps the PID).
	script := `set -e; [ -d "$1" ] || mkdir -p "$1"; mount --bind "$2" "$1"; shift 2; exec "$@"`
	args = append(args, "--", "/bin/sh", "-c", script, "sh", opts.IPCDir, runDir, opts.PCSCD)
	args = append(args, pcscdArgs...)

	cmd := exec.Command(opts.Unshare, args...)
	cmd.Env = withoutEnv(os.Environ(), EnvSocket)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	r.logPath = filepath.Join(r.dir, "pcscd.log")
	f, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("rig: %w", err)
	}
	r.logFile = f
	var out io.Writer = f
	if opts.Log != nil {
		out = io.MultiWriter(f, opts.Log)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("rig: starting pcscd: %w", err)
	}
	r.cmd = cmd
	r.waitErr = make(chan error, 1)
	go func() { r.waitErr <- cmd.Wait() }()
	return nil
}

var (
	polkitOnce sync.Once
	polkitFlag bool
)

// supportsDisablePolkit reports whether this pcscd has --disable-polkit
// (pcsc-lite 2.x built with polkit); 1.9 in Debian 12 has neither.
func supportsDisablePolkit(pcscd string) bool {
	polkitOnce.Do(func() {
		out, _ := exec.Command(pcscd, "--help").CombinedOutput()
		polkitFlag = bytes.Contains(out, []byte("disable-polkit"))
	})
	return polkitFlag
}

// waitReady waits for the socket, for vpcd to have fetched every card's
// ATR, and for every card to answer GET SERIAL through PC/SC, and records
// each card's reader name.
func (r *Rig) waitReady(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	wait := func(what string, ready func() bool) error {
		for !ready() {
			select {
			case err := <-r.waitErr:
				r.waitErr <- err
				return fmt.Errorf("rig: pcscd exited while %s: %v", what, err)
			case <-ctx.Done():
				return fmt.Errorf("rig: timed out %s: %w", what, ctx.Err())
			case <-tick.C:
			}
		}
		return nil
	}
	if err := wait("waiting for pcscd's socket", func() bool {
		fi, err := os.Stat(r.sockPath)
		return err == nil && fi.Mode()&os.ModeSocket != 0
	}); err != nil {
		return err
	}
	if err := wait("waiting for vpcd to power the cards", func() bool {
		for _, s := range r.cardSlot {
			if !s.powered.Load() {
				return false
			}
		}
		return true
	}); err != nil {
		return err
	}
	r.readers = make([]string, len(r.cards))
	var lastErr error
	err := wait("waiting for the cards to answer through PC/SC", func() bool {
		found, err := r.mapReaders()
		if err != nil {
			lastErr = err
		}
		return found
	})
	if err != nil && lastErr != nil {
		return fmt.Errorf("%w (last error: %v)", err, lastErr)
	}
	return err
}

// mapReaders finds each card's reader by serial number, through PC/SC.
// It probes in shared mode and always disconnects (piv.Open would keep an
// exclusive handle on a card without PIV, such as the blank card).
func (r *Rig) mapReaders() (bool, error) {
	ctx, err := pcsc.EstablishContext()
	if err != nil {
		return false, err
	}
	defer ctx.Release()
	names, err := ctx.ListReaders()
	if err != nil {
		return false, err
	}
	bySerial := map[uint32]int{}
	for i, c := range r.cards {
		bySerial[c.Serial()] = i
	}
	var lastErr error
	for _, name := range names {
		if !strings.HasPrefix(name, ReaderPrefix) || idx(r.readers, name) >= 0 {
			continue
		}
		serial, err := probeSerial(ctx, name)
		if err != nil {
			lastErr = err
			continue
		}
		if i, ok := bySerial[serial]; ok {
			r.readers[i] = name
		}
	}
	for i, name := range r.readers {
		if name == "" {
			return false, fmt.Errorf("card %d (serial %d) not found among readers %q: %v", i, r.cards[i].Serial(), names, lastErr)
		}
	}
	return true, nil
}

// probeSerial selects PIV and reads the YubiKey serial of a reader's card.
func probeSerial(ctx *pcsc.Context, reader string) (uint32, error) {
	card, err := ctx.Connect(reader)
	if err != nil {
		return 0, err
	}
	defer card.Disconnect(pcsc.LeaveCard)
	resp, err := pcsc.Exchange(card, pcsc.Command{INS: 0xA4, P1: 0x04, Data: []byte{0xA0, 0x00, 0x00, 0x03, 0x08}, Ne: 256})
	if err == nil {
		err = resp.Err(0xA4)
	}
	if err != nil {
		return 0, err
	}
	resp, err = pcsc.Exchange(card, pcsc.Command{INS: 0xF8, Ne: 256})
	if err == nil {
		err = resp.Err(0xF8)
	}
	if err != nil {
		return 0, err
	}
	if len(resp.Data) != 4 {
		return 0, fmt.Errorf("serial number of %d bytes", len(resp.Data))
	}
	return binary.BigEndian.Uint32(resp.Data), nil
}

func idx(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// Cards returns the virtual cards, in order; serials are distinct.
func (r *Rig) Cards() []*virtualpiv.Card { return r.cards }

// Serials returns the serial numbers of the rig's cards, in order: what
// tells a drill's provider which cards it made (piv Options.DrillSerials).
func (r *Rig) Serials() []uint32 {
	out := make([]uint32, len(r.cards))
	for i, c := range r.cards {
		out[i] = c.Serial()
	}
	return out
}

// Readers returns the PC/SC reader name of each card, in the order of
// Cards.
func (r *Rig) Readers() []string { return append([]string(nil), r.readers...) }

// SocketPath is the pcscd socket clients must use.
func (r *Rig) SocketPath() string { return r.sockPath }

// Env returns the environment a PC/SC client process needs to see the
// rig's readers (and only them): PCSCLITE_CSOCK_NAME=<socket>.
func (r *Rig) Env() []string { return []string{EnvSocket + "=" + r.sockPath} }

// Apply sets PCSCLITE_CSOCK_NAME in this process. libpcsclite reads it at
// the process's first SCardEstablishContext only, so it works when no
// PC/SC call was made before (Start calls it).
func (r *Rig) Apply() error {
	if !r.envSaved {
		r.prevEnv, r.hadEnv = os.LookupEnv(EnvSocket)
		r.envSaved = true
	}
	if err := os.Setenv(EnvSocket, r.sockPath); err != nil {
		return fmt.Errorf("rig: setting %s: %w", EnvSocket, err)
	}
	return nil
}

// Authority returns the TEST attestation authority of the cards.
func (r *Rig) Authority() *virtualpiv.Authority { return r.auth }

// AttestationRoot returns a pool with only the cards' TEST attestation
// root, for piv.Verifier.Roots and crypto/token/piv's AttestationRoots.
func (r *Rig) AttestationRoot() *x509.CertPool { return r.auth.Pool() }

// AttestationRootCertificate returns the TEST root certificate itself.
func (r *Rig) AttestationRootCertificate() *x509.Certificate { return r.auth.Certificate() }

// LogTail returns the last lines of pcscd's output, for test failures.
func (r *Rig) LogTail() string {
	if r.logPath == "" {
		return ""
	}
	b, err := os.ReadFile(r.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

func (r *Rig) logTail() string {
	if t := r.LogTail(); t != "" {
		return "\npcscd said:\n" + t
	}
	return ""
}

// Close stops pcscd (SIGTERM, then SIGKILL after 5 s), closes the cards'
// listeners, removes the private directory and restores
// PCSCLITE_CSOCK_NAME. It is safe to call more than once.
func (r *Rig) Close() error {
	r.closeOnce.Do(func() {
		var errs []error
		if r.cmd != nil && r.cmd.Process != nil {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-r.waitErr:
			case <-time.After(5 * time.Second):
				_ = r.cmd.Process.Kill()
				<-r.waitErr
			}
		}
		// Only now: vpcd inside pcscd must never find the ports closed.
		for _, s := range r.slots {
			s.close()
		}
		if r.logFile != nil {
			r.logFile.Close()
		}
		if r.dir != "" {
			if err := os.RemoveAll(r.dir); err != nil {
				errs = append(errs, fmt.Errorf("rig: removing %s: %w", r.dir, err))
			}
		}
		if r.sockPath != "" {
			// The next rig of this process recreates the directory at the
			// same path (libpcsclite keeps the socket path it first read).
			if err := os.RemoveAll(filepath.Dir(r.sockPath)); err != nil {
				errs = append(errs, fmt.Errorf("rig: removing %s: %w", filepath.Dir(r.sockPath), err))
			}
		}
		if r.envSaved {
			if r.hadEnv {
				os.Setenv(EnvSocket, r.prevEnv)
			} else {
				os.Unsetenv(EnvSocket)
			}
		}
		processMu.Lock()
		processActive = false
		processMu.Unlock()
		r.closeErr = errors.Join(errs...)
	})
	return r.closeErr
}

// withoutEnv drops a variable from an environment list. pcscd 1.9 must
// not see PCSCLITE_CSOCK_NAME: it reads it in some places and not in
// others (it aborts when they disagree); inside the namespace its fixed
// socket path already is the rig's socket.
func withoutEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
