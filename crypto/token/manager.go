package token

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/custodian-hsm/custodian/internal/safefile"
)

// Manager dispatches references to the provider of their scheme, so callers
// handle "pkcs11:", "yubikey:" and "file:" references alike.
type Manager struct {
	providers map[string]Provider
}

// NewManager returns a manager over the given providers.
func NewManager(providers ...Provider) *Manager {
	m := &Manager{providers: map[string]Provider{}}
	for _, p := range providers {
		m.providers[p.Scheme()] = p
	}
	return m
}

// Provider returns the provider of a scheme.
func (m *Manager) Provider(scheme string) (Provider, error) {
	p, ok := m.providers[scheme]
	if !ok {
		return nil, fmt.Errorf("no %s token support in this build", scheme)
	}
	return p, nil
}

// resolve parses a reference and finds the provider of its scheme.
func (m *Manager) resolve(ref string) (*URI, Provider, error) {
	u, err := ParseURI(ref)
	if err != nil {
		return nil, nil, err
	}
	p, err := m.Provider(u.Scheme)
	if err != nil {
		return nil, nil, err
	}
	return u, p, nil
}

// List lists the tokens of every provider. A provider that fails (no
// pcscd, no PKCS#11 module configured) does not hide the others: its error
// is returned alongside.
func (m *Manager) List(ctx context.Context) ([]Info, []error) {
	var infos []Info
	var errs []error
	for _, scheme := range []string{SchemeYubiKey, SchemePKCS11, SchemeFile} {
		p, ok := m.providers[scheme]
		if !ok {
			continue
		}
		l, err := p.List(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("listing %s tokens: %w", scheme, err))
		}
		infos = append(infos, l...)
	}
	return infos, errs
}

// Describer is implemented by providers that can identify the one token
// a reference names without logging in, so that a ceremony's admission
// policy can refuse a token before any PIN is asked.
type Describer interface {
	Describe(ctx context.Context, ref *URI) (Info, error)
}

// Describe parses a reference and identifies its token without logging
// in. A provider that cannot describe returns what the reference says.
func (m *Manager) Describe(ctx context.Context, ref string) (*URI, Info, error) {
	u, p, err := m.resolve(ref)
	if err != nil {
		return nil, Info{}, err
	}
	d, ok := p.(Describer)
	if !ok {
		return u, Info{Kind: KindOf(u), Ref: u, Serial: u.Get("serial"), Label: u.Get("token")}, nil
	}
	info, err := d.Describe(ctx, u)
	if info.Kind == "" {
		info.Kind = KindOf(u)
	}
	return u, info, err
}

// KindOf is the token kind a reference's parsed scheme names.
func KindOf(u *URI) Kind {
	switch u.Scheme {
	case SchemeYubiKey:
		return KindYubiKey
	case SchemePKCS11:
		return KindPKCS11
	}
	return KindSoftware
}

// OpenKey opens the key a reference names. A pin-source=file:PATH attribute
// takes the PIN from that file (for automation), otherwise opts.PIN asks.
func (m *Manager) OpenKey(ctx context.Context, ref string, opts OpenOptions) (Key, error) {
	u, p, err := m.resolve(ref)
	if err != nil {
		return nil, err
	}
	opts, err = withPINSource(u, opts)
	if err != nil {
		return nil, err
	}
	return p.OpenKey(ctx, u, opts)
}

// Enroll generates a custodian key on the token a reference names.
func (m *Manager) Enroll(ctx context.Context, ref string, req EnrollRequest, opts OpenOptions) (*Enrollment, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	u, p, err := m.resolve(ref)
	if err != nil {
		return nil, err
	}
	opts, err = withPINSource(u, opts)
	if err != nil {
		return nil, err
	}
	return p.Enroll(ctx, u, req, opts)
}

// Health reports the health of the token a reference names.
func (m *Manager) Health(ctx context.Context, ref string, opts OpenOptions) (Health, error) {
	u, p, err := m.resolve(ref)
	if err != nil {
		return Health{}, err
	}
	opts, err = withPINSource(u, opts)
	if err != nil {
		return Health{}, err
	}
	return p.Health(ctx, u, opts)
}

// withPINSource replaces opts.PIN by a reader of the pin-source file, when
// the reference names one. Only file: sources are supported: a PIN on the
// command line or in the environment would leak into history and /proc.
func withPINSource(u *URI, opts OpenOptions) (OpenOptions, error) {
	src, ok := u.Query["pin-source"]
	if !ok {
		return opts, nil
	}
	path, ok := strings.CutPrefix(src, "file:")
	if !ok {
		// RFC 7512 allows a bare path.
		path = src
	}
	if path == "" {
		return opts, errors.New("pin-source names no file")
	}
	opts.PIN = func(ctx context.Context, req PINRequest) ([]byte, error) {
		return ReadPINFile(path)
	}
	return opts, nil
}

// ReadPINFile reads a PIN from a file, trimming one trailing newline. The
// file must not be readable by others.
func ReadPINFile(path string) ([]byte, error) {
	// Opened without blocking and checked on the open file: a FIFO given
	// as the PIN source would otherwise hang the command.
	f, st, err := safefile.OpenInput(path, 256)
	if errors.Is(err, safefile.ErrTooLarge) {
		return nil, fmt.Errorf("PIN source %s is over 256 bytes: that is not a PIN", path)
	}
	if err != nil {
		return nil, fmt.Errorf("the PIN source: %w", err)
	}
	defer f.Close()
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("PIN source %s is readable by others (mode %v): chmod 600 it", path, st.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, 257))
	if err != nil {
		return nil, fmt.Errorf("reading the PIN source: %w", err)
	}
	trimmed := bytes.TrimRight(b, "\r\n")
	pin := append([]byte(nil), trimmed...)
	WipeBytes(b)
	if len(pin) == 0 {
		return nil, fmt.Errorf("PIN source %s is empty", path)
	}
	return pin, nil
}

// CredentialChanger is implemented by providers whose tokens' PIN and PUK
// Custodian can change (YubiKeys). PKCS#11 tokens change PINs with their
// vendor's tools.
type CredentialChanger interface {
	ChangePIN(ctx context.Context, ref *URI, current, next []byte, allowLastRetry bool) error
	ChangePUK(ctx context.Context, ref *URI, current, next []byte, allowLastRetry bool) error
}

// ManagementKeySetter is implemented by providers that can replace a
// factory management key with a random one stored PIN-protected.
type ManagementKeySetter interface {
	SetRandomManagementKey(ctx context.Context, ref *URI, opts OpenOptions) error
}

// ChangeCredential changes a token's PIN (what = "PIN") or PUK ("PUK").
// The caller wipes both slices.
func (m *Manager) ChangeCredential(ctx context.Context, ref, what string, current, next []byte, allowLastRetry bool) error {
	u, p, err := m.resolve(ref)
	if err != nil {
		return err
	}
	cc, ok := p.(CredentialChanger)
	if !ok {
		return fmt.Errorf("%s tokens' %s cannot be changed from Custodian: use the token vendor's tool: %w", u.Scheme, what, ErrUnsupported)
	}
	switch what {
	case "PIN":
		return cc.ChangePIN(ctx, u, current, next, allowLastRetry)
	case "PUK":
		return cc.ChangePUK(ctx, u, current, next, allowLastRetry)
	}
	return fmt.Errorf("unknown credential %q: PIN or PUK", what)
}

// SetRandomManagementKey replaces a token's management key by a random
// one stored PIN-protected on the token.
func (m *Manager) SetRandomManagementKey(ctx context.Context, ref string, opts OpenOptions) error {
	u, p, err := m.resolve(ref)
	if err != nil {
		return err
	}
	ms, ok := p.(ManagementKeySetter)
	if !ok {
		return fmt.Errorf("%s tokens have no management key Custodian can set: %w", u.Scheme, ErrUnsupported)
	}
	return ms.SetRandomManagementKey(ctx, u, opts)
}
