package ceremony

import (
	"context"
	"strconv"
	"strings"

	"github.com/custodian-hsm/custodian/crypto/token"
)

// TokenAction is something a person may do with a token outside a
// ceremony. Which actions a token offers follows from what its backend
// can do, so a screen never offers a YubiKey action for a PKCS#11 token.
type TokenAction string

// Token actions.
const (
	ActionEnroll        TokenAction = "enroll"
	ActionAttest        TokenAction = "attest"
	ActionChangePIN     TokenAction = "change-pin"
	ActionChangePUK     TokenAction = "change-puk"
	ActionManagementKey TokenAction = "management-key"
	ActionUnblockPIN    TokenAction = "unblock-pin" // with the PUK (UnblockPIN)
)

// TokenChoice is one token present, described for a person choosing
// where a key is generated or opened: what the GUI's token pickers and the
// CLI's `token list` show.
type TokenChoice struct {
	Info token.Info
	// Kind is the kind in words: "YubiKey", "PKCS#11 token", "key file".
	Kind string
	// Slot is the key slot a ceremony uses ("9d" on a YubiKey), or "".
	Slot string
	// PINTries is the number of PIN tries left, or "unknown" when the
	// token does not report it (never -1).
	PINTries string
	// PUKTries is the same for the PUK ("unknown" or "not applicable").
	PUKTries string
	// Drill is true for software keys and virtual cards.
	Drill bool
	// Ref is the raw reference a ceremony is given.
	Ref string
	// Health is the token's health, nil when it could not be read.
	Health *token.Health
	// Problem says why the health could not be read, or "".
	Problem string
	// Actions are what the token's backend can do.
	Actions []TokenAction
}

// Title is the line a person recognises a token by:
// "YubiKey 5 NFC · serial 12345678 · slot 9d".
func (c TokenChoice) Title() string {
	// The model alone: the manufacturer is in Info.String() and would
	// make the line too long to scan.
	name := c.Info.Model
	if name == "" {
		name = c.Kind
	}
	parts := []string{name}
	if c.Info.Label != "" {
		parts = append(parts, "label "+strconv.Quote(c.Info.Label))
	}
	if c.Info.Serial != "" {
		parts = append(parts, "serial "+c.Info.Serial)
	}
	if c.Slot != "" {
		parts = append(parts, "slot "+c.Slot)
	}
	return strings.Join(parts, " · ")
}

// Detail is the second line: kind, PIN tries, drill or production.
func (c TokenChoice) Detail() string {
	use := "production"
	if c.Drill {
		use = "DRILL only"
	}
	d := c.Kind + " · PIN tries left: " + c.PINTries + " · " + use
	if c.Problem != "" {
		d += " · health: " + c.Problem
	}
	return d
}

// Can tells whether the token offers action.
func (c TokenChoice) Can(a TokenAction) bool {
	for _, x := range c.Actions {
		if x == a {
			return true
		}
	}
	return false
}

// TriesText says a retry counter for people: "unknown" for -1.
func TriesText(n int) string {
	if n < 0 {
		return "unknown"
	}
	return strconv.Itoa(n)
}

// kindName is a token kind in words.
func kindName(k token.Kind) string {
	switch k {
	case token.KindYubiKey:
		return "YubiKey"
	case token.KindPKCS11:
		return "PKCS#11 token"
	case token.KindSoftware:
		return "key file"
	}
	return string(k)
}

// ListTokenChoices lists the tokens m finds, each with its health (read
// without a PIN) and the actions its backend offers. Errors are the
// backends' notes ("no PC/SC daemon"), shown next to the list.
func ListTokenChoices(ctx context.Context, m *token.Manager) ([]TokenChoice, []error) {
	infos, errs := m.List(ctx)
	var out []TokenChoice
	for _, in := range infos {
		if in.Ref == nil {
			continue
		}
		h, err := m.Health(ctx, in.Ref.String(), token.OpenOptions{})
		var hp *token.Health
		if err == nil {
			hp = &h
		}
		c := DescribeToken(in, hp, err)
		c.Actions = tokenActions(m, in)
		out = append(out, c)
	}
	return out, errs
}

// DescribeToken describes one token; health may be nil, with healthErr
// saying why.
func DescribeToken(in token.Info, health *token.Health, healthErr error) TokenChoice {
	// Drill or production is the admission policy's decision on typed
	// facts (KeyFacts.Class), the same one a ceremony makes.
	drill := KeyFacts{Ref: in.Ref, Token: in}.Class() == DrillKey
	c := TokenChoice{Info: in, Kind: kindName(in.Kind), Drill: drill, PINTries: "unknown", PUKTries: "unknown", Health: health}
	if in.Ref != nil {
		c.Ref = in.Ref.String()
	}
	if in.Kind == token.KindYubiKey {
		// The slot the ceremonies use when the reference names none.
		c.Slot = "9d"
	}
	if in.Kind != token.KindYubiKey {
		c.PUKTries = "not applicable"
	}
	if health != nil {
		c.PINTries = TriesText(health.PINRetries)
		if in.Kind == token.KindYubiKey {
			c.PUKTries = TriesText(health.PUKRetries)
		}
	}
	if healthErr != nil {
		c.Problem = healthErr.Error()
	}
	return c
}

// tokenActions asks the token's backend what it can do.
func tokenActions(m *token.Manager, in token.Info) []TokenAction {
	p, err := m.Provider(in.Ref.Scheme)
	if err != nil {
		return nil
	}
	var acts []TokenAction
	if in.Kind != token.KindSoftware {
		// Key files are made by drills and `token enroll --file`; the
		// Tokens screen is for hardware.
		acts = append(acts, ActionEnroll, ActionAttest)
	}
	if _, ok := p.(token.CredentialChanger); ok {
		acts = append(acts, ActionChangePIN, ActionChangePUK)
	}
	if _, ok := p.(token.ManagementKeySetter); ok {
		acts = append(acts, ActionManagementKey)
	}
	if _, ok := p.(pinUnblocker); ok {
		acts = append(acts, ActionUnblockPIN)
	}
	return acts
}
