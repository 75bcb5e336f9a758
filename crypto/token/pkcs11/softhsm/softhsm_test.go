package softhsm

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	p11 "github.com/miekg/pkcs11"
)

func start(t *testing.T) *Instance {
	t.Helper()
	if _, err := Module(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skip(err)
	}
	s, err := Start(filepath.Join(t.TempDir(), "softhsm"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Tokens are initialised without any process: a softhsm2-util planted
// first on PATH is never run, and no process's command line carries a PIN
// while the token is made. The token then takes the user PIN and the SO
// PIN, and refuses a wrong one.
func TestInitTokenStartsNoProcessAndPutsNoPINOnACommandLine(t *testing.T) {
	bin := t.TempDir()
	marker := filepath.Join(t.TempDir(), "softhsm2-util-ran")
	script := "#!/bin/sh\necho \"$@\" > " + marker + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "softhsm2-util"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	s := start(t)

	soPIN, userPIN := []byte("so-5829301"), []byte("user-4471920")
	var seen atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // what ps would show, while the tokens are made
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if pid := cmdlineWith(soPIN, userPIN); pid != "" {
				seen.Store(pid)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for _, label := range []string{"DRILL-a", "DRILL-b"} {
		if err := s.InitToken(label, soPIN, userPIN); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if pid, ok := seen.Load().(string); ok {
		t.Errorf("process %s had a PIN on its command line while tokens were initialised", pid)
	}
	if b, err := os.ReadFile(marker); err == nil {
		t.Errorf("softhsm2-util ran with arguments %q", b)
	}
	for _, label := range []string{"DRILL-a", "DRILL-b"} {
		if err := login(s, label, p11.CKU_USER, userPIN); err != nil {
			t.Errorf("%s: user login with the user PIN: %v", label, err)
		}
		if err := login(s, label, p11.CKU_SO, soPIN); err != nil {
			t.Errorf("%s: SO login with the SO PIN: %v", label, err)
		}
		if err := login(s, label, p11.CKU_USER, []byte("wrong-000")); err == nil {
			t.Errorf("%s: a wrong user PIN logged in", label)
		}
	}
	if err := s.InitToken("DRILL-a", soPIN, userPIN); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("a second token labelled DRILL-a: %v", err)
	}
}

// cmdlineWith returns the pid of a process whose command line contains one
// of the needles, or "".
func cmdlineWith(needles ...[]byte) string {
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		for _, n := range needles {
			if bytes.Contains(b, n) {
				return filepath.Base(filepath.Dir(d))
			}
		}
	}
	return ""
}

func login(s *Instance, label string, user uint, pin []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reinit(); err != nil {
		return err
	}
	defer s.ctx.Finalize()
	slot, err := s.slotByLabel(label)
	if err != nil {
		return err
	}
	sess, err := s.ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION) // SO sessions are read-write
	if err != nil {
		return err
	}
	defer s.ctx.CloseSession(sess)
	if err := s.ctx.Login(sess, user, string(pin)); err != nil {
		return err
	}
	return s.ctx.Logout(sess)
}

// Close puts $SOFTHSM2_CONF back as it was (set or unset), and only one
// instance runs at a time.
func TestCloseRestoresTheConfigurationVariable(t *testing.T) {
	for _, before := range []*string{nil, ptr("/etc/softhsm/softhsm2.conf")} {
		if before == nil {
			t.Setenv(EnvConf, "x") // so that t restores it afterwards
			os.Unsetenv(EnvConf)
		} else {
			t.Setenv(EnvConf, *before)
		}
		s := start(t)
		if got := os.Getenv(EnvConf); got != s.Conf() {
			t.Fatalf("while running, %s=%q, want %q", EnvConf, got, s.Conf())
		}
		if _, err := Start(t.TempDir()); !errors.Is(err, ErrBusy) {
			t.Errorf("a second instance: %v, want ErrBusy", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		got, had := os.LookupEnv(EnvConf)
		if before == nil && had {
			t.Errorf("after Close %s=%q, want it unset as before", EnvConf, got)
		}
		if before != nil && got != *before {
			t.Errorf("after Close %s=%q, want %q", EnvConf, got, *before)
		}
		if err := s.Close(); err != nil {
			t.Errorf("a second Close: %v", err)
		}
		if err := s.InitToken("late", []byte("12345678"), []byte("1234")); err == nil {
			t.Error("InitToken after Close succeeded")
		}
	}
}

func ptr(s string) *string { return &s }
