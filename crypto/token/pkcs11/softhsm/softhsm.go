// Package softhsm runs a private SoftHSM2 instance for drills and tests:
// its own configuration and token directory, tokens initialised through
// PKCS#11 (C_InitToken, C_InitPIN) in this process. It is never used by a
// production ceremony, and it never starts a process: no PIN ever appears
// on a command line (softhsm2-util --pin would show it in ps).
//
// SoftHSM reads its configuration from $SOFTHSM2_CONF each time the module
// is initialised, and Custodian's PKCS#11 provider re-initialises modules
// as it goes. Start therefore sets that variable for the whole process,
// and Close puts back what was there before (and finalises the module), so
// that nothing of a drill outlives it: a production token listing after
// the drill sees the machine's own SoftHSM configuration, not the drill's
// tokens. One instance runs at a time per process.
package softhsm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	p11 "github.com/miekg/pkcs11"
)

// Modules are where Debian and Ubuntu install the SoftHSM2 module.
var Modules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
}

// EnvConf is the variable SoftHSM reads its configuration file from.
const EnvConf = "SOFTHSM2_CONF"

// ErrNotInstalled says SoftHSM2 is missing.
var ErrNotInstalled = errors.New("SoftHSM2 is not installed (apt-get install softhsm2; `make test-deps` does it)")

// ErrBusy says another instance is running in this process.
var ErrBusy = errors.New("another private SoftHSM2 runs in this process (SoftHSM reads one configuration per process): close it first")

// Instance is a private SoftHSM2.
type Instance struct {
	Dir    string
	Module string

	mu       sync.Mutex
	ctx      *p11.Ctx
	prevConf string
	hadConf  bool
	closed   bool
}

var (
	activeMu sync.Mutex
	active   *Instance
)

// Module finds the SoftHSM2 module.
func Module() (string, error) {
	for _, m := range Modules {
		if _, err := os.Stat(m); err == nil {
			return m, nil
		}
	}
	return "", ErrNotInstalled
}

// Start makes a SoftHSM2 configuration in dir (created) and points this
// process at it until Close.
func Start(dir string) (*Instance, error) {
	mod, err := Module()
	if err != nil {
		return nil, err
	}
	activeMu.Lock()
	defer activeMu.Unlock()
	if active != nil {
		return nil, ErrBusy
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	text := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, err
	}
	ctx := p11.New(mod)
	if ctx == nil {
		return nil, fmt.Errorf("SoftHSM2 module %s could not be loaded", mod)
	}
	s := &Instance{Dir: dir, Module: mod, ctx: ctx}
	s.prevConf, s.hadConf = os.LookupEnv(EnvConf)
	if err := os.Setenv(EnvConf, conf); err != nil {
		ctx.Destroy()
		return nil, err
	}
	active = s
	return s, nil
}

// Conf is the instance's configuration file.
func (s *Instance) Conf() string { return filepath.Join(s.Dir, "softhsm2.conf") }

// Close finalises the module, so that no handle keeps the drill's
// configuration, and restores $SOFTHSM2_CONF. Call it once every key on
// the instance's tokens is closed. It is safe to call more than once.
func (s *Instance) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	_ = s.ctx.Finalize()
	s.ctx.Destroy()
	var err error
	if s.hadConf {
		err = os.Setenv(EnvConf, s.prevConf)
	} else {
		err = os.Unsetenv(EnvConf)
	}
	activeMu.Lock()
	if active == s {
		active = nil
	}
	activeMu.Unlock()
	return err
}

// InitToken creates a token with a label no other token of the instance
// has, and sets its SO and user PINs, all through PKCS#11 in this process.
// The PINs cross into the module as C strings (miekg/pkcs11 takes Go
// strings), never into a file or another process's arguments.
func (s *Instance) InitToken(label string, soPIN, userPIN []byte) error {
	if label == "" || len(label) > 32 || strings.TrimRight(label, " ") != label {
		return fmt.Errorf("SoftHSM token label %q: 1 to 32 characters, no trailing spaces", label)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("SoftHSM instance is closed")
	}
	// Whoever initialised the module before did so with whatever
	// configuration was current then: start afresh with ours.
	if err := s.reinit(); err != nil {
		return err
	}
	defer s.ctx.Finalize()
	if _, err := s.slotByLabel(label); err == nil {
		return fmt.Errorf("SoftHSM token %q exists already: choose another label", label)
	}
	free, err := s.freeSlot()
	if err != nil {
		return err
	}
	if err := s.ctx.InitToken(free, string(soPIN), label); err != nil {
		return fmt.Errorf("initialising SoftHSM token %q (C_InitToken): %w", label, err)
	}
	// SoftHSM gives an initialised token a new slot number, visible after
	// the next C_Initialize.
	if err := s.reinit(); err != nil {
		return err
	}
	slot, err := s.slotByLabel(label)
	if err != nil {
		return err
	}
	return s.initPIN(slot, label, soPIN, userPIN)
}

func (s *Instance) initPIN(slot uint, label string, soPIN, userPIN []byte) error {
	sess, err := s.ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("SoftHSM token %q: opening a session: %w", label, err)
	}
	defer s.ctx.CloseSession(sess)
	if err := s.ctx.Login(sess, p11.CKU_SO, string(soPIN)); err != nil {
		return fmt.Errorf("SoftHSM token %q: SO login: %w", label, err)
	}
	defer s.ctx.Logout(sess)
	if err := s.ctx.InitPIN(sess, string(userPIN)); err != nil {
		return fmt.Errorf("SoftHSM token %q: setting the user PIN (C_InitPIN): %w", label, err)
	}
	return nil
}

func (s *Instance) reinit() error {
	_ = s.ctx.Finalize()
	if err := s.ctx.Initialize(); err != nil {
		return fmt.Errorf("initialising SoftHSM2 (%s): %w", s.Conf(), err)
	}
	return nil
}

// freeSlot is SoftHSM's slot with an uninitialised token (it keeps one).
func (s *Instance) freeSlot() (uint, error) {
	slots, err := s.ctx.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("listing SoftHSM slots: %w", err)
	}
	for _, slot := range slots {
		ti, err := s.ctx.GetTokenInfo(slot)
		if err == nil && ti.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
			return slot, nil
		}
	}
	return 0, errors.New("SoftHSM has no free slot for a new token")
}

func (s *Instance) slotByLabel(label string) (uint, error) {
	slots, err := s.ctx.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("listing SoftHSM slots: %w", err)
	}
	for _, slot := range slots {
		ti, err := s.ctx.GetTokenInfo(slot)
		if err == nil && ti.Flags&p11.CKF_TOKEN_INITIALIZED != 0 && strings.TrimRight(ti.Label, " ") == label {
			return slot, nil
		}
	}
	return 0, fmt.Errorf("SoftHSM token %q not found", label)
}
