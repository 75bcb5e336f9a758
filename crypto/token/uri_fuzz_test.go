package token

import (
	"strconv"
	"strings"
	"testing"
)

// The key-reference parser reads what people type and paste: it must never
// panic, what it accepts must print and parse back to itself, and no
// error may quote a PIN attribute's value.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"pkcs11:token=Custodian%201;object=key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin",
		"yubikey:serial=12345678;slot=9d",
		"file:/tmp/cert_0.key",
		"pkcs11:id=%01%02;pin-value=0000",
		"PKCS11:?",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			for _, part := range strings.FieldsFunc(s, isAttrSep) {
				// (A value that also appears elsewhere in the reference may
				// be quoted for that other place.)
				if k, v, ok := strings.Cut(part, "="); ok && pinAttrs[attrName(k)] && len(v) >= 6 && strings.Count(strconv.Quote(s), v) == 1 && strings.Contains(err.Error(), v) {
					t.Fatalf("the error quotes a PIN attribute's value %q: %v", v, err)
				}
			}
			return
		}
		again, err := ParseURI(u.String())
		if err != nil || again.String() != u.String() {
			t.Fatalf("%q → %q does not parse back to itself: %v", s, u.String(), err)
		}
	})
}
