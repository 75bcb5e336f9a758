package jwe

import (
	"crypto"
	"fmt"

	"github.com/custodian-hsm/custodian/crypto/oaep"
)

// UnpadRawKey turns the result of a raw RSA decryption (c^d mod n, as a
// token without OAEP support returns it) into the CEK, by removing the
// padding that alg names: OAEP-SHA-256 for RSA-OAEP-256, OAEP-SHA-1 for
// RSA-OAEP, PKCS#1 v1.5 for RSA1_5. raw may lack leading zero bytes;
// modulusSize is the key's modulus size in bytes. Token backends call it
// from their KeyDecrypter. A padding failure is oaep.ErrDecryption (wrapped),
// which for a share means it was encrypted to a different key.
func UnpadRawKey(alg string, raw []byte, modulusSize int) ([]byte, error) {
	var cek []byte
	var err error
	switch alg {
	case AlgRSAOAEP256:
		cek, err = oaep.DecodeSize(crypto.SHA256, raw, modulusSize, nil)
	case AlgRSAOAEP:
		cek, err = oaep.DecodeSize(crypto.SHA1, raw, modulusSize, nil)
	case AlgRSA15:
		cek, err = oaep.DecodePKCS1v15Size(raw, modulusSize)
	default:
		return nil, fmt.Errorf("jwe: cannot unpad alg %q; expected %s, %s or %s", alg, AlgRSAOAEP256, AlgRSAOAEP, AlgRSA15)
	}
	if err != nil {
		return nil, fmt.Errorf("jwe: %s: %w", alg, err)
	}
	return cek, nil
}
