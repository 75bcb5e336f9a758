package soft

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

// Encrypted PKCS#8 ("BEGIN ENCRYPTED PRIVATE KEY", RFC 5958 / PKCS#5 v2.1
// PBES2), which is what `openssl genpkey -aes256` and `openssl pkcs8 -topk8`
// write. Go's standard library reads only unencrypted PKCS#8, so the PBES2
// envelope is opened here; the inner key is then parsed by crypto/x509.

var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

type encryptedPrivateKeyInfo struct {
	Algorithm     pkix.AlgorithmIdentifier
	EncryptedData []byte
}

type pbes2Params struct {
	KeyDerivationFunc pkix.AlgorithmIdentifier
	EncryptionScheme  pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt           []byte
	IterationCount int
	KeyLength      int                      `asn1:"optional"`
	PRF            pkix.AlgorithmIdentifier `asn1:"optional"`
}

// errWrongPassphrase is returned when the decrypted envelope does not
// unpad or parse: PBES2 has no integrity check, so a wrong passphrase shows
// up as garbage.
var errWrongPassphrase = errors.New("wrong passphrase (or a damaged key file)")

// decryptPKCS8 opens an EncryptedPrivateKeyInfo and returns the inner
// PKCS#8 DER. The caller wipes it.
func decryptPKCS8(der, passphrase []byte) ([]byte, error) {
	var epki encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &epki); err != nil || len(rest) != 0 {
		return nil, errors.New("the encrypted key is not a valid PKCS#8 EncryptedPrivateKeyInfo")
	}
	if !epki.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("the key is encrypted with %v; only PBES2 (what OpenSSL writes) is supported: re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`", epki.Algorithm.Algorithm)
	}
	var params pbes2Params
	if _, err := asn1.Unmarshal(epki.Algorithm.Parameters.FullBytes, &params); err != nil {
		return nil, errors.New("the key's PBES2 parameters are malformed")
	}
	if !params.KeyDerivationFunc.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("the key uses key derivation %v; only PBKDF2 is supported", params.KeyDerivationFunc.Algorithm)
	}
	var kdf pbkdf2Params
	if _, err := asn1.Unmarshal(params.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil {
		return nil, errors.New("the key's PBKDF2 parameters are malformed")
	}
	if kdf.IterationCount < 1 || kdf.IterationCount > 10_000_000 {
		return nil, fmt.Errorf("the key's PBKDF2 iteration count %d is out of range", kdf.IterationCount)
	}
	prf := sha1.New
	switch alg := kdf.PRF.Algorithm; {
	case len(alg) == 0, alg.Equal(oidHMACSHA1):
	case alg.Equal(oidHMACSHA224):
		prf = sha256.New224
	case alg.Equal(oidHMACSHA256):
		prf = sha256.New
	case alg.Equal(oidHMACSHA384):
		prf = sha512.New384
	case alg.Equal(oidHMACSHA512):
		prf = sha512.New
	default:
		return nil, fmt.Errorf("the key's PBKDF2 uses an unsupported PRF %v", alg)
	}
	var keyLen int
	var newCipher func([]byte) (cipher.Block, error)
	switch alg := params.EncryptionScheme.Algorithm; {
	case alg.Equal(oidAES128CBC):
		keyLen, newCipher = 16, aes.NewCipher
	case alg.Equal(oidAES192CBC):
		keyLen, newCipher = 24, aes.NewCipher
	case alg.Equal(oidAES256CBC):
		keyLen, newCipher = 32, aes.NewCipher
	case alg.Equal(oidDESEDE3CBC):
		keyLen, newCipher = 24, des.NewTripleDESCipher
	default:
		return nil, fmt.Errorf("the key is encrypted with an unsupported cipher %v", alg)
	}
	var iv []byte
	if _, err := asn1.Unmarshal(params.EncryptionScheme.Parameters.FullBytes, &iv); err != nil {
		return nil, errors.New("the key's cipher IV is malformed")
	}
	key := pbkdf2(prf, passphrase, kdf.Salt, kdf.IterationCount, keyLen)
	defer clear(key)
	block, err := newCipher(key)
	if err != nil {
		return nil, err
	}
	if len(iv) != block.BlockSize() || len(epki.EncryptedData) == 0 || len(epki.EncryptedData)%block.BlockSize() != 0 {
		return nil, errors.New("the encrypted key has a malformed IV or length")
	}
	plain := make([]byte, len(epki.EncryptedData))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, epki.EncryptedData)
	// PKCS#7 padding; a wrong passphrase almost always fails here or in
	// the PKCS#8 parse that follows.
	n := int(plain[len(plain)-1])
	if n == 0 || n > block.BlockSize() {
		clear(plain)
		return nil, errWrongPassphrase
	}
	for _, b := range plain[len(plain)-n:] {
		if int(b) != n {
			clear(plain)
			return nil, errWrongPassphrase
		}
	}
	return plain[:len(plain)-n], nil
}

// pbkdf2 is RFC 8018 PBKDF2. It is written here, rather than taken from
// crypto/pbkdf2, because that API takes the password as a string, which
// cannot be wiped.
func pbkdf2(prf func() hash.Hash, password, salt []byte, iter, keyLen int) []byte {
	mac := hmac.New(prf, password)
	hLen := mac.Size()
	blocks := (keyLen + hLen - 1) / hLen
	out := make([]byte, 0, blocks*hLen)
	u := make([]byte, hLen)
	t := make([]byte, hLen)
	var ctr [4]byte
	for i := 1; i <= blocks; i++ {
		binary.BigEndian.PutUint32(ctr[:], uint32(i))
		mac.Reset()
		mac.Write(salt)
		mac.Write(ctr[:])
		u = mac.Sum(u[:0])
		copy(t, u)
		for j := 1; j < iter; j++ {
			mac.Reset()
			mac.Write(u)
			u = mac.Sum(u[:0])
			for k := range t {
				t[k] ^= u[k]
			}
		}
		out = append(out, t...)
	}
	clear(u)
	clear(t)
	return out[:keyLen]
}
