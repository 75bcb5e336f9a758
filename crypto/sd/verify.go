package sd

import (
	"crypto/x509"
	"fmt"
	"strings"
)

// Finding is one result of a verification, naming what it is about.
type Finding struct {
	OK      bool
	Message string
}

// Report is the verification of an SD file against the enrolled
// certificates and the quorum chosen at activation (spec §9).
type Report struct {
	Shares   int
	Required int
	Items    int
	Findings []Finding
}

// OK reports whether every check passed.
func (r *Report) OK() bool {
	for _, f := range r.Findings {
		if !f.OK {
			return false
		}
	}
	return true
}

// Problems lists the failed checks.
func (r *Report) Problems() []string {
	var p []string
	for _, f := range r.Findings {
		if !f.OK {
			p = append(p, f.Message)
		}
	}
	return p
}

func (r *Report) add(ok bool, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{OK: ok, Message: fmt.Sprintf(format, args...)})
}

// String is the readable report.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "security domain: %d shares, quorum %d, %d EncData items\n", r.Shares, r.Required, r.Items)
	for _, f := range r.Findings {
		mark := "ok  "
		if !f.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "  %s %s\n", mark, f.Message)
	}
	if r.OK() {
		b.WriteString("verification passed\n")
	} else {
		fmt.Fprintf(&b, "verification FAILED: %d problem(s)\n", len(r.Problems()))
	}
	return b.String()
}

func subject(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.Subject.String()
}

// Verify holds an SD file against the enrolled custodian certificates and
// the quorum: every share maps to exactly one certificate, every
// certificate has exactly one share, required equals the quorum. With no
// certificates and quorum 0 only the structure is reported (ParseFile has
// already checked it).
func Verify(f *File, certs []*x509.Certificate, quorum int) *Report {
	r := &Report{Shares: len(f.SharedKeys.EncShares), Required: f.SharedKeys.Required, Items: len(f.EncData.Data)}
	r.add(f.SharedKeys.KeyAlgorithm == KeyAlgorithm, "key_algorithm is %q", f.SharedKeys.KeyAlgorithm)
	r.add(f.EncData.KDF == KDFName, "kdf is %q", f.EncData.KDF)
	r.add(f.SharedKeys.Required <= len(f.SharedKeys.EncShares), "required (%d) ≤ number of shares (%d)", f.SharedKeys.Required, len(f.SharedKeys.EncShares))
	if quorum != 0 {
		r.add(f.SharedKeys.Required == quorum, "required is %d; the quorum chosen at activation is %d", f.SharedKeys.Required, quorum)
	}
	if len(certs) == 0 {
		return r
	}
	byThumb := map[string]int{}
	for i, c := range certs {
		tp := Thumbprint(c.Raw)
		if j, dup := byThumb[tp]; dup {
			r.add(false, "certificates %d and %d are the same certificate (%s)", j+1, i+1, subject(c))
			continue
		}
		byThumb[tp] = i
	}
	shareOf := map[int]int{}
	for i, s := range f.SharedKeys.EncShares {
		ci, ok := byThumb[s.X5tS256]
		if !ok {
			r.add(false, "share %d (x5t_256 %s) belongs to no enrolled certificate: a foreign or re-issued certificate", i+1, s.X5tS256)
			continue
		}
		if prev, dup := shareOf[ci]; dup {
			r.add(false, "shares %d and %d both belong to certificate %d (%s)", prev+1, i+1, ci+1, subject(certs[ci]))
			continue
		}
		shareOf[ci] = i
		r.add(true, "share %d belongs to certificate %d (%s)", i+1, ci+1, subject(certs[ci]))
	}
	for i, c := range certs {
		if _, ok := shareOf[i]; !ok {
			r.add(false, "certificate %d (%s, x5t_256 %s) has no share: that custodian could not take part in a recovery", i+1, subject(c), Thumbprint(c.Raw))
		}
	}
	return r
}
