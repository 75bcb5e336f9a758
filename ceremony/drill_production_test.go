//go:build !drillbuild

package ceremony

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
)

// The production build offers soft and softhsm drill tokens only, and asks
// for the drill build when virtual YubiKeys are wanted.
func TestProductionBuildHasNoVirtualYubiKeys(t *testing.T) {
	if got := DrillTokenKinds(); !slices.Equal(got, []TokenKind{SoftTokens, SoftHSMTokens}) {
		t.Errorf("the production build offers drill tokens %v, want [soft softhsm]", got)
	}
	if _, err := ParseTokenKind("vcard"); !errors.Is(err, ErrNeedsDrillBuild) {
		t.Errorf("ParseTokenKind(vcard) = %v, want ErrNeedsDrillBuild", err)
	}
	dir := filepath.Join(t.TempDir(), "drill")
	if _, err := NewDrillSession(dir, VCardTokens, 3); !errors.Is(err, ErrNeedsDrillBuild) {
		t.Errorf("NewDrillSession(vcard) = %v, want ErrNeedsDrillBuild", err)
	}
}
