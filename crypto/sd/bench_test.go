package sd

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/crypto/jwe"
	"github.com/custodian-hsm/custodian/crypto/kdf"
	"github.com/custodian-hsm/custodian/crypto/shamir"
)

// benchSD makes an N-share SD with three live-sized items and software
// keys for every share.
func benchSD(b *testing.B, n, m int) (*File, []vectorKey, *ExchangeKey) {
	b.Helper()
	var keys []vectorKey
	for i := 0; i < n; i++ {
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			b.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: "c"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
		cert, _ := x509.ParseCertificate(der)
		keys = append(keys, vectorKey{cert: cert, priv: priv})
	}
	master := make([]byte, 32)
	rand.Read(master)
	f := &File{Version: 2, EncData: EncData{KDF: KDFName}, SharedKeys: SharedKeys{KeyAlgorithm: KeyAlgorithm, Required: m}}
	for i, tag := range []string{"hsm_backup", "base_enclave_backup", "partition_enclave_backup"} {
		plain := make([]byte, []int{6144, 1600, 880}[i])
		rand.Read(plain)
		cek, _ := kdf.EncDataKey(master, tag)
		c, _ := jwe.EncryptDir(cek, tag, plain, rand.Reader)
		f.EncData.Data = append(f.EncData.Data, EncItem{CompactJWE: c, Tag: tag})
	}
	shares, _ := shamir.Split(master, n, m, rand.Reader)
	for i, k := range keys {
		enc, _ := jwe.EncryptRSAOAEP256(&k.priv.PublicKey, "not used", shares[i], rand.Reader)
		f.SharedKeys.EncShares = append(f.SharedKeys.EncShares, EncShare{EncKey: enc, X5tS256: Thumbprint(k.cert.Raw)})
	}
	exPriv, _ := rsa.GenerateKey(rand.Reader, 4096)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(99), Subject: pkix.Name{CommonName: "ex"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &exPriv.PublicKey, exPriv)
	ex, err := ParseExchangeKey(der)
	if err != nil {
		b.Fatal(err)
	}
	return f, keys, ex
}

// BenchmarkRestoreBlobN10M10 is the whole offline recovery with software
// keys: ten shares opened, the SD rebuilt and every item authenticated,
// the blob built for a 4096-bit exchange key.
func BenchmarkRestoreBlobN10M10(b *testing.B) {
	f, keys, ex := benchSD(b, 10, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var shares []*Share
		for _, k := range keys {
			s, err := OpenShare(f, k)
			if err != nil {
				b.Fatal(err)
			}
			shares = append(shares, s)
		}
		rec, err := Recover(f, shares)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := BuildRestoreBlob(rec, ex, rand.Reader); err != nil {
			b.Fatal(err)
		}
		rec.Wipe()
		for _, s := range shares {
			s.Wipe()
		}
	}
}

// BenchmarkVerify is parsing an SD file and holding it against ten
// certificates.
func BenchmarkVerify(b *testing.B) {
	f, keys, _ := benchSD(b, 10, 6)
	data := f.Marshal()
	var certs []*x509.Certificate
	for _, k := range keys {
		certs = append(certs, k.cert)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		parsed, err := ParseFile(data)
		if err != nil {
			b.Fatal(err)
		}
		if r := Verify(parsed, certs, 6); !r.OK() {
			b.Fatal(r)
		}
	}
}
