package filekind

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/custodian-hsm/custodian/crypto/sd"
)

// The Azure formats are checked by crypto/sd, the same readers the
// ceremonies use, so that "filekind says it is fine" and "the ceremony
// accepts it" never disagree.

// sdInvalid wraps a crypto/sd error, dropping its "security domain file:"
// prefix, which the "looks like a security domain file but" sentence
// already says.
func sdInvalid(err error) error {
	var fe *sd.FormatError
	if errors.As(err, &fe) {
		msg := fe.Err.Error()
		if fe.Where != "" {
			msg = fe.Where + ": " + msg
		}
		return invalidError{err: err, msg: msg}
	}
	return invalid(err)
}

func detectSD(data []byte) Result {
	f, err := sd.ParseFile(data)
	if err != nil {
		return Result{Kind: SecurityDomain, Err: sdInvalid(err)}
	}
	return Result{Kind: SecurityDomain, Summary: fmt.Sprintf("%s, quorum %d, %s (%s)",
		plural(len(f.SharedKeys.EncShares), "share"), f.SharedKeys.Required,
		plural(len(f.EncData.Data), "EncData item"), itemTags(f.EncData))}
}

func itemTags(e sd.EncData) string {
	var t []string
	for _, d := range e.Data {
		t = append(t, d.Tag)
	}
	return strings.Join(t, ", ")
}

func detectRestoreBlob(data []byte) Result {
	b, err := sd.ParseRestoreBlob(data)
	if err != nil {
		return Result{Kind: RestoreBlob, Err: sdInvalid(err)}
	}
	// Shown as hex, the way the exchange key's SHA-256 is shown, so the
	// two can be compared by eye.
	target := b.WrappedKey.X5tS256
	if raw, err := base64.RawURLEncoding.DecodeString(target); err == nil {
		target = hex.EncodeToString(raw)
	}
	return Result{Kind: RestoreBlob, Summary: fmt.Sprintf("%s (%s), wrapped for the exchange key with SHA-256 %s",
		plural(len(b.EncData.Data), "EncData item"), itemTags(b.EncData), target)}
}

// detectExchangeKey checks an exchange key; form says why the file was
// taken for one ("" to use the reader's own name for the form).
func detectExchangeKey(data []byte, form string) Result {
	ex, err := sd.ParseExchangeKey(data)
	if err != nil {
		return Result{Kind: ExchangeKey, Err: sdInvalid(err)}
	}
	if form == "" {
		form = ex.Form
	}
	return Result{Kind: ExchangeKey, Summary: describeCert(ex.Certificate) + " (" + form + "); compare this SHA-256 with what the HSM returned"}
}

func detectCertificate(data []byte, form string) Result {
	c, err := sd.ParseCertificate(data)
	if err != nil {
		return Result{Kind: Certificate, Err: sdInvalid(err)}
	}
	if isExchangeCert(c) {
		return detectExchangeKey(data, form)
	}
	return Result{Kind: Certificate, Summary: describeCert(c) + " (" + form + ")"}
}

func detectDER(data []byte) Result { return detectCertificate(data, "DER") }

// exchangeKeyExtension is the HSM's SGX attestation extension, present only
// on the exchange key certificate.
var exchangeKeyExtension = []int{1, 2, 840, 113556, 10, 1, 1}

func isExchangeCert(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(exchangeKeyExtension) {
			return true
		}
	}
	return false
}

func describeCert(c *x509.Certificate) string {
	alg := c.PublicKeyAlgorithm.String()
	if k, ok := c.PublicKey.(*rsa.PublicKey); ok {
		alg = fmt.Sprintf("RSA-%d", k.N.BitLen())
	}
	sum := sha256.Sum256(c.Raw)
	return fmt.Sprintf("%q, %s, valid %s to %s, SHA-256 %s", c.Subject.String(), alg,
		c.NotBefore.UTC().Format(time.DateOnly), c.NotAfter.UTC().Format(time.DateOnly), hex.EncodeToString(sum[:]))
}
