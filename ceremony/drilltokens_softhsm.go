package ceremony

import (
	"fmt"
	"path/filepath"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11"
	"github.com/custodian-hsm/custodian/crypto/token/pkcs11/softhsm"
)

func init() {
	drillProvisioners[SoftHSMTokens] = newSoftHSMDrillTokens
}

// drillSOPIN is the drill tokens' security-officer PIN, a fixture like
// drillPIN: handed to SoftHSM through C_InitToken, never on a command line.
var drillSOPIN = []byte("87654321")

// softHSMDrillTokens are SoftHSM2 tokens, one per custodian, in a private
// SoftHSM inside the drill folder. Their PINs are handed over in memory
// only (PKCS#11 calls in this process); the SoftHSM configuration is the
// drill's from provisioning to Close.
type softHSMDrillTokens struct {
	hsm     *softhsm.Instance
	manager *token.Manager
	labels  []string
}

func newSoftHSMDrillTokens(dir string, n int) (DrillTokens, error) {
	hsm, err := softhsm.Start(filepath.Join(dir, "DRILL-softhsm"))
	if err != nil {
		return nil, err
	}
	t := &softHSMDrillTokens{hsm: hsm, manager: token.NewManager(pkcs11.New(pkcs11.Options{ModulePath: hsm.Module, Drill: true, ConfigFile: "-"}))}
	for i := 0; i < n; i++ {
		label := fmt.Sprintf("DRILL-custodian-%d", i+1)
		if err := hsm.InitToken(label, drillSOPIN, drillPIN); err != nil {
			hsm.Close()
			return nil, err
		}
		t.labels = append(t.labels, label)
	}
	return t, nil
}

func (t *softHSMDrillTokens) Manager() *token.Manager { return t.manager }

func (t *softHSMDrillTokens) Ref(i int) string {
	if i < 0 || i >= len(t.labels) {
		return ""
	}
	return "pkcs11:token=" + t.labels[i] + "?module-path=" + t.hsm.Module
}

func (t *softHSMDrillTokens) Options(int) token.OpenOptions {
	return token.OpenOptions{PIN: pinFunc(drillPIN)}
}

func (t *softHSMDrillTokens) WrongPIN(int) token.OpenOptions {
	return token.OpenOptions{PIN: pinFunc([]byte("000000"))}
}

// Close restores the process's SoftHSM configuration: after the drill, a
// token listing sees no drill token.
func (t *softHSMDrillTokens) Close() error { return t.hsm.Close() }
