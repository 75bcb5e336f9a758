package pyjson

import (
	"encoding/json"
	"testing"
)

// Expected values are what Python 3's json.dumps prints for each string.
func TestAppendStringMatchesJSONDumps(t *testing.T) {
	for in, want := range map[string]string{
		"hsm_backup":     `"hsm_backup"`,
		"é":              `"\u00e9"`,
		"Ünïcödé tag":    `"\u00dcn\u00efc\u00f6d\u00e9 tag"`,
		"日本":             `"\u65e5\u672c"`,
		"😀":              `"\ud83d\ude00"`,
		"a\"b\\c/d":      `"a\"b\\c/d"`,
		"\b\f\n\r\t\x00": `"\b\f\n\r\t\u0000"`,
		"\x7f<>&\u2028":  `"\u007f<>&\u2028"`,
	} {
		got, err := AppendString(nil, in)
		if err != nil || string(got) != want {
			t.Errorf("AppendString(%q) = %s, %v; want %s", in, got, err, want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != in {
			t.Errorf("%s does not decode back to %q: %q %v", got, in, back, err)
		}
	}
	if _, err := AppendString(nil, "\xff"); err != ErrInvalidUTF8 {
		t.Errorf("invalid UTF-8: %v", err)
	}
}
