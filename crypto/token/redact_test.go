package token

import (
	"errors"
	"strings"
	"testing"
)

// A PIN in a reference is refused wherever it is and however it is
// spelled, and no error quotes any part of a PIN attribute.
func TestPINValueRefusedAndNeverPrinted(t *testing.T) {
	for _, ref := range []string{
		"pkcs11:token=a?pin-value=123456",
		"pkcs11:token=a;pin-value=123456",
		"pkcs11:token=a?module-path=/x.so&PIN-VALUE=123456",
		"pkcs11:token=a?pin%2dvalue=123456",
		"yubikey:serial=1234;slot=9d?pin-value=123456",
		"yubikey:serial=1234;pin-value=123456",
		"PKCS11:pin-value=123456",
	} {
		_, err := ParseURI(ref)
		var ue *URIError
		if !errors.As(err, &ue) || !errors.Is(err, ErrPINInReference) {
			t.Errorf("%s: ParseURI = %v, want ErrPINInReference", ref, err)
			continue
		}
		if strings.Contains(err.Error(), "123456") || strings.Contains(err.Error(), "3456") {
			t.Errorf("%s: the error prints the PIN: %v", ref, err)
		}
	}
	for _, ref := range []string{
		"pkcs11:token=a;bogus?pin-source=file:/secret/path%zz",
		"yubikey:serial=x;slot=9d?pin-source=file:/secret/path",
		"yubikey:serial=1;nope=2?pin-source=/secret/path",
		"ftp:pin-source=/secret/path",
	} {
		_, err := ParseURI(ref)
		if err == nil {
			t.Errorf("%s accepted", ref)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error prints the pin-source: %v", ref, err)
		}
	}
	if got := Redact("pkcs11:token=a;pin-value=1?pin-source=file:/p&module-path=/m.so"); got != "pkcs11:token=a;pin-value=REDACTED?pin-source=REDACTED&module-path=/m.so" {
		t.Errorf("Redact = %s", got)
	}
	u := &URI{Scheme: SchemePKCS11, Path: map[string]string{"token": "a"}, Query: map[string]string{"pin-value": "99"}}
	if strings.Contains(u.String(), "99") {
		t.Errorf("String prints a hand-set pin-value: %s", u)
	}
}
