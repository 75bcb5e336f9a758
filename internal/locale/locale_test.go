package locale

import (
	"os"
	"testing"
)

func TestNormalizeMapsPOSIXNames(t *testing.T) {
	for _, in := range []string{"C", "POSIX", "C.UTF-8"} {
		t.Setenv("LANG", in)
		Normalize()
		if got := os.Getenv("LANG"); got != "en_US.UTF-8" {
			t.Errorf("LANG=%s became %q", in, got)
		}
	}
	t.Setenv("LANG", "de_DE.UTF-8")
	Normalize()
	if got := os.Getenv("LANG"); got != "de_DE.UTF-8" {
		t.Errorf("a real locale was changed to %q", got)
	}
}
