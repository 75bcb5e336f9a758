package pkcs11

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ThalesGroup/crypto11"
	p11 "github.com/miekg/pkcs11"

	"github.com/custodian-hsm/custodian/crypto/jwe"
	"github.com/custodian-hsm/custodian/crypto/oaep"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// login opens a crypto11 context on the token, logged in with the PIN from
// opts. The token's flags are read first: a locked PIN is reported without
// trying, and with one try left the PIN is tried only with AllowLastRetry.
func (p *Provider) login(ctx context.Context, t slotToken, opts token.OpenOptions, reason string) (*crypto11.Context, error) {
	info := t.tokenInfo()
	h := healthOf(t.info.Flags)
	if h.PINRetries == 0 {
		return nil, &token.PINError{Token: info, What: "PIN", RetriesLeft: 0, Blocked: true}
	}
	if h.PINRetries == 1 && !opts.AllowLastRetry {
		return nil, &token.PINError{Token: info, What: "PIN", RetriesLeft: 1, LastRetry: true}
	}
	if opts.PIN == nil {
		return nil, fmt.Errorf("the PIN of %s is needed and nobody can be asked", info)
	}
	pin, err := opts.PIN(ctx, token.PINRequest{Token: info, What: "PIN", Reason: reason, RetriesLeft: h.PINRetries})
	if err != nil {
		return nil, err
	}
	release(t.module)
	// By slot, never by serial or label: two tokens may share them (PIV
	// cards without a CHUID all report serial 00000000 through OpenSC), and
	// the PIN must reach the token find selected and no other.
	slot := int(t.slot)
	c11, err := crypto11.Configure(&crypto11.Config{Path: t.module, SlotNumber: &slot, Pin: string(pin)})
	clear(pin)
	if err == nil {
		inUse[t.module]++
		return c11, nil
	}
	{
		if isCKR(err, p11.CKR_PIN_INCORRECT) || isCKR(err, p11.CKR_PIN_LOCKED) || isCKR(err, p11.CKR_PIN_LEN_RANGE) {
			left := -1
			blocked := isCKR(err, p11.CKR_PIN_LOCKED)
			if tk, err2 := p.refresh(t); err2 == nil {
				h := healthOf(tk.info.Flags)
				left, blocked = h.PINRetries, blocked || h.PINRetries == 0
			}
			return nil, &token.PINError{Token: info, What: "PIN", RetriesLeft: left, Blocked: blocked}
		}
		return nil, fmt.Errorf("logging in to %s: %w", info, err)
	}
}

// closeC11 closes a crypto11 context opened by login.
func closeC11(c11 *crypto11.Context, module string) error {
	inUse[module]--
	return c11.Close()
}

// refresh re-reads a token's info (flags change after a wrong PIN).
func (p *Provider) refresh(t slotToken) (slotToken, error) {
	ctx, err := module(t.module)
	if err != nil {
		return t, err
	}
	ti, err := ctx.GetTokenInfo(t.slot)
	if err != nil {
		return t, err
	}
	t.info = ti
	return t, nil
}

// Enroll implements token.Provider: an RSA key pair generated on the token
// with the least capability a custodian key needs, a self-signed
// certificate signed on the token, stored next to the key with the same
// CKA_ID.
func (p *Provider) Enroll(ctx context.Context, ref *token.URI, req token.EnrollRequest, opts token.OpenOptions) (*token.Enrollment, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	t, err := p.find(ref)
	if err != nil {
		return nil, err
	}
	if err := refuseYKCS11(t); err != nil {
		return nil, err
	}
	c11, err := p.login(ctx, t, opts, "generate the custodian key of "+req.Name)
	if err != nil {
		return nil, err
	}
	defer closeC11(c11, t.module)
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	req.Report(fmt.Sprintf("generating a %d-bit RSA key pair on %s", req.Bits, t.tokenInfo()))
	kp, err := generate(c11, t, id, req)
	if err != nil {
		return nil, err
	}
	req.Report("signing the self-signed certificate on the token")
	cert, err := token.SelfSignCertificate(kp, req, time.Now(), nil)
	if err != nil {
		return nil, err
	}
	certAttrs, _ := crypto11.NewAttributeSetWithIDAndLabel(id, []byte(req.Label))
	req.Report("storing the certificate next to the key")
	if err := c11.ImportCertificateWithAttributes(certAttrs, cert); err != nil {
		return nil, fmt.Errorf("storing the certificate on %s: %w", t.tokenInfo(), err)
	}
	att, err := attest(c11, kp, t)
	if err != nil {
		return nil, err
	}
	u := t.tokenInfo().Ref.With("id", string(id))
	return &token.Enrollment{Ref: u, Token: t.tokenInfo(), Certificate: cert, Attestation: att}, nil
}

// refuseYKCS11 sends YubiKeys to the yubikey: backend. Yubico's ykcs11
// wants its own one-byte key IDs and a management-key login to generate
// keys (CKR_ATTRIBUTE_VALUE_INVALID otherwise), and through it a YubiKey's
// attestation, which the yubikey: backend verifies, would be lost.
func refuseYKCS11(t slotToken) error {
	yk, err := isYKCS11(t.module)
	if err != nil {
		return err
	}
	if yk {
		return fmt.Errorf("%s is a YubiKey behind Yubico's ykcs11 module: enroll it with a yubikey:serial=%s;slot=9d reference instead, which generates the key through PIV and verifies its attestation: %w",
			t.tokenInfo(), strings.TrimLeft(strings.TrimSpace(t.info.SerialNumber), "0"), token.ErrUnsupported)
	}
	return nil
}

// isYKCS11 recognises Yubico's module by its C_GetInfo identity.
func isYKCS11(path string) (bool, error) {
	ctx, err := module(path)
	if err != nil {
		return false, err
	}
	li, err := ctx.GetInfo()
	return err == nil && strings.HasPrefix(strings.TrimSpace(li.ManufacturerID), "Yubico"), nil
}

// generate makes the key pair. The private key may decrypt and unwrap
// (what the security domain needs), is sensitive, never extractable, not
// copyable and not modifiable; its label is neutral (labels are readable
// without the PIN) and CKA_SUBJECT names the certificate's subject.
//
// CKA_SIGN stays on. The self-signed certificate needs one signature, and
// turning CKA_SIGN off afterwards would need CKA_MODIFIABLE true, which
// would let anyone with the PIN change the other attributes too. Nor would
// it take anything away: a token that decrypts with raw RSA
// (CKM_RSA_X_509, the fallback for tokens without OAEP-SHA256) can compute
// any signature with the key anyway.
func generate(c11 *crypto11.Context, t slotToken, id []byte, req token.EnrollRequest) (crypto11.Signer, error) {
	label := []byte(req.Label)
	subject, err := asn1.Marshal(certSubject(req).ToRDNSequence())
	if err != nil {
		return nil, err
	}
	pub, err := crypto11.NewAttributeSetWithIDAndLabel(id, label)
	if err != nil {
		return nil, err
	}
	pub.AddIfNotPresent([]*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_ENCRYPT, true),
		p11.NewAttribute(p11.CKA_WRAP, true),
		p11.NewAttribute(p11.CKA_VERIFY, true),
	})
	base := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_DECRYPT, true),
		p11.NewAttribute(p11.CKA_UNWRAP, true),
		p11.NewAttribute(p11.CKA_SIGN, true),
		p11.NewAttribute(p11.CKA_SUBJECT, subject),
		p11.NewAttribute(p11.CKA_MODIFIABLE, false),
	}
	// CKA_COPYABLE is PKCS#11 2.40; older tokens reject the attribute, and
	// then the key is made without it.
	for _, extra := range [][]*p11.Attribute{{p11.NewAttribute(p11.CKA_COPYABLE, false)}, nil} {
		priv, _ := crypto11.NewAttributeSetWithIDAndLabel(id, label)
		priv.AddIfNotPresent(append(append([]*p11.Attribute(nil), base...), extra...))
		kp, err := c11.GenerateRSAKeyPairWithAttributes(pub, priv, req.Bits)
		if err == nil {
			return kp, nil
		}
		switch {
		case extra != nil && (isCKR(err, p11.CKR_ATTRIBUTE_TYPE_INVALID) || isCKR(err, p11.CKR_ATTRIBUTE_VALUE_INVALID) || isCKR(err, p11.CKR_TEMPLATE_INCONSISTENT)):
			continue
		case isCKR(err, p11.CKR_KEY_SIZE_RANGE) || isCKR(err, p11.CKR_TEMPLATE_INCONSISTENT):
			return nil, fmt.Errorf("%s cannot generate a %d-bit RSA key: %w", t.tokenInfo(), req.Bits, token.ErrUnsupported)
		default:
			return nil, fmt.Errorf("generating the key on %s: %w", t.tokenInfo(), err)
		}
	}
	return nil, fmt.Errorf("generating the key on %s failed", t.tokenInfo())
}

// certSubject is the subject SelfSignCertificate writes.
func certSubject(req token.EnrollRequest) pkix.Name {
	n := pkix.Name{CommonName: req.Name, Organization: []string{"Custodian"}}
	if req.CeremonyID != "" {
		n.OrganizationalUnit = []string{req.CeremonyID}
	}
	return n
}

// attest reads the key's own claims about where it was made. PKCS#11 has
// no cryptographic attestation: these attributes are the token's word
// (OpenSC's PIV driver claims them even for a key imported from a file),
// so the result is AttestClaimed at best, never verified. A token that
// itself says the key was imported or can leave is AttestRejected.
func attest(c11 *crypto11.Context, key crypto11.Signer, t slotToken) (*token.Attestation, error) {
	types := []crypto11.AttributeType{p11.CKA_LOCAL, p11.CKA_NEVER_EXTRACTABLE, p11.CKA_ALWAYS_SENSITIVE, p11.CKA_SENSITIVE, p11.CKA_EXTRACTABLE}
	names := []string{"CKA_LOCAL", "CKA_NEVER_EXTRACTABLE", "CKA_ALWAYS_SENSITIVE", "CKA_SENSITIVE", "CKA_EXTRACTABLE"}
	attrs, err := c11.GetAttributes(key, types)
	if err != nil {
		return nil, fmt.Errorf("reading the key's attributes: %w", err)
	}
	info := t.tokenInfo()
	a := &token.Attestation{Kind: token.KindPKCS11, Status: token.AttestClaimed, Facts: []token.Fact{
		{Name: "token", Value: fmt.Sprintf("%s %s serial %s firmware %s", info.Manufacturer, info.Model, info.Serial, info.Firmware)},
		{Name: "evidence", Value: "claimed by the token's own attributes, not verified (PKCS#11 has no cryptographic attestation)"},
	}}
	for i, typ := range types {
		v := false
		if at, ok := attrs[typ]; ok && len(at.Value) == 1 {
			v = at.Value[0] == 1
		}
		a.Facts = append(a.Facts, token.Fact{Name: names[i] + " (claimed)", Value: fmt.Sprint(v)})
		if want := typ != p11.CKA_EXTRACTABLE; v != want {
			a.Status = token.AttestRejected
		}
	}
	if a.Status == token.AttestRejected {
		a.Facts = append(a.Facts, token.Fact{Name: "finding", Value: "the token itself says this key was not generated on it or can leave it"})
	}
	return a, nil
}

// Key is a custodian key on a PKCS#11 token.
type Key struct {
	p    *Provider
	t    slotToken
	c11  *crypto11.Context
	kp   crypto11.SignerDecrypter
	cert *x509.Certificate
	id   []byte
	ref  *token.URI
	path string
}

// OpenKey implements token.Provider. The reference names the key by id=
// or object=; a token holding exactly one custodian key pair with a
// certificate needs neither.
func (p *Provider) OpenKey(ctx context.Context, ref *token.URI, opts token.OpenOptions) (token.Key, error) {
	mu.Lock()
	defer mu.Unlock()
	t, err := p.find(ref)
	if err != nil {
		return nil, err
	}
	c11, err := p.login(ctx, t, opts, "open your share")
	if err != nil {
		return nil, err
	}
	id, label := []byte(ref.Get("id")), []byte(ref.Get("object"))
	if len(id) == 0 {
		id = nil
	}
	if len(label) == 0 {
		label = nil
	}
	k, err := findKey(c11, id, label, t)
	if err != nil {
		closeC11(c11, t.module)
		return nil, err
	}
	k.p, k.t, k.c11 = p, t, c11
	k.ref = t.tokenInfo().Ref.With("id", string(k.id))
	return k, nil
}

func findKey(c11 *crypto11.Context, id, label []byte, t slotToken) (*Key, error) {
	var pairs []crypto11.SignerDecrypter
	var err error
	if id == nil && label == nil {
		pairs, err = c11.FindKeyRSAPairsWithAttributes(crypto11.NewAttributeSet())
	} else {
		pairs, err = c11.FindRSAKeyPairs(id, label)
	}
	if err != nil {
		return nil, fmt.Errorf("looking for the key on %s: %w", t.tokenInfo(), err)
	}
	var found []*Key
	for _, kp := range pairs {
		attrs, err := c11.GetAttributes(kp, []crypto11.AttributeType{p11.CKA_ID})
		if err != nil {
			continue
		}
		kid := attrs[p11.CKA_ID].Value
		cert, err := c11.FindCertificate(kid, nil, nil)
		if err != nil || cert == nil {
			continue
		}
		pub, ok := kp.Public().(*rsa.PublicKey)
		if !ok || !token.SamePublicKey(cert, pub) {
			continue
		}
		found = append(found, &Key{kp: kp, cert: cert, id: kid})
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("no custodian key (an RSA key pair with its certificate) on %s matches: %w", t.tokenInfo(), token.ErrNotFound)
	}
	return nil, fmt.Errorf("%d custodian keys on %s match: name one with id= or object= in the reference", len(found), t.tokenInfo())
}

// Ref implements token.Key.
func (k *Key) Ref() *token.URI { return k.ref }

// Token implements token.Key.
func (k *Key) Token() token.Info { return k.t.tokenInfo() }

// Certificate implements token.Key.
func (k *Key) Certificate() *x509.Certificate { return k.cert }

// Public implements token.Key.
func (k *Key) Public() *rsa.PublicKey { return k.kp.Public().(*rsa.PublicKey) }

// DecryptPath implements token.Key.
func (k *Key) DecryptPath() string { return k.path }

// Attest implements token.Key.
func (k *Key) Attest(context.Context) (*token.Attestation, error) {
	mu.Lock()
	defer mu.Unlock()
	return attest(k.c11, k.kp, k.t)
}

// Close implements token.Key.
func (k *Key) Close() error {
	mu.Lock()
	defer mu.Unlock()
	if k.c11 == nil {
		return nil
	}
	err := closeC11(k.c11, k.t.module)
	k.c11 = nil
	return err
}

// refusesMechanism recognises a token that does not do a mechanism or its
// parameters (SoftHSM answers OAEP-SHA256 with CKR_ARGUMENTS_BAD).
func refusesMechanism(err error) bool {
	for _, code := range []uint{p11.CKR_ARGUMENTS_BAD, p11.CKR_MECHANISM_INVALID, p11.CKR_MECHANISM_PARAM_INVALID, p11.CKR_FUNCTION_NOT_SUPPORTED} {
		if isCKR(err, code) {
			return true
		}
	}
	return false
}

// DecryptKey implements token.Key (jwe.KeyDecrypter): OAEP on the token
// when it does it, otherwise raw RSA on the token and OAEP decoded here.
func (k *Key) DecryptKey(alg string, encryptedKey []byte) ([]byte, error) {
	mu.Lock()
	defer mu.Unlock()
	if k.c11 == nil {
		return nil, errors.New("the key is closed")
	}
	switch alg {
	case jwe.AlgRSAOAEP256, jwe.AlgRSAOAEP:
		h := crypto.SHA256
		if alg == jwe.AlgRSAOAEP {
			h = crypto.SHA1
		}
		out, err := k.kp.Decrypt(nil, encryptedKey, &rsa.OAEPOptions{Hash: h, MGFHash: h})
		if err == nil {
			k.path = "CKM_RSA_PKCS_OAEP on the token"
			return out, nil
		}
		if !refusesMechanism(err) {
			return nil, fmt.Errorf("decrypting on %s: %w", k.t.tokenInfo(), err)
		}
		raw, err := k.rawRSA(encryptedKey)
		if err != nil {
			return nil, err
		}
		defer clear(raw)
		k.path = "CKM_RSA_X_509 on the token, OAEP decoded in Custodian"
		return oaep.DecodeSize(h, raw, k.Public().Size(), nil)
	case jwe.AlgRSA15:
		out, err := k.kp.Decrypt(nil, encryptedKey, &rsa.PKCS1v15DecryptOptions{})
		if err != nil {
			return nil, fmt.Errorf("decrypting on %s: %w", k.t.tokenInfo(), err)
		}
		k.path = "CKM_RSA_PKCS on the token"
		return out, nil
	}
	return nil, fmt.Errorf("unsupported key management algorithm %q", alg)
}

// rawRSA asks the token for c^d mod n (CKM_RSA_X_509) in a session of our
// own on the module crypto11 is logged in to (login is per application,
// so the session can use the private key).
func (k *Key) rawRSA(c []byte) ([]byte, error) {
	ctx, err := module(k.t.module)
	if err != nil {
		return nil, err
	}
	s, err := ctx.OpenSession(k.t.slot, p11.CKF_SERIAL_SESSION)
	if err != nil {
		return nil, fmt.Errorf("opening a session on %s: %w", k.t.tokenInfo(), err)
	}
	defer ctx.CloseSession(s)
	tmpl := []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY), p11.NewAttribute(p11.CKA_ID, k.id)}
	if err := ctx.FindObjectsInit(s, tmpl); err != nil {
		return nil, err
	}
	objs, _, err := ctx.FindObjects(s, 2)
	ctx.FindObjectsFinal(s)
	if err != nil || len(objs) != 1 {
		return nil, fmt.Errorf("the private key is not visible for raw RSA on %s (%d found): %v", k.t.tokenInfo(), len(objs), err)
	}
	if err := ctx.DecryptInit(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_RSA_X_509, nil)}, objs[0]); err != nil {
		return nil, fmt.Errorf("%s does not do raw RSA either (%v): it cannot open RSA-OAEP-256 shares", k.t.tokenInfo(), err)
	}
	out, err := ctx.Decrypt(s, c)
	if err != nil {
		return nil, fmt.Errorf("raw RSA on %s: %w", k.t.tokenInfo(), err)
	}
	return out, nil
}
