package strictjson

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCheckAccepts(t *testing.T) {
	for _, doc := range []string{
		`{}`, `[]`, `"x"`, `0`, `-1.5e+3`, `true`, `null`, ` {"a": [1, {"b": null}], "c": "\u00e9\n"} `,
		`{"a":{"a":{"a":1}}}`, `[{"a":1},{"a":2}]`,
	} {
		if err := Check([]byte(doc), Limits{}); err != nil {
			t.Errorf("Check(%s) = %v", doc, err)
		}
	}
}

func TestCheckRefuses(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		kind error
		want string
	}{
		{"{\"SharedKeys\": 1,\n\"SharedKeys\": 2}", ErrDuplicate, "line 2: SharedKeys: duplicate member (first on line 1)"},
		{`{"a": {"b": [0, {"c": 1, "c": 2}]}}`, ErrDuplicate, "a.b[1].c: duplicate"},
		{`{"a": 1, "\u0061": 2}`, ErrDuplicate, "duplicate"},
		{`{"a": 1} {}`, ErrTrailing, "trailing"},
		{`{"a": 1`, ErrSyntax, "truncated"},
		{`{"a": 01}`, ErrSyntax, ""},
		{`{"a": tru}`, ErrSyntax, "unexpected"},
		{`{a: 1}`, ErrSyntax, "member name"},
		{`["a\x"]`, ErrSyntax, "escape"},
		{"[\"a\nb\"]", ErrSyntax, "control character"},
		{"", ErrSyntax, "empty"},
		{strings.Repeat("[", 40) + strings.Repeat("]", 40), ErrTooDeep, "32 levels"},
		{"[\"\xff\"]", ErrSyntax, "UTF-8"},
	} {
		err := Check([]byte(tc.doc), Limits{})
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check(%q) = %v; want %v containing %q", tc.doc, err, tc.kind, tc.want)
		}
	}
	if err := Check([]byte(`[1,2,3]`), Limits{MaxBytes: 3}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("size limit: %v", err)
	}
}

func TestPrepare(t *testing.T) {
	b, err := Prepare([]byte("\xef\xbb\xbf{}"))
	if err != nil || string(b) != "{}" {
		t.Fatalf("BOM: %q %v", b, err)
	}
	if _, err := PrepareExact([]byte("\xef\xbb\xbf{}")); !errors.Is(err, ErrBOM) {
		t.Fatalf("PrepareExact BOM: %v", err)
	}
	for _, wide := range []string{"\xff\xfe{\x00}\x00", "\xfe\xff\x00{\x00}", "{\x00}\x00", "\x00{\x00}"} {
		if _, err := Prepare([]byte(wide)); !errors.Is(err, ErrUTF16) || !strings.Contains(err.Error(), "save it as UTF-8") {
			t.Errorf("Prepare(%q) = %v", wide, err)
		}
	}
}

func TestUnmarshalKnown(t *testing.T) {
	var v struct{ A int }
	if err := UnmarshalKnown([]byte(`{"A":1,"B":2}`), &v, Limits{}); err == nil {
		t.Fatal("unknown member accepted")
	}
	if err := UnmarshalKnown([]byte("\xef\xbb\xbf{\"A\":1}"), &v, Limits{}); err != nil || v.A != 1 {
		t.Fatalf("%v %v", v, err)
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":"c"}]}`, `{"a":1,"a":2}`, `"\u00e9"`, `-0.5e7`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Check(b, Limits{})
		// Whatever Check passes is valid JSON to encoding/json (whose
		// Unmarshal may still refuse a value, e.g. 1e700 into a float64).
		if err == nil && !json.Valid(b) {
			t.Fatalf("Check passed %q, which encoding/json says is not JSON", b)
		}
		// What Check refuses in valid JSON, it refuses for one of its own
		// reasons, never as a syntax error.
		if err != nil && json.Valid(b) && !errors.Is(err, ErrDuplicate) && !errors.Is(err, ErrTooDeep) && !strings.Contains(err.Error(), "UTF-8") {
			t.Fatalf("Check calls valid JSON %q invalid: %v", b, err)
		}
	})
}
