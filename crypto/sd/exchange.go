package sd

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
)

// ExchangeKey is a recovering HSM's exchange key: the certificate the
// restore blob is wrapped to. The certificate is kept whole (its DER bytes
// name the key in the blob, and the live one carries an SGX attestation
// extension that must stay intact).
type ExchangeKey struct {
	Certificate *x509.Certificate
	PublicKey   *rsa.PublicKey
	// Thumbprint is the blob's WrappedKey.x5t_256.
	Thumbprint string
	// Form says how the key was read: "PEM", "DER", "JWK",
	// "transfer key (jwk)" or "transfer key (pem)".
	Form string
}

func exErr(format string, args ...any) error {
	return &FormatError{What: "exchange key", Err: fmt.Errorf(format, args...)}
}

// ParseExchangeKey reads the exchange key in any form the service or the
// Azure tools produce: the PEM certificate az init-recovery writes (65
// character lines, no final newline — any line length is read), DER, a JWK
// with x5c, or the service's {"key_format": …, "transfer_key": …} answer
// with the JWK as a string or an object, or a PEM.
func ParseExchangeKey(data []byte) (*ExchangeKey, error) {
	cert, form, jwk, err := readExchange(data)
	if err != nil {
		return nil, err
	}
	pub, err := rsaKeyOf(cert, "exchange key certificate")
	if err != nil {
		return nil, &FormatError{What: "exchange key", Err: err}
	}
	if jwk != nil {
		if err := jwkMatches(jwk, pub); err != nil {
			return nil, err
		}
	}
	return &ExchangeKey{Certificate: cert, PublicKey: pub, Thumbprint: Thumbprint(cert.Raw), Form: form}, nil
}

// ReadExchangeCertificate reads the exchange key's certificate in any form
// ParseExchangeKey reads, without judging its key: for the attestation
// check, which names a key that is too small or not RSA itself.
func ReadExchangeCertificate(data []byte) (*x509.Certificate, string, error) {
	cert, form, _, err := readExchange(data)
	return cert, form, err
}

func readExchange(data []byte) (*x509.Certificate, string, map[string]json.RawMessage, error) {
	if len(data) > MaxFileSize {
		return nil, "", nil, exErr("the file is %d bytes, over the %d-byte limit", len(data), MaxFileSize)
	}
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) || bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) ||
		len(data) > 1 && (data[1] == 0 && (data[0] == '{' || data[0] == '-') || data[0] == 0 && (data[1] == '{' || data[1] == '-')) {
		// Text files only (DER has no byte-order mark): PEM or JSON saved
		// by PowerShell.
		var err error
		if data, err = prepare(data, "exchange key"); err != nil {
			return nil, "", nil, err
		}
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, "", nil, exErr("the file is empty")
	}
	var der []byte
	var form string
	var jwk map[string]json.RawMessage
	switch {
	case trimmed[0] == '{':
		var err error
		der, form, jwk, err = exchangeFromJSON(trimmed)
		if err != nil {
			return nil, "", nil, err
		}
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN")):
		d, err := certificateDER(trimmed)
		if err != nil {
			return nil, "", nil, exErr("%v", err)
		}
		der, form = d, "PEM"
	case trimmed[0] == 0x30:
		der, form = data, "DER"
	default:
		return nil, "", nil, exErr("not a certificate (PEM or DER) nor the service's JSON: it starts with %q", preview(trimmed))
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, "", nil, exErr("the certificate does not parse: %v", err)
	}
	return cert, form, jwk, nil
}

func exchangeFromJSON(data []byte) ([]byte, string, map[string]json.RawMessage, error) {
	raw, err := decodeObject(data, "exchange key")
	if err != nil {
		return nil, "", nil, err
	}
	if tk, ok := raw["transfer_key"]; ok {
		format := "jwk"
		if kf, ok := raw["key_format"]; ok {
			if err := json.Unmarshal(kf, &format); err != nil {
				return nil, "", nil, exErr("key_format must be a string")
			}
		}
		var inner []byte
		var s string
		if err := json.Unmarshal(tk, &s); err == nil {
			inner = []byte(s) // the live service sends the JWK as a JSON string
		} else if bytes.HasPrefix(bytes.TrimSpace(tk), []byte("{")) {
			inner = tk // the API description calls it an object
		} else {
			return nil, "", nil, exErr("transfer_key must be a string or an object, found %s", jsonKind(tk))
		}
		switch format {
		case "pem":
			der, err := certificateDER(bytes.TrimSpace(inner))
			if err != nil {
				return nil, "", nil, exErr("transfer_key (pem): %v", err)
			}
			return der, "transfer key (pem)", nil, nil
		case "jwk":
			jwk, err := decodeObject(bytes.TrimSpace(inner), "exchange key")
			if err != nil {
				return nil, "", nil, exErr("transfer_key is not a JWK: %v", err)
			}
			der, err := x5cFirst(jwk)
			return der, "transfer key (jwk)", jwk, err
		default:
			return nil, "", nil, exErr("key_format %q is neither jwk nor pem", format)
		}
	}
	if _, ok := raw["kty"]; ok {
		der, err := x5cFirst(raw)
		return der, "JWK", raw, err
	}
	return nil, "", nil, exErr("JSON with neither transfer_key nor a JWK (kty, x5c): is this the exchange key?")
}

// x5cFirst returns the first certificate of a JWK's x5c: the Azure tools
// keep only that one.
func x5cFirst(jwk map[string]json.RawMessage) ([]byte, error) {
	if kty, ok := jwk["kty"]; ok {
		var s string
		if json.Unmarshal(kty, &s) != nil || s != "RSA" {
			return nil, exErr("the JWK's kty is %s; the exchange key is RSA", string(kty))
		}
	}
	raw, ok := jwk["x5c"]
	if !ok {
		return nil, exErr("the JWK has no x5c certificate: Custodian needs the certificate to name the key in the blob")
	}
	var chain []string
	if err := json.Unmarshal(raw, &chain); err != nil || len(chain) == 0 {
		return nil, exErr("the JWK's x5c must be a non-empty array of base64 certificates")
	}
	der, err := base64.StdEncoding.DecodeString(chain[0])
	if err != nil {
		return nil, exErr("x5c[0] is not base64: %v", err)
	}
	return der, nil
}

// jwkMatches checks that a JWK's n and e, when present, are the
// certificate's: a JWK whose key and certificate disagree is corrupt or
// forged.
func jwkMatches(jwk map[string]json.RawMessage, pub *rsa.PublicKey) error {
	var n, e string
	if raw, ok := jwk["n"]; ok {
		if json.Unmarshal(raw, &n) != nil {
			return exErr("the JWK's n must be a string")
		}
		nb, err := base64.RawURLEncoding.DecodeString(n)
		if err != nil || new(big.Int).SetBytes(nb).Cmp(pub.N) != 0 {
			return exErr("the JWK's modulus n differs from its certificate's key")
		}
	}
	if raw, ok := jwk["e"]; ok {
		if json.Unmarshal(raw, &e) != nil {
			return exErr("the JWK's e must be a string")
		}
		eb, err := base64.RawURLEncoding.DecodeString(e)
		if err != nil || !new(big.Int).SetBytes(eb).IsInt64() || new(big.Int).SetBytes(eb).Int64() != int64(pub.E) {
			return exErr("the JWK's exponent e differs from its certificate's key")
		}
	}
	return nil
}
