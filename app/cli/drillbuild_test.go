package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony/identity"
)

// `custodian version` says DRILL BUILD exactly in the drill build.
func TestVersionSaysDrillBuild(t *testing.T) {
	out := mustRun(t, "version")
	if got := strings.Contains(out, "DRILL BUILD"); got != identity.DrillBuild {
		t.Errorf("DrillBuild=%v but `custodian version` printed %q", identity.DrillBuild, out)
	}
}

// The production build refuses `drill run --tokens vcard` as bad usage,
// naming the drill build; the drill build accepts the kind (and fails, if
// at all, only for want of pcscd and vpcd).
func TestDrillRunVCardNeedsTheDrillBuild(t *testing.T) {
	if identity.DrillBuild {
		t.Skip("the drill build has virtual YubiKeys (TestDrillVirtualYubiKeys in ceremony runs them)")
	}
	dir := filepath.Join(t.TempDir(), "drill")
	_, errOut, code := run(t, "drill", "run", "--tokens", "vcard", "--dir", dir)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	last := lines[len(lines)-1]
	if code != 2 || !strings.HasPrefix(last, "custodian: ") || !strings.Contains(last, "make build-drill") {
		t.Errorf("drill run --tokens vcard: exit %d, last stderr line %q; want exit 2 naming make build-drill", code, last)
	}
}
