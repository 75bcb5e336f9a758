//go:build drillbuild

package ceremony

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/token"
)

// Virtual-YubiKey drills run in a subprocess each: one private pcscd per
// process.
func TestDrillVirtualYubiKeys(t *testing.T) {
	if os.Getenv("CUSTODIAN_VCARD_CHILD") == "" {
		for _, c := range []string{"3,2,", "5,3,faults"} {
			cmd := exec.Command(os.Args[0], "-test.run=^TestDrillVirtualYubiKeys$", "-test.v")
			cmd.Env = append(os.Environ(), "CUSTODIAN_VCARD_CHILD="+c)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("virtual-YubiKey drill %s: %v\n%s", c, err, out)
			}
			if strings.Contains(string(out), "--- SKIP") {
				t.Skipf("virtual YubiKeys unavailable:\n%s", out)
			}
		}
		return
	}
	if err := vcardAvailable(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("virtual YubiKeys are required under CI: %v", err)
		}
		t.Skip(err)
	}
	var n, m int
	var faults string
	fmt.Sscanf(strings.ReplaceAll(os.Getenv("CUSTODIAN_VCARD_CHILD"), ",", " "), "%d %d %s", &n, &m, &faults)
	f := Faults{}
	if faults == "faults" {
		f = Faults{WrongPIN: true, CorruptShare: true}
	}
	dir := filepath.Join(t.TempDir(), "drill")
	sockBefore, hadSock := os.LookupEnv("PCSCLITE_CSOCK_NAME")
	report, err := RunDrill(context.Background(), DrillConfig{Custodians: n, Quorum: m, Tokens: VCardTokens, Dir: dir, Faults: f})
	if err != nil || !report.Accepted {
		t.Fatalf("(%d,%d): %v\n%v", n, m, err, report)
	}
	// The drill's private pcscd is gone and the socket variable is back.
	if sock, had := os.LookupEnv("PCSCLITE_CSOCK_NAME"); sock != sockBefore || had != hadSock {
		t.Errorf("after the drill PCSCLITE_CSOCK_NAME=%q (set: %v), before %q (set: %v)", sock, had, sockBefore, hadSock)
	}
	// libpcsclite keeps the socket path it first read for the life of the
	// process, so this process's PC/SC now reaches no daemon at all: a
	// production listing shows no YubiKey, least of all a drill's.
	infos, _ := Tokens().List(context.Background())
	for _, i := range infos {
		if i.Kind == token.KindYubiKey {
			t.Errorf("after the drill a production listing shows the YubiKey %s", i)
		}
	}
	if f.WrongPIN && !strings.Contains(report.String(), "wrong PIN") {
		t.Errorf("wrong-PIN fault not reported:\n%s", report)
	}
	assertDrillNames(t, dir)
	// The tokens are gone with the rig, so the scan looks for the PINs and
	// the transcript's chain; shares are scanned in the soft and SoftHSM
	// drills, which write the same files.
	scanFor(t, dir, [][]byte{drillPIN, []byte("27182818")})
}

// The drill build adds virtual YubiKeys to the drill token kinds.
func TestDrillBuildOffersVirtualYubiKeys(t *testing.T) {
	if got := DrillTokenKinds(); !slices.Equal(got, []TokenKind{SoftTokens, SoftHSMTokens, VCardTokens}) {
		t.Errorf("the drill build offers drill tokens %v, want [soft softhsm vcard]", got)
	}
	if k, err := ParseTokenKind("vcard"); err != nil || k != VCardTokens {
		t.Errorf("ParseTokenKind(vcard) = %v, %v", k, err)
	}
}
