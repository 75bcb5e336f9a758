package piv

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/pcsc"
)

// These tests cover the parts that need no card. Everything that talks
// to a card is tested against the virtual YubiKey in piv_test.go.

func TestRSAAlgorithmIDsMatchYubicoTable(t *testing.T) {
	for bits, want := range map[int]byte{2048: 0x07, 3072: 0x05, 4096: 0x16} {
		got, err := rsaAlgorithmID(bits)
		if err != nil || got != want {
			t.Errorf("RSA-%d: got %02X, %v; want %02X", bits, got, err, want)
		}
	}
	if _, err := rsaAlgorithmID(1024); err == nil {
		t.Error("RSA-1024 was accepted")
	}
}

func TestTLVRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 255, 256, 512} {
		v := bytes.Repeat([]byte{0x5A}, n)
		enc := tlv(0x81, v)
		items, err := parseTLVs(enc)
		if err != nil || len(items) != 1 || items[0].tag != 0x81 || !bytes.Equal(items[0].value, v) {
			t.Fatalf("length %d: %v %v", n, items, err)
		}
	}
	// A GENERAL AUTHENTICATE answer for RSA-2048: 7C 82 01 04 { 82 82 01 00 <256> }.
	inner := tlv(0x82, bytes.Repeat([]byte{1}, 256))
	outer := tlv(0x7C, inner)
	if !bytes.HasPrefix(outer, []byte{0x7C, 0x82, 0x01, 0x04, 0x82, 0x82, 0x01, 0x00}) {
		t.Fatalf("encoding %X…", outer[:8])
	}
	for _, bad := range [][]byte{{0x7C}, {0x7C, 0x05, 1}, {0x7C, 0x81}, {0x7C, 0x83, 0, 0, 1}} {
		if _, err := parseTLVs(bad); err == nil {
			t.Errorf("%X parsed", bad)
		}
	}
}

func TestEncodePIN(t *testing.T) {
	got, err := encodePIN("PIN", []byte("123456"))
	if err != nil || !bytes.Equal(got, []byte{'1', '2', '3', '4', '5', '6', 0xFF, 0xFF}) {
		t.Fatalf("%X %v", got, err)
	}
	for _, bad := range [][]byte{nil, []byte("123456789"), {'1', 0xFF}} {
		if _, err := encodePIN("PIN", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPINStatusIsTyped(t *testing.T) {
	tok := token.Info{Kind: token.KindYubiKey, Serial: "1"}
	var pe *token.PINError
	if err := pinStatus(tok, "PIN", 0x63C2, insVerify); !errors.As(err, &pe) || pe.RetriesLeft != 2 || pe.Blocked {
		t.Errorf("63C2: %v", err)
	}
	if err := pinStatus(tok, "PUK", 0x6983, insVerify); !errors.As(err, &pe) || !pe.Blocked || pe.What != "PUK" {
		t.Errorf("6983: %v", err)
	}
	if err := pinStatus(tok, "PIN", 0x63C0, insVerify); !errors.As(err, &pe) || !pe.Blocked {
		t.Errorf("63C0: %v", err)
	}
	if err := pinStatus(tok, "PIN", 0x9000, insVerify); err != nil {
		t.Errorf("9000: %v", err)
	}
	var se *pcsc.StatusError
	if err := pinStatus(tok, "PIN", 0x6A80, insVerify); !errors.As(err, &se) {
		t.Errorf("6A80: %v", err)
	}
}

func TestCheckRetries(t *testing.T) {
	tok := token.Info{}
	var pe *token.PINError
	if err := checkRetries(tok, "PIN", 0, true); !errors.As(err, &pe) || !pe.Blocked {
		t.Errorf("0 retries: %v", err)
	}
	if err := checkRetries(tok, "PIN", 1, false); !errors.As(err, &pe) || !pe.LastRetry {
		t.Errorf("1 retry: %v", err)
	}
	for _, ok := range []struct {
		n     int
		allow bool
	}{{1, true}, {2, false}, {-1, false}} {
		if err := checkRetries(tok, "PIN", ok.n, ok.allow); err != nil {
			t.Errorf("%d retries, allow %v: %v", ok.n, ok.allow, err)
		}
	}
}

func TestCheckNewSecret(t *testing.T) {
	cases := []struct {
		next, current string
		wantErr       string
	}{
		{"12345", "", "6 to 8"},
		{"123456789", "", "6 to 8"},
		{"123456", "", "factory default"},
		{"654321", "654321", "same as the current"},
		{"654321", "111111", ""},
	}
	for _, c := range cases {
		var cur []byte
		if c.current != "" {
			cur = []byte(c.current)
		}
		err := checkNewSecret("PIN", []byte(c.next), cur, defaultPIN)
		if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%q: %v, want %q", c.next, err, c.wantErr)
		}
	}
}

func TestDefaultCredentialsErrorNamesThem(t *testing.T) {
	e := &DefaultCredentialsError{Token: token.Info{Kind: token.KindYubiKey, Model: "YubiKey 5", Serial: "7"}, PIN: true, ManagementKey: true}
	msg := e.Error()
	for _, want := range []string{"PIN and management key", "serial 7", "change them"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
}

func TestSlotFor(t *testing.T) {
	for name, want := range map[string]uint32{"9d": 0x9d, "9a": 0x9a, "82": 0x82, "95": 0x95, "8F": 0x8f} {
		s, err := slotFor(name)
		if err != nil || s.Key != want {
			t.Errorf("%s: %v %v", name, s, err)
		}
	}
	for _, bad := range []string{"9b", "f9", "96", "81", "x"} {
		if _, err := slotFor(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if n := len(allSlots()); n != 24 {
		t.Errorf("%d slots", n)
	}
}

func TestAlgorithmForNeedsFirmware57ForLargeKeys(t *testing.T) {
	old := card{fw: version{5, 4, 3}}
	if _, err := algorithmFor(old, 4096); !errors.Is(err, token.ErrUnsupported) || !strings.Contains(err.Error(), "5.7") {
		t.Errorf("4096 on 5.4.3: %v", err)
	}
	if _, err := algorithmFor(old, 2048); err != nil {
		t.Errorf("2048 on 5.4.3: %v", err)
	}
	if _, err := algorithmFor(card{fw: version{5, 7, 1}}, 3072); err != nil {
		t.Errorf("3072 on 5.7.1: %v", err)
	}
}

func TestAttestationFactsFromExtensions(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := asn1.Marshal(int64(12345678))
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "YubiKey PIV Attestation 9d"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtraExtensions: []pkix.Extension{
			{Id: oidYubicoFirmware, Value: []byte{5, 7, 1}},
			{Id: oidYubicoSerial, Value: serial},
			{Id: oidYubicoPolicy, Value: []byte{2, 3}},
			{Id: oidYubicoFormFactor, Value: []byte{3}},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	var got []string
	for _, f := range attestationFacts(cert) {
		got = append(got, f.Name+"="+f.Value)
	}
	want := []string{"serial=12345678", "firmware=5.7.1", "form factor=USB-C Keychain", "slot=YubiKey PIV Attestation 9d", "PIN policy=once", "touch policy=cached"}
	joined := strings.Join(got, "; ")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("facts %q lack %q", joined, w)
		}
	}
}

func TestDecryptKeyRejectsBeforeTouchingTheCard(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// No reader: any attempt to reach a card would fail differently.
	k := &Key{pub: &priv.PublicKey, c: card{reader: "no such reader"}}
	if _, err := k.DecryptKey("dir", make([]byte, 256)); !errors.Is(err, token.ErrUnsupported) {
		t.Errorf("alg dir: %v", err)
	}
	if _, err := k.DecryptKey("RSA-OAEP-256", make([]byte, 257)); err == nil || !strings.Contains(err.Error(), "257 bytes") {
		t.Errorf("257 bytes: %v", err)
	}
	if _, err := k.DecryptKey("RSA-OAEP-256", bytes.Repeat([]byte{0xFF}, 256)); err == nil || !strings.Contains(err.Error(), "modulus") {
		t.Errorf("c ≥ n: %v", err)
	}
}
