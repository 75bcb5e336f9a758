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

// softHSMDrillTokens are SoftHSM2 tokens, one per custodian, in a private
// SoftHSM inside the drill folder. Their PIN is the drill PIN, handed over
// in memory only.
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
		if err := hsm.InitToken(label, "87654321", string(drillPIN)); err != nil {
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

func (t *softHSMDrillTokens) Close() error { return nil }
