// Package drillhsm is a simulated Azure Key Vault Managed HSM for drills
// and tests: it activates (returns a security domain file for custodian
// certificates and a quorum), starts a recovery (makes an exchange key),
// and takes a restore blob back, saying whether it restores exactly what
// was activated.
//
// Everything it writes is marked DRILL. The security domain file itself is
// in the exact live form, because drills must exercise the same readers as
// production; the drill HSM's own state file says "drill": true, its
// exchange certificates carry DRILL in their subject, and its folder holds
// a DRILL-README.txt.
//
// The simulator never stores the master key or a share: to check an upload
// it keeps only the tags and SHA-256 of each activated item. (Drills scan
// their files for secrets.) It does keep its exchange private key in its
// folder, as a real HSM keeps its own keys; that key protects nothing but
// drill data and its file is named DRILL-exchange-key.pem.
//
// Its exchange certificates carry an SGX attestation in the live layout,
// signed under Custodian's DRILL attestation root (whose private key is
// in this package, public on purpose): drills run the same verifier and
// show the same verdicts as production, which never accepts that root.
package drillhsm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/custodian-hsm/custodian/crypto/jwe"
	"github.com/custodian-hsm/custodian/crypto/kdf"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/sgx"
	"github.com/custodian-hsm/custodian/crypto/sgx/quotegen"
	"github.com/custodian-hsm/custodian/crypto/shamir"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

const (
	stateFile    = "DRILL-hsm-state.json"
	readmeFile   = "DRILL-README.txt"
	exchangeKey  = "DRILL-exchange-key.pem"
	exchangeCert = "DRILL-exchange-key.cer"
)

// State is what the drill HSM remembers between commands.
type State struct {
	Drill     bool        `json:"drill"`
	Name      string      `json:"name"`
	Activated bool        `json:"activated"`
	Quorum    int         `json:"quorum,omitempty"`
	Shares    []string    `json:"share_thumbprints,omitempty"`
	Items     []ItemState `json:"items,omitempty"`
	// Exchange is the SHA-256 thumbprint of the current exchange key.
	Exchange string `json:"exchange_thumbprint,omitempty"`
	Restored bool   `json:"restored"`
}

// ItemState is an activated EncData item as the simulator remembers it.
type ItemState struct {
	Tag    string `json:"tag"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
}

// HSM is a drill HSM backed by a folder.
type HSM struct {
	dir   string
	state State
	// ExchangeBits is the exchange key size (4096 as the live service;
	// tests may lower it to 2048 for speed).
	ExchangeBits int
	// Random is the randomness source (crypto/rand by default).
	Random io.Reader
	// live is the running HSM's memory (rotate.go): the master key and
	// the items as activated, for a re-download with new certificates
	// in the same process. Never written to the folder.
	live *liveDomain
}

// Create makes a new drill HSM in dir, which must not exist or be empty.
func Create(dir string) (*HSM, error) {
	return CreateNamed(dir, filepath.Base(dir))
}

// CreateNamed is Create for a folder being staged under a temporary name:
// the HSM is named after name, the folder's final name.
func CreateNamed(dir, name string) (*HSM, error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty: a drill HSM needs a new folder", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the drill HSM folder: %w", err)
	}
	h := &HSM{dir: dir, state: State{Drill: true, Name: "DRILL HSM " + name}, ExchangeBits: 4096, Random: rand.Reader}
	readme := "DRILL — this folder is a simulated Managed HSM made by `custodian drill`.\n" +
		"Nothing in it is production. The exchange private key here protects only drill data.\n"
	if err := safefile.Write(filepath.Join(dir, readmeFile), []byte(readme)); err != nil {
		return nil, err
	}
	if err := h.save(); err != nil {
		return nil, err
	}
	return h, nil
}

// Open loads a drill HSM from its folder.
func Open(dir string) (*HSM, error) {
	b, err := safefile.ReadLimited(filepath.Join(dir, stateFile), 1<<20)
	if err != nil {
		return nil, fmt.Errorf("%s is not a drill HSM folder (make one with `custodian drill hsm activate`): %w", dir, err)
	}
	h := &HSM{dir: dir, ExchangeBits: 4096, Random: rand.Reader}
	if err := json.Unmarshal(b, &h.state); err != nil || !h.state.Drill {
		return nil, fmt.Errorf("%s: the drill HSM state is damaged", dir)
	}
	return h, nil
}

// Dir is the HSM's folder.
func (h *HSM) Dir() string { return h.dir }

// State returns what the HSM remembers.
func (h *HSM) State() State { return h.state }

// save rewrites the state file: temporary file, fsync, rename over the old
// state (the simulator's own file, the one place it replaces a file).
func (h *HSM) save() error {
	b, err := json.MarshalIndent(h.state, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(h.dir, stateFile+".new")
	_ = os.Remove(tmp)
	if err := safefile.Write(tmp, append(b, '\n'), safefile.WithPerm(0o600)); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(h.dir, stateFile))
}

// ActivateOptions shape the simulated security domain.
type ActivateOptions struct {
	// Items is the number of EncData items (default 3, as a live HSM).
	Items int
	// Sizes overrides the plaintext size of each item.
	Sizes []int
}

// liveTags are the tags a live HSM uses; more items get numbered tags.
var liveTags = []string{"hsm_backup", "base_enclave_backup", "partition_enclave_backup"}

// liveSizes are realistic, different plaintext sizes.
var liveSizes = []int{6144, 1600, 880}

// Activate makes the security domain for the custodian certificates (in
// share order) and quorum, as the HSM's download does. It returns the SD
// file in the live form.
func (h *HSM) Activate(certs []*x509.Certificate, quorum int, opts ActivateOptions) ([]byte, error) {
	if h.state.Activated {
		return nil, errors.New("this drill HSM is already activated: make a new one for another activation")
	}
	if len(certs) < sd.MinShares || len(certs) > sd.MaxShares {
		return nil, fmt.Errorf("activation takes %d to %d certificates; %d given", sd.MinShares, sd.MaxShares, len(certs))
	}
	if quorum < sd.MinRequired || quorum > len(certs) {
		return nil, fmt.Errorf("the quorum must be between %d and %d; %d given", sd.MinRequired, len(certs), quorum)
	}
	if _, err := sd.BuildDownloadRequest(certs, quorum); err != nil {
		return nil, err // the same checks as the request: RSA ≥ 2048, no duplicates
	}
	n := opts.Items
	if n == 0 {
		n = len(liveTags)
	}
	if n < 1 || n > 16 {
		return nil, fmt.Errorf("a drill security domain has 1 to 16 items; %d asked", n)
	}
	master := make([]byte, 32)
	defer clear(master)
	if _, err := io.ReadFull(h.Random, master); err != nil {
		return nil, err
	}
	file := &sd.File{Version: 2, EncData: sd.EncData{KDF: sd.KDFName}, SharedKeys: sd.SharedKeys{KeyAlgorithm: sd.KeyAlgorithm, Required: quorum}}
	var items []ItemState
	for i := 0; i < n; i++ {
		tag := fmt.Sprintf("drill_backup_%d", i+1)
		size := 512 + 300*i
		if i < len(liveTags) {
			tag, size = liveTags[i], liveSizes[i]
		}
		if i < len(opts.Sizes) {
			size = opts.Sizes[i]
		}
		plain := make([]byte, size)
		if _, err := io.ReadFull(h.Random, plain); err != nil {
			return nil, err
		}
		cek, err := kdf.EncDataKey(master, tag)
		if err != nil {
			return nil, err
		}
		compact, err := jwe.EncryptDir(cek, tag, plain, h.Random)
		clear(cek)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(plain)
		clear(plain)
		items = append(items, ItemState{Tag: tag, SHA256: hex.EncodeToString(sum[:]), Size: size})
		file.EncData.Data = append(file.EncData.Data, sd.EncItem{CompactJWE: compact, Tag: tag})
	}
	shares, err := shamir.Split(master, len(certs), quorum, h.Random)
	if err != nil {
		return nil, err
	}
	var thumbs []string
	for i, c := range certs {
		pub := c.PublicKey.(*rsa.PublicKey)
		enc, err := jwe.EncryptRSAOAEP256(pub, newGUID(h.Random), shares[i], h.Random)
		clear(shares[i])
		if err != nil {
			return nil, err
		}
		tp := sd.Thumbprint(c.Raw)
		thumbs = append(thumbs, tp)
		file.SharedKeys.EncShares = append(file.SharedKeys.EncShares, sd.EncShare{EncKey: enc, X5tS256: tp})
	}
	h.state.Activated, h.state.Quorum, h.state.Shares, h.state.Items = true, quorum, thumbs, items
	if err := h.save(); err != nil {
		return nil, err
	}
	if err := h.remember(master, file.EncData); err != nil {
		return nil, err
	}
	return file.Marshal(), nil
}

// newGUID makes a random GUID, as the live service puts in share kids.
func newGUID(r io.Reader) string {
	var b [16]byte
	io.ReadFull(r, b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// InitRecovery makes a fresh exchange key pair and returns its certificate
// exactly as `az keyvault security-domain init-recovery` writes it: PEM
// with 65-character base64 lines and no final newline.
func (h *HSM) InitRecovery() ([]byte, error) {
	if !h.state.Activated {
		return nil, errors.New("this drill HSM was never activated: there is nothing to recover")
	}
	key, err := rsa.GenerateKey(h.Random, h.ExchangeBits)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(h.Random, new(big.Int).Lsh(big.NewInt(1), 127))
	now := time.Now().UTC()
	attestation, err := drillAttestation(h.Random, &key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("making the drill attestation: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "DRILL exchange key — " + h.state.Name},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage:        x509.KeyUsageKeyEncipherment,
		ExtraExtensions: []pkix.Extension{{Id: sgx.OIDAttestation, Value: attestation}},
	}
	der, err := x509.CreateCertificate(h.Random, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Comment": "DRILL exchange key of a simulated HSM"}, Bytes: pkcs8})
	clear(pkcs8)
	// A new exchange key replaces the previous one, as a new init-recovery
	// does: move the old files aside under numbered names.
	for _, name := range []string{exchangeKey, exchangeCert} {
		p := filepath.Join(h.dir, name)
		if _, err := os.Lstat(p); err == nil {
			if err := os.Rename(p, p+fmt.Sprintf(".old-%d", now.UnixNano())); err != nil {
				return nil, err
			}
		}
	}
	if err := safefile.Write(filepath.Join(h.dir, exchangeKey), keyPEM, safefile.WithPerm(0o600)); err != nil {
		return nil, err
	}
	certPEM := AzPEM(der)
	if err := safefile.Write(filepath.Join(h.dir, exchangeCert), certPEM); err != nil {
		return nil, err
	}
	h.state.Exchange = sd.Thumbprint(der)
	if err := h.save(); err != nil {
		return nil, err
	}
	return certPEM, nil
}

// drillRootKeyPEM is the DRILL attestation root's private key. It is
// public: it signs only drill quotes, which production refuses.
//
//go:embed DRILL-attestation-root-key.pem
var drillRootKeyPEM []byte

// drillAttestation makes the exchange key's quote under the DRILL root: a
// fresh PCK chain each time (as a new platform could be), the drill
// enclave identity, report data binding the key.
func drillAttestation(random io.Reader, pub *rsa.PublicKey) ([]byte, error) {
	block, _ := pem.Decode(drillRootKeyPEM)
	if block == nil {
		return nil, errors.New("the embedded DRILL attestation root key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rootKey, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("the embedded DRILL attestation root key is not ECDSA")
	}
	chain, err := quotegen.NewChain(quotegen.ChainSpec{Names: quotegen.DrillNames, RootKey: rootKey, Root: sgx.DrillRoot().Cert,
		FMSPC: [6]byte{0xd4, 0x11, 0, 0, 0, 0}, TCB: [16]byte{1, 1, 1, 1}, PCESVN: 1, Random: random})
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	// The quoting enclave is stated as Intel's (MRSIGNER as on the live
	// service), as a real platform's would be; the DRILL root is what
	// marks the quote.
	var qe [32]byte
	hex.Decode(qe[:], []byte("8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff"))
	return chain.Quote(spki, quotegen.Enclave{MRENCLAVE: sgx.DrillMRENCLAVE, MRSIGNER: sgx.DrillMRSIGNER, ISVProdID: 1, ISVSVN: 1, QEMRSIGNER: qe, QEISVSVN: 8})
}

// AzPEM writes a certificate as az init-recovery does: 65-character lines,
// no final newline.
func AzPEM(der []byte) []byte {
	b64 := base64.StdEncoding.EncodeToString(der)
	var b bytes.Buffer
	b.WriteString("-----BEGIN CERTIFICATE-----\n")
	for len(b64) > 65 {
		b.WriteString(b64[:65] + "\n")
		b64 = b64[65:]
	}
	b.WriteString(b64 + "\n-----END CERTIFICATE-----")
	return b.Bytes()
}

func (h *HSM) exchangePrivate() (*rsa.PrivateKey, error) {
	b, err := safefile.ReadLimited(filepath.Join(h.dir, exchangeKey), 64<<10)
	if err != nil {
		return nil, errors.New("this drill HSM has no exchange key: run init-recovery first")
	}
	defer clear(b)
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("the drill HSM's exchange key file is damaged")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the drill HSM's exchange key file is damaged: %w", err)
	}
	return k.(*rsa.PrivateKey), nil
}

// UploadResult says what an upload restored.
type UploadResult struct {
	Restored bool
	Items    int
	Problems []string
}

func (r *UploadResult) String() string {
	if r.Restored {
		return fmt.Sprintf("restored: all %d items match what was activated", r.Items)
	}
	return "NOT restored: " + strings.Join(r.Problems, "; ")
}

// Upload takes a restore blob (either enc_key form). It returns an error
// when the blob cannot be read or unwrapped, and a result that says
// whether its contents are exactly the activated ones.
func (h *HSM) Upload(blob []byte) (*UploadResult, error) {
	b, err := sd.ParseRestoreBlob(blob)
	if err != nil {
		return nil, err
	}
	if h.state.Exchange == "" {
		return nil, errors.New("this drill HSM has no exchange key: run init-recovery before uploading")
	}
	if b.WrappedKey.X5tS256 != h.state.Exchange {
		return nil, fmt.Errorf("the blob is wrapped to exchange key %s, not this HSM's current one (%s): was it built for another HSM or an older init-recovery?", b.WrappedKey.X5tS256, h.state.Exchange)
	}
	priv, err := h.exchangePrivate()
	if err != nil {
		return nil, err
	}
	opened, err := sd.OpenRestoreBlob(b, jwe.RSAKeyDecrypter{Key: priv})
	if err != nil {
		return nil, err
	}
	defer opened.Wipe()
	res := &UploadResult{Items: len(opened.Items)}
	if len(opened.Items) != len(h.state.Items) {
		res.Problems = append(res.Problems, fmt.Sprintf("%d items uploaded, %d activated", len(opened.Items), len(h.state.Items)))
	}
	for i := 0; i < min(len(opened.Items), len(h.state.Items)); i++ {
		want := h.state.Items[i]
		sum := sha256.Sum256(opened.Items[i])
		switch {
		case opened.Tags[i] != want.Tag:
			res.Problems = append(res.Problems, fmt.Sprintf("item %d is tagged %q, activated as %q", i+1, opened.Tags[i], want.Tag))
		case hex.EncodeToString(sum[:]) != want.SHA256:
			res.Problems = append(res.Problems, fmt.Sprintf("item %d (%s) has other contents than were activated", i+1, want.Tag))
		}
	}
	res.Restored = len(res.Problems) == 0
	if res.Restored {
		h.state.Restored = true
		if err := h.save(); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// Import sets a drill HSM up from an existing case (a security domain, the
// exchange key pair and the expected item plaintexts), so that a blob made
// elsewhere — such as the shared vectors' blob.json — can be checked.
func Import(dir string, sdFile []byte, exchangeCertPEM, exchangeKeyPEM []byte, contents map[string][]byte) (*HSM, error) {
	f, err := sd.ParseFile(sdFile)
	if err != nil {
		return nil, err
	}
	ex, err := sd.ParseExchangeKey(exchangeCertPEM)
	if err != nil {
		return nil, err
	}
	h, err := Create(dir)
	if err != nil {
		return nil, err
	}
	h.state.Activated, h.state.Quorum = true, f.SharedKeys.Required
	for _, s := range f.SharedKeys.EncShares {
		h.state.Shares = append(h.state.Shares, s.X5tS256)
	}
	for _, it := range f.EncData.Data {
		c, ok := contents[it.Tag]
		if !ok {
			return nil, fmt.Errorf("no contents given for item %q", it.Tag)
		}
		sum := sha256.Sum256(c)
		h.state.Items = append(h.state.Items, ItemState{Tag: it.Tag, SHA256: hex.EncodeToString(sum[:]), Size: len(c)})
	}
	if err := safefile.Write(filepath.Join(dir, exchangeKey), exchangeKeyPEM, safefile.WithPerm(0o600)); err != nil {
		return nil, err
	}
	if err := safefile.Write(filepath.Join(dir, exchangeCert), exchangeCertPEM); err != nil {
		return nil, err
	}
	h.state.Exchange = ex.Thumbprint
	return h, h.save()
}
