package jwe

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"github.com/custodian-hsm/custodian/internal/testvectors"
	"os"
	"testing"

	"github.com/custodian-hsm/custodian/crypto/kdf"
	"github.com/custodian-hsm/custodian/crypto/shamir"
)

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testvectors.Path(t, name))
	if err != nil {
		t.Fatalf("reading test vector: %v", err)
	}
	return b
}

func loadPrivateKey(t *testing.T, name string) *rsa.PrivateKey {
	t.Helper()
	block, _ := pem.Decode(readVector(t, name))
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("%s: not a PEM PKCS#8 private key", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("%s: not an RSA key", name)
	}
	return rk
}

func certSHA256(t *testing.T, name string) string {
	t.Helper()
	block, _ := pem.Decode(readVector(t, name))
	if block == nil {
		t.Fatalf("%s: not PEM", name)
	}
	sum := sha256.Sum256(block.Bytes)
	return b64.EncodeToString(sum[:])
}

type encDataJSON struct {
	Data []struct {
		CompactJWE string `json:"compact_jwe"`
		Tag        string `json:"tag"`
	} `json:"data"`
}

// TestSecurityDomainVector decrypts the sd-3of2 security domain with the
// custodian keys exactly as a recovery does: shares by x5t_256, every pair
// of shares, every EncData item; and opens the Azure CLI's restore blob
// with the exchange key.
func TestSecurityDomainVector(t *testing.T) {
	var sd struct {
		EncData    encDataJSON `json:"EncData"`
		SharedKeys struct {
			EncShares []struct {
				EncKey string `json:"enc_key"`
				X5t256 string `json:"x5t_256"`
			} `json:"enc_shares"`
			Required int `json:"required"`
		} `json:"SharedKeys"`
	}
	if err := json.Unmarshal(readVector(t, "sd-3of2/sd.json"), &sd); err != nil {
		t.Fatal(err)
	}
	var expected struct {
		MasterKeyHex string            `json:"master_key_hex"`
		ContentsHex  map[string]string `json:"contents_hex"`
	}
	if err := json.Unmarshal(readVector(t, "sd-3of2/expected.json"), &expected); err != nil {
		t.Fatal(err)
	}

	keys := map[string]*rsa.PrivateKey{} // by x5t_256
	for _, i := range []string{"0", "1", "2"} {
		keys[certSHA256(t, "sd-3of2/keys/cert_"+i+".cer")] = loadPrivateKey(t, "sd-3of2/keys/cert_"+i+".key")
	}
	if len(sd.SharedKeys.EncShares) != 3 {
		t.Fatalf("%d shares", len(sd.SharedKeys.EncShares))
	}
	var shares [][]byte
	for i, s := range sd.SharedKeys.EncShares {
		key, ok := keys[s.X5t256]
		if !ok {
			t.Fatalf("share %d: x5t_256 %s matches no certificate", i, s.X5t256)
		}
		o, err := Parse(s.EncKey)
		if err != nil {
			t.Fatalf("share %d: %v", i, err)
		}
		if o.Header.Alg != AlgRSAOAEP256 || o.Compact() != s.EncKey {
			t.Fatalf("share %d: header %+v", i, o.Header)
		}
		share, err := o.Decrypt(RSAKeyDecrypter{key})
		if err != nil {
			t.Fatalf("share %d: %v", i, err)
		}
		// The same share through the raw-RSA path a token without OAEP uses.
		viaRaw, err := o.Decrypt(rawKD{key})
		if err != nil || !bytes.Equal(viaRaw, share) {
			t.Fatalf("share %d via raw RSA: %v", i, err)
		}
		x, err := shamir.Validate(share, 3)
		if err != nil {
			t.Fatalf("share %d: %v", i, err)
		}
		if x != i+1 || len(share) != 64 {
			t.Fatalf("share %d: x = %d, %d bytes", i, x, len(share))
		}
		// Another custodian's key must not open it.
		for fp, other := range keys {
			if fp != s.X5t256 {
				if _, err := o.Decrypt(RSAKeyDecrypter{other}); err == nil {
					t.Fatalf("share %d opened with another custodian's key", i)
				}
			}
		}
		shares = append(shares, share)
	}

	wantMaster, _ := hex.DecodeString(expected.MasterKeyHex)
	for _, pair := range [][2]int{{0, 1}, {0, 2}, {1, 2}} {
		master, err := shamir.Combine([][]byte{shares[pair[0]], shares[pair[1]]})
		if err != nil || !bytes.Equal(master, wantMaster) {
			t.Fatalf("shares %v: master %x, %v", pair, master, err)
		}
	}
	checkEncData(t, "sd.json", sd.EncData, wantMaster, expected.ContentsHex)

	// The restore blob made by the Azure CLI: its own fresh master key,
	// wrapped to the exchange key.
	var blob struct {
		EncData    encDataJSON `json:"EncData"`
		WrappedKey struct {
			EncKey string `json:"enc_key"`
			X5t256 string `json:"x5t_256"`
		} `json:"WrappedKey"`
	}
	if err := json.Unmarshal(readVector(t, "sd-3of2/blob.json"), &blob); err != nil {
		t.Fatal(err)
	}
	if blob.WrappedKey.X5t256 != certSHA256(t, "sd-3of2/exchange.cer") {
		t.Fatal("blob x5t_256 does not match exchange.cer")
	}
	wk, err := Parse(blob.WrappedKey.EncKey)
	if err != nil {
		t.Fatal(err)
	}
	if wk.Header != (Header{Alg: AlgRSAOAEP256, Enc: EncA256CBCHS512, Kid: "not used"}) {
		t.Fatalf("wrapped key header %+v", wk.Header)
	}
	newMaster, err := wk.Decrypt(RSAKeyDecrypter{loadPrivateKey(t, "sd-3of2/exchange.key")})
	if err != nil {
		t.Fatal(err)
	}
	if len(newMaster) != 32 || bytes.Equal(newMaster, wantMaster) {
		t.Fatalf("blob master key: %d bytes, equal to the old one: %v", len(newMaster), bytes.Equal(newMaster, wantMaster))
	}
	checkEncData(t, "blob.json", blob.EncData, newMaster, expected.ContentsHex)

	// Our writer makes a blob item the exchange key's holder can read the
	// same way, with the exact header the CLI writes.
	pub := &loadPrivateKey(t, "sd-3of2/exchange.key").PublicKey
	ours, err := EncryptRSAOAEP256(pub, "not used", newMaster, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := Parse(ours); got.RawHeader != wk.RawHeader {
		t.Errorf("our wrapped-key header %s differs from the CLI's %s", got.RawHeader, wk.RawHeader)
	}
}

func checkEncData(t *testing.T, file string, ed encDataJSON, master []byte, want map[string]string) {
	t.Helper()
	if len(ed.Data) != len(want) {
		t.Fatalf("%s: %d EncData items, want %d", file, len(ed.Data), len(want))
	}
	for _, item := range ed.Data {
		o, err := Parse(item.CompactJWE)
		if err != nil {
			t.Fatalf("%s %s: %v", file, item.Tag, err)
		}
		if o.Header.Kid != item.Tag || o.Header.Alg != AlgDir {
			t.Fatalf("%s %s: header %+v", file, item.Tag, o.Header)
		}
		cek, err := kdf.EncDataKey(master, item.Tag)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := o.DecryptDir(cek)
		if err != nil {
			t.Fatalf("%s %s: %v", file, item.Tag, err)
		}
		if hex.EncodeToString(pt) != want[item.Tag] {
			t.Fatalf("%s %s: contents differ", file, item.Tag)
		}
		// Re-encrypting with the same CEK and IV reproduces the item exactly:
		// our header bytes are the HSM's.
		again, err := EncryptDir(cek, item.Tag, pt, bytes.NewReader(o.IV))
		if err != nil || again != item.CompactJWE {
			t.Fatalf("%s %s: re-encryption differs from the original", file, item.Tag)
		}
	}
}
