package token

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseURIRoundTrips(t *testing.T) {
	for _, s := range []string{
		"yubikey:serial=12345678;slot=9d",
		"yubikey:serial=7;slot=82",
		"pkcs11:token=Alice;object=custodian;id=%01%02%ff",
		"pkcs11:token=My%20Token;id=%41?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin",
		"file:/tmp/keys/cert_0.key",
	} {
		u, err := ParseURI(s)
		if err != nil {
			t.Fatalf("ParseURI(%q): %v", s, err)
		}
		if got := u.String(); got != s {
			t.Errorf("ParseURI(%q).String() = %q", s, got)
		}
	}
}

func TestParseURIDecodesValues(t *testing.T) {
	u, err := ParseURI("pkcs11:token=My%20Token;id=%01%02;object=a?module-path=/m.so")
	if err != nil {
		t.Fatal(err)
	}
	if u.Get("token") != "My Token" || u.Get("id") != "\x01\x02" || u.Query["module-path"] != "/m.so" {
		t.Errorf("decoded %#v", u)
	}
	// Canonical order: token before object before id, whatever the input.
	u2, _ := ParseURI("pkcs11:id=%01%02;object=a;token=My%20Token?module-path=/m.so")
	if u2.String() != u.String() {
		t.Errorf("canonical forms differ: %q vs %q", u2, u)
	}
}

func TestParseURIRejects(t *testing.T) {
	for s, want := range map[string]string{
		"":                                   "no scheme",
		"/tmp/key.pem":                       "no scheme",
		"http://x":                           "unknown scheme",
		"file:":                              "names no file",
		"pkcs11:token":                       "not name=value",
		"pkcs11:token=a;token=b":             "appears twice",
		"pkcs11:id=%zz":                      "bad percent-encoding",
		"pkcs11:id=%0":                       "truncated",
		"pkcs11:token=a?pin-value=123456":    "carries a PIN",
		"yubikey:serial=abc;slot=9d":         "not a decimal number",
		"yubikey:serial=1;slot=9b":           "not a PIV key slot",
		"yubikey:serial=1;slot=xyz":          "not a PIV slot",
		"yubikey:serial=1;slot=9d;object=me": "unknown attribute",
	} {
		_, err := ParseURI(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseURI(%q) = %v, want an error containing %q", s, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "123456") {
			t.Errorf("ParseURI(%q) error repeats the PIN: %v", s, err)
		}
	}
}

func TestPIVSlots(t *testing.T) {
	for _, ok := range []string{"9d", "9D", "82", "95", "9a", "9e"} {
		if _, err := ParsePIVSlot(ok); err != nil {
			t.Errorf("ParsePIVSlot(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"81", "96", "9b", "f9", "d", "09d"} {
		if _, err := ParsePIVSlot(bad); err == nil {
			t.Errorf("ParsePIVSlot(%q) accepted", bad)
		}
	}
}

func TestEnrollRequestDefaultsAndLimits(t *testing.T) {
	r := EnrollRequest{Name: "Alice"}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.Bits != 2048 || r.Slot != "9d" || r.Touch != TouchNever || r.Label != NeutralLabel {
		t.Errorf("defaults: %+v", r)
	}
	for _, bad := range []EnrollRequest{{}, {Name: "a", Bits: 1024}, {Name: "a", Slot: "9b"}, {Name: "a", Touch: "sometimes"}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%+v) accepted", bad)
		}
	}
}

func TestReadPINFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pin")
	if err := os.WriteFile(p, []byte("123456\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pin, err := ReadPINFile(p)
	if err != nil || string(pin) != "123456" {
		t.Fatalf("ReadPINFile = %q, %v", pin, err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPINFile(p); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("world-readable PIN file accepted: %v", err)
	}
}

// A FIFO named as the PIN source is refused at once, named for what it
// is: opened blocking, it would hang the command until someone wrote to it.
func TestReadPINFileRefusesAFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pin-fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := ReadPINFile(p)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "FIFO") || !strings.Contains(err.Error(), "the PIN source") {
			t.Errorf("a FIFO as the PIN source: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reading a FIFO as the PIN source hangs")
	}
}

func TestPINErrorMessages(t *testing.T) {
	tok := Info{Kind: KindYubiKey, Model: "YubiKey 5", Serial: "42"}
	cases := []struct {
		err  *PINError
		want string
	}{
		{&PINError{Token: tok, RetriesLeft: 2}, "wrong PIN for YubiKey 5 (serial 42): 2 retries left"},
		{&PINError{Token: tok, Blocked: true}, "PIN of YubiKey 5 (serial 42) is blocked: unblock it with the PUK"},
		{&PINError{Token: tok, Blocked: true}, "do not reset it, a reset destroys the key"},
		{&PINError{Token: tok, What: "PUK", Blocked: true}, "only a reset of the PIV application (ykman piv reset) clears it"},
		{&PINError{Token: Info{Kind: KindPKCS11, Label: "cust1"}, Blocked: true}, "unblock it with the token vendor's tool"},
		{&PINError{Token: tok, RetriesLeft: 1, LastRetry: true}, "one retry left"},
	}
	for _, c := range cases {
		if !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%+v: %q lacks %q", c.err, c.err.Error(), c.want)
		}
	}
}

func TestParseURIErrorsAreTyped(t *testing.T) {
	_, err := ParseURI("http://x")
	var ue *URIError
	if !errors.As(err, &ue) {
		t.Errorf("ParseURI error %T is not a *URIError", err)
	}
}
