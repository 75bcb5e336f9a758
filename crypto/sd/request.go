package sd

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
)

// BuildDownloadRequest builds the body of the security-domain download
// request (spec §2): one JWK per certificate, in order (that order becomes
// share x = 1..N), and the quorum. It makes the checks the Azure CLI
// skips: 3 ≤ N ≤ 10, 2 ≤ M ≤ N, RSA ≥ 2048, no certificate twice.
func BuildDownloadRequest(certs []*x509.Certificate, quorum int) ([]byte, error) {
	if len(certs) < MinShares || len(certs) > MaxShares {
		return nil, fmt.Errorf("a security domain takes %d to %d custodian certificates; %d given", MinShares, MaxShares, len(certs))
	}
	if quorum < MinRequired || quorum > len(certs) {
		return nil, fmt.Errorf("the quorum must be between %d and the number of certificates (%d); %d given", MinRequired, len(certs), quorum)
	}
	seen := map[string]int{}
	var b bytes.Buffer
	b.WriteString(`{"certificates": [`)
	for i, c := range certs {
		pub, err := rsaKeyOf(c, fmt.Sprintf("certificate %d", i+1))
		if err != nil {
			return nil, err
		}
		tp := Thumbprint(c.Raw)
		if j, dup := seen[tp]; dup {
			return nil, fmt.Errorf("certificate %d is the same as certificate %d: each custodian needs their own", i+1, j+1)
		}
		seen[tp] = i
		if i > 0 {
			b.WriteString(", ")
		}
		// Member order as the Azure CLI writes them.
		b.WriteString(`{"x5c": [`)
		writeString(&b, base64.StdEncoding.EncodeToString(c.Raw))
		b.WriteString(`], "x5t": `)
		writeString(&b, ThumbprintSHA1(c.Raw))
		b.WriteString(`, "x5t#S256": `)
		writeString(&b, tp)
		b.WriteString(`, "key_ops": ["verify", "encrypt", "wrapKey"], "kty": "RSA", "alg": "RSA-OAEP-256", "n": `)
		writeString(&b, b64uInt(pub.N))
		b.WriteString(`, "e": `)
		writeString(&b, b64uInt(big.NewInt(int64(pub.E))))
		b.WriteByte('}')
	}
	fmt.Fprintf(&b, `], "required": %d}`, quorum)
	return b.Bytes(), nil
}
