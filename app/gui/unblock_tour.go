//go:build drillbuild

package gui

import (
	"fyne.io/fyne/v2"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/piv"
)

// pinTriesTour takes the last-try, blocked-PIN and PUK-unblock dialogs
// of the screenshot tour, over the recovery set-up, for a YubiKey that
// is not plugged in (nothing is sent to any token).
func (s *shell) pinTriesTour(snap func(string, func()) error) error {
	ref, _ := token.ParseURI("yubikey:serial=12345678")
	// A YubiKey manager of its own: the tour's Tokens screen left a
	// SoftHSM one on the shell.
	m := token.NewManager(piv.New(piv.Options{}))
	yk := token.Info{Kind: token.KindYubiKey, Manufacturer: "Yubico", Model: "YubiKey 5 NFC", Serial: "12345678", Ref: ref}
	reset := func() {
		for s.win.Canvas().Overlays().Top() != nil {
			s.win.Canvas().Overlays().Top().Hide()
		}
		s.recoverySetup()
	}
	if err := snap("16-last-pin-try-dialog.png", func() {
		reset()
		s.askLastTry("Alice", &token.PINError{Token: yk, What: "PIN", RetriesLeft: 1, LastRetry: true}, func(bool) {})
	}); err != nil {
		return err
	}
	if err := snap("17-pin-blocked-dialog.png", func() {
		reset()
		s.showBlocked(m, nil, "Bob", ref.String(), &token.PINError{Token: yk, What: "PIN", Blocked: true})
	}); err != nil {
		return err
	}
	err := snap("18-unblock-dialog.png", func() {
		reset()
		s.unblockDialog(m, yk, nil)
	})
	fyne.DoAndWait(func() {
		for s.win.Canvas().Overlays().Top() != nil {
			s.win.Canvas().Overlays().Top().Hide()
		}
	})
	return err
}
