package ceremony

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/internal/safefile"
	"github.com/custodian-hsm/custodian/internal/strictjson"
)

// Custodian is an enrolled custodian as the ceremony knows them. Nothing
// here is secret.
type Custodian struct {
	// Index is the position in the download request: share x = Index+1.
	Index       int
	Name        string
	KeyRef      string
	Token       token.Info
	Certificate *x509.Certificate
	Attestation *token.Attestation
}

// CertificateSHA256 is the hex SHA-256 of the certificate's DER bytes, the
// fingerprint people compare and the value the SD names shares by.
func (c *Custodian) CertificateSHA256() string {
	sum := sha256.Sum256(c.Certificate.Raw)
	return hex.EncodeToString(sum[:])
}

// Thumbprint is the SD's x5t_256 for this custodian's share.
func (c *Custodian) Thumbprint() string {
	sum := sha256.Sum256(c.Certificate.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// CertificateFileName is the name of the custodian's certificate in the
// operator package: cert_<index>.cer, the names Microsoft's documentation
// uses, so the operator's commands list them in share order.
func (c *Custodian) CertificateFileName(mode Mode) string {
	return mode.FileName(fmt.Sprintf("cert_%d.cer", c.Index))
}

// OperatorPackage is what the offline ceremony hands to the online
// operator at activation.
type OperatorPackage struct {
	Dir      string
	Files    []string // names inside Dir, certificates first
	Manifest Manifest
}

// Manifest describes an operator package. It is written as manifest.json
// and checked when the security domain comes back.
type Manifest struct {
	Kind       string              `json:"custodian_kind"`
	Mode       string              `json:"mode"`
	CeremonyID string              `json:"ceremony_id"`
	HSMName    string              `json:"hsm_name"`
	Quorum     int                 `json:"quorum"`
	Custodians []ManifestCustodian `json:"custodians"`
	SDFileName string              `json:"sd_file_name"`
	Tool       string              `json:"tool,omitempty"`
}

// ManifestCustodian is one custodian in the manifest.
type ManifestCustodian struct {
	Index             int    `json:"index"`
	ShareX            int    `json:"share_x"`
	Name              string `json:"name"`
	CertificateFile   string `json:"certificate_file"`
	CertificateSHA256 string `json:"certificate_sha256"`
	X5tS256           string `json:"x5t_256"`
	TokenKind         string `json:"token_kind"`
	TokenModel        string `json:"token_model,omitempty"`
	TokenSerial       string `json:"token_serial,omitempty"`
	TokenFirmware     string `json:"token_firmware,omitempty"`
	Attested          bool   `json:"attested"`
}

// ManifestKind marks Custodian's operator manifests.
const ManifestKind = "operator-package"

// BuildManifest describes the custodians for the operator.
func BuildManifest(mode Mode, ceremonyID, hsmName string, quorum int, custodians []*Custodian, tool string) Manifest {
	m := Manifest{
		Kind: ManifestKind, Mode: mode.String(), CeremonyID: ceremonyID, HSMName: hsmName,
		Quorum: quorum, SDFileName: mode.FileName(hsmName + "-SD.json"), Tool: tool,
	}
	for _, c := range custodians {
		m.Custodians = append(m.Custodians, ManifestCustodian{
			Index: c.Index, ShareX: c.Index + 1, Name: c.Name,
			CertificateFile:   c.CertificateFileName(mode),
			CertificateSHA256: c.CertificateSHA256(),
			X5tS256:           c.Thumbprint(),
			TokenKind:         string(c.Token.Kind),
			TokenModel:        c.Token.Model,
			TokenSerial:       c.Token.Serial,
			TokenFirmware:     c.Token.Firmware,
			Attested:          c.Attestation != nil && c.Attestation.Verified,
		})
	}
	return m
}

// hsmNameOK accepts the characters of an Azure resource name, so the name
// can be pasted into a shell command without quoting surprises.
func hsmNameOK(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

var instructionsTemplate = template.Must(template.New("instructions").Parse(`{{if .Drill}}*** DRILL — REHEARSAL ONLY — DO NOT USE AGAINST A REAL HSM ***

{{end}}Custodian operator package — ceremony {{.M.CeremonyID}}
Managed HSM: {{.M.HSMName}}     custodians: {{len .M.Custodians}}     quorum: {{.M.Quorum}}

These certificates were generated on the custodians' tokens in an offline
ceremony. Their ORDER matters: share x = position in the command below.
Check every file before use, from the folder that holds this one:
  {{.Check}}
(every line must end in OK; on Windows compare each file's
Get-FileHash -Algorithm SHA256 with its line in {{.Sums}}).

Custodians (share x, name, certificate SHA-256):
{{range .M.Custodians}}  x={{.ShareX}}  {{.Name}}
        {{.CertificateFile}}  {{.CertificateSHA256}}
{{end}}
Activate the HSM and download its security domain with ONE of:

Azure CLI:
  az keyvault security-domain download --hsm-name {{.M.HSMName}} \
    --sd-wrapping-keys{{range .M.Custodians}} {{.CertificateFile}}{{end}} \
    --sd-quorum {{.M.Quorum}} \
    --security-domain-file {{.M.SDFileName}}
  az keyvault security-domain wait --hsm-name {{.M.HSMName}}

Azure PowerShell:
  Export-AzKeyVaultSecurityDomain -Name {{.M.HSMName}} ` + "`" + `
    -Certificates {{range $i, $c := .M.Custodians}}{{if $i}},{{end}}"{{$c.CertificateFile}}"{{end}} ` + "`" + `
    -Quorum {{.M.Quorum}} -OutputPath "{{.M.SDFileName}}"

Then bring {{.M.SDFileName}} back to the offline machine UNCHANGED (do not
open and re-save it) so the custodians can verify it: every share must map
to one of these certificates, each custodian opens their own share, and the
quorum recovers it. Until that verification passes, treat the HSM as not
recoverable.
`))

// WriteOperatorPackage writes the operator package into dir (created;
// it must not exist): the certificates in share order, manifest.json and
// INSTRUCTIONS.txt. Files are written atomically and read back.
func WriteOperatorPackage(dir string, mode Mode, ceremonyID, hsmName string, quorum int, custodians []*Custodian, tool string) (*OperatorPackage, error) {
	if !hsmNameOK(hsmName) {
		return nil, fmt.Errorf("HSM name %q is not an Azure resource name (letters, digits and hyphens)", hsmName)
	}
	if err := CheckQuorum(len(custodians), quorum); err != nil {
		return nil, err
	}
	for i, c := range custodians {
		if c == nil || c.Certificate == nil {
			return nil, fmt.Errorf("custodian %d is not enrolled", i+1)
		}
		if c.Index != i {
			return nil, fmt.Errorf("custodian %q has index %d at position %d", c.Name, c.Index, i)
		}
	}
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("%s already exists: the operator package goes into a new folder", dir)
	}
	// Staged next to dir and moved into place complete: a failure leaves
	// no half package for someone to carry to the operator.
	stage, err := safefile.Stage(dir)
	if err != nil {
		return nil, err
	}
	defer stage.Abort()
	pkg := &OperatorPackage{Dir: dir, Manifest: BuildManifest(mode, ceremonyID, hsmName, quorum, custodians, tool)}
	for _, c := range custodians {
		name := c.CertificateFileName(mode)
		if err := safefile.Write(filepath.Join(stage.Path(), name), token.CertificatePEM(c.Certificate)); err != nil {
			return nil, err
		}
		pkg.Files = append(pkg.Files, name)
	}
	manifest, err := json.MarshalIndent(pkg.Manifest, "", "  ")
	if err != nil {
		return nil, err
	}
	manifestName := mode.FileName("manifest.json")
	if err := safefile.Write(filepath.Join(stage.Path(), manifestName), append(manifest, '\n')); err != nil {
		return nil, err
	}
	pkg.Files = append(pkg.Files, manifestName)
	var text bytes.Buffer
	sumsName := mode.FileName(ChecksumFile)
	if err := instructionsTemplate.Execute(&text, struct {
		M           Manifest
		Drill       bool
		Check, Sums string
	}{pkg.Manifest, mode == Drill, ChecksumCommand(filepath.Base(dir), sumsName), sumsName}); err != nil {
		return nil, err
	}
	instrName := mode.FileName("INSTRUCTIONS.txt")
	if err := safefile.Write(filepath.Join(stage.Path(), instrName), text.Bytes()); err != nil {
		return nil, err
	}
	pkg.Files = append(pkg.Files, instrName)
	// Last: the checksums of everything above, read back from disk.
	if _, err := WriteChecksums(stage.Path(), mode, pkg.Files); err != nil {
		return nil, err
	}
	pkg.Files = append(pkg.Files, sumsName)
	if err := stage.Commit(); err != nil {
		return nil, err
	}
	return pkg, nil
}

// ParseManifest reads a manifest.json written by WriteOperatorPackage.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := strictjson.UnmarshalKnown(data, &m, strictjson.Limits{MaxBytes: 1 << 20}); err != nil {
		return nil, fmt.Errorf("not a Custodian operator manifest: %w", err)
	}
	if m.Kind != ManifestKind {
		return nil, fmt.Errorf("custodian_kind is %q, not %q", m.Kind, ManifestKind)
	}
	if strings.TrimSpace(m.CeremonyID) == "" || len(m.Custodians) == 0 {
		return nil, errors.New("the manifest names no ceremony or no custodians")
	}
	return &m, nil
}
