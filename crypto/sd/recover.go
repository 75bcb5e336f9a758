package sd

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/custodian-hsm/custodian/crypto/jwe"
	"github.com/custodian-hsm/custodian/crypto/kdf"
	"github.com/custodian-hsm/custodian/crypto/secret"
	"github.com/custodian-hsm/custodian/crypto/shamir"
)

// ShareKey is what opens a share: a token key or a software key, with the
// certificate the share is named after.
type ShareKey interface {
	Certificate() *x509.Certificate
	jwe.KeyDecrypter
}

// Share is an opened, validated share. It is secret: callers Wipe it.
type Share struct {
	// X is the share's x coordinate (1..N).
	X int
	// Index is the share's position in the SD file.
	Index int
	// Subject names the certificate that opened it.
	Subject string
	buf     *secret.Buffer
	value   []byte // view of buf
}

// Bytes returns the share's encoded words. They are secret.
func (s *Share) Bytes() []byte { return s.value }

// Wipe zeroes and releases the share.
func (s *Share) Wipe() {
	if s.buf != nil {
		s.buf.Wipe()
	}
	s.buf, s.value = nil, nil
}

// ErrNoShare is returned (wrapped) when a key matches no share.
var ErrNoShare = errors.New("matches no share in this security domain")

// OpenShare finds the share named after the key's certificate, decrypts it
// through the key (on the token) and validates it alone (spec §4).
func OpenShare(f *File, key ShareKey) (*Share, error) {
	cert := key.Certificate()
	if cert == nil {
		return nil, errors.New("the key has no certificate: a share is found by its certificate's SHA-256")
	}
	tp := Thumbprint(cert.Raw)
	idx := -1
	for i, s := range f.SharedKeys.EncShares {
		if s.X5tS256 == tp {
			idx = i
			break
		}
	}
	who := fmt.Sprintf("certificate %q (x5t_256 %s)", subject(cert), tp)
	if idx < 0 {
		return nil, fmt.Errorf("%s %w: is it a custodian of this HSM, with the exact certificate enrolled?", who, ErrNoShare)
	}
	o, err := jwe.Parse(f.SharedKeys.EncShares[idx].EncKey)
	if err != nil {
		return nil, fmt.Errorf("share %d for %s: %v", idx+1, who, err)
	}
	plain, err := o.Decrypt(key)
	if err != nil {
		return nil, fmt.Errorf("share %d for %s cannot be decrypted: %w", idx+1, who, err)
	}
	x, err := shamir.Validate(plain, len(f.SharedKeys.EncShares))
	if err != nil {
		clear(plain)
		return nil, fmt.Errorf("share %d for %s decrypts but is malformed: %w", idx+1, who, err)
	}
	buf, err := secret.Copy(plain) // wipes plain
	if err != nil {
		clear(plain)
		return nil, err
	}
	return &Share{X: x, Index: idx, Subject: subject(cert), buf: buf, value: buf.Bytes()}, nil
}

// Recovered is a rebuilt security domain: the master key and the
// plaintexts of the EncData items. It is secret: callers Wipe it.
type Recovered struct {
	file   *File
	buf    *secret.Buffer // holds the master key
	master []byte
	items  [][]byte
}

// MasterKey returns the security domain master key. It is secret.
func (r *Recovered) MasterKey() []byte { return r.master }

// Items returns the decrypted EncData items, in the file's order. Secret.
func (r *Recovered) Items() [][]byte { return r.items }

// Tags returns the EncData tags, in order.
func (r *Recovered) Tags() []string {
	tags := make([]string, len(r.file.EncData.Data))
	for i, it := range r.file.EncData.Data {
		tags[i] = it.Tag
	}
	return tags
}

// Wipe zeroes the master key and the item plaintexts.
func (r *Recovered) Wipe() {
	if r.buf != nil {
		r.buf.Wipe() // zeroes and unmaps: master points into it
	} else {
		clear(r.master)
	}
	for _, it := range r.items {
		clear(it)
	}
	r.master, r.items = nil, nil
}

// Recover rebuilds the security domain from opened shares. It needs at
// least `required` shares of distinct custodians. The master key is proven
// by decrypting every EncData item (each must authenticate). With more
// shares than required, two different M-subsets are reconstructed and must
// agree; when they do not, or a subset fails, the bad share is found by
// trying subsets and named.
func Recover(f *File, shares []*Share) (*Recovered, error) {
	m := f.SharedKeys.Required
	if len(shares) < m {
		return nil, fmt.Errorf("%d shares opened; this security domain needs %d: %d more custodians must open theirs", len(shares), m, m-len(shares))
	}
	byX := map[int]*Share{}
	for _, s := range shares {
		if s == nil || s.value == nil {
			return nil, errors.New("a share was wiped before recovery")
		}
		if prev, dup := byX[s.X]; dup {
			return nil, fmt.Errorf("%s and %s opened the same share x=%d: one custodian cannot count twice", prev.Subject, s.Subject, s.X)
		}
		byX[s.X] = s
	}
	first, err := tryRecover(f, shares[:m])
	if err == nil && len(shares) == m {
		return first, nil
	}
	if err == nil {
		// Cross-check with a second, different M-subset: the last M.
		second, err2 := tryRecover(f, shares[len(shares)-m:])
		if err2 == nil {
			same := bytes.Equal(second.master, first.master)
			second.Wipe()
			if same {
				return first, nil
			}
		}
		first.Wipe()
	}
	if len(shares) == m {
		return nil, fmt.Errorf("the %d shares do not rebuild this security domain (%v): one of them (%s) is wrong or corrupted; open another custodian's share to find which", m, err, names(shares))
	}
	return nil, nameBadShare(f, shares, m, err)
}

// nameBadShare looks for M-subsets that recover; the shares outside every
// good subset are the bad ones.
func nameBadShare(f *File, shares []*Share, m int, firstErr error) error {
	good := map[int]bool{}
	var anyGood *Recovered
	combinations(len(shares), m, func(idx []int) bool {
		sub := make([]*Share, m)
		for i, j := range idx {
			sub[i] = shares[j]
		}
		rec, err := tryRecover(f, sub)
		if err != nil {
			return true
		}
		for _, j := range idx {
			good[j] = true
		}
		if anyGood == nil {
			anyGood = rec
		} else {
			rec.Wipe()
		}
		return true
	})
	if anyGood != nil {
		anyGood.Wipe()
	}
	var bad []string
	for i, s := range shares {
		if !good[i] {
			bad = append(bad, fmt.Sprintf("share x=%d opened by %s", s.X, s.Subject))
		}
	}
	if len(good) == 0 {
		return fmt.Errorf("no %d of the %d opened shares rebuild this security domain (%v): the file or several shares are corrupted", m, len(shares), firstErr)
	}
	return fmt.Errorf("bad share: %s does not fit the others (every quorum without it rebuilds the security domain); set it aside and call another custodian", strings.Join(bad, ", "))
}

func names(shares []*Share) string {
	var n []string
	for _, s := range shares {
		n = append(n, fmt.Sprintf("x=%d %s", s.X, s.Subject))
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

// combinations calls f with every k-subset of 0..n-1 until f returns false.
func combinations(n, k int, f func([]int) bool) {
	idx := make([]int, k)
	var rec func(start, depth int) bool
	rec = func(start, depth int) bool {
		if depth == k {
			return f(idx)
		}
		for i := start; i <= n-(k-depth); i++ {
			idx[depth] = i
			if !rec(i+1, depth+1) {
				return false
			}
		}
		return true
	}
	rec(0, 0)
}

// tryRecover combines exactly these shares and authenticates every item.
func tryRecover(f *File, shares []*Share) (*Recovered, error) {
	values := make([][]byte, len(shares))
	for i, s := range shares {
		values[i] = s.value
	}
	combined, err := shamir.Combine(values)
	if err != nil {
		return nil, err
	}
	buf, err := secret.Copy(combined) // wipes combined
	if err != nil {
		clear(combined)
		return nil, err
	}
	master := buf.Bytes()
	rec := &Recovered{file: f, buf: buf, master: master}
	for i, it := range f.EncData.Data {
		plain, err := openItem(master, it)
		if err != nil {
			rec.Wipe()
			return nil, fmt.Errorf("EncData item %d (tag %q) does not authenticate with the rebuilt key: %w", i+1, it.Tag, err)
		}
		rec.items = append(rec.items, plain)
	}
	return rec, nil
}

func openItem(master []byte, it EncItem) ([]byte, error) {
	o, err := jwe.Parse(it.CompactJWE)
	if err != nil {
		return nil, err
	}
	if o.Header.Kid != "" && o.Header.Kid != it.Tag {
		return nil, fmt.Errorf("the item's JWE kid %q differs from its tag", o.Header.Kid)
	}
	cek, err := kdf.EncDataKey(master, it.Tag)
	if err != nil {
		return nil, err
	}
	defer clear(cek)
	return o.DecryptDir(cek)
}
