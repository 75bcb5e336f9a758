//go:build drillbuild

package ceremony

import (
	"context"
	"fmt"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/piv"
	"github.com/custodian-hsm/custodian/internal/testinfra/virtualpiv"
	"github.com/custodian-hsm/custodian/internal/testinfra/virtualpiv/rig"
)

func init() {
	drillProvisioners[VCardTokens] = newVCardDrillTokens
}

// vcardDrillTokens are Custodian's virtual YubiKeys, one per custodian,
// behind a private pcscd with vpcd on loopback. Like real YubiKeys they
// are prepared before enrollment: the factory PIN, PUK and management key
// are replaced (the PIN by the drill PIN, the management key by a random
// one stored PIN-protected). Drills only: vsmartcard-vpcd never belongs on
// a ceremony machine.
type vcardDrillTokens struct {
	rig     *rig.Rig
	manager *token.Manager
	serials []string
}

func newVCardDrillTokens(_ string, n int) (DrillTokens, error) {
	if err := rig.Available(); err != nil {
		return nil, fmt.Errorf("virtual YubiKeys need pcscd and vsmartcard-vpcd (test machines only): %w", err)
	}
	r, err := rig.Start(context.Background(), rig.Options{Cards: n})
	if err != nil {
		return nil, err
	}
	// The drill's provider knows its cards by how they were made: the
	// rig's serial numbers, never the readers' names.
	prov := piv.New(piv.Options{AttestationRoots: r.AttestationRoot(), DrillSerials: r.Serials()})
	t := &vcardDrillTokens{rig: r, manager: token.NewManager(prov)}
	ctx := context.Background()
	for _, c := range r.Cards()[:n] {
		ref := &token.URI{Scheme: token.SchemeYubiKey, Path: map[string]string{"serial": fmt.Sprint(c.Serial())}}
		if err := prov.ChangePIN(ctx, ref, virtualpiv.DefaultPIN, drillPIN, false); err != nil {
			r.Close()
			return nil, fmt.Errorf("preparing virtual YubiKey %d: %w", c.Serial(), err)
		}
		if err := prov.ChangePUK(ctx, ref, virtualpiv.DefaultPUK, []byte("27182818"), false); err != nil {
			r.Close()
			return nil, fmt.Errorf("preparing virtual YubiKey %d: %w", c.Serial(), err)
		}
		if err := prov.SetRandomManagementKey(ctx, ref, token.OpenOptions{PIN: pinFunc(drillPIN)}); err != nil {
			r.Close()
			return nil, fmt.Errorf("preparing virtual YubiKey %d: %w", c.Serial(), err)
		}
		t.serials = append(t.serials, fmt.Sprint(c.Serial()))
	}
	return t, nil
}

func (t *vcardDrillTokens) Manager() *token.Manager { return t.manager }

func (t *vcardDrillTokens) Ref(i int) string {
	if i < 0 || i >= len(t.serials) {
		return ""
	}
	return "yubikey:serial=" + t.serials[i] + ";slot=9d"
}

func (t *vcardDrillTokens) Options(int) token.OpenOptions {
	return token.OpenOptions{PIN: pinFunc(drillPIN)}
}

func (t *vcardDrillTokens) WrongPIN(int) token.OpenOptions {
	return token.OpenOptions{PIN: pinFunc([]byte("000000"))}
}

func (t *vcardDrillTokens) Close() error { return t.rig.Close() }

// vcardAvailable says whether virtual YubiKeys can run on this machine.
func vcardAvailable() error { return rig.Available() }
