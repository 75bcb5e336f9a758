package drillhsm

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/custodian-hsm/custodian/crypto/jwe"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/secret"
	"github.com/custodian-hsm/custodian/crypto/shamir"
)

// liveDomain is what a running HSM knows of its security domain: the
// master key (locked memory) and the encrypted items. A drill HSM keeps it
// only in the memory of the process that activated it, as a real HSM
// keeps it in its own; it is never written to the drill HSM's folder.
type liveDomain struct {
	master  *secret.Buffer
	encData sd.EncData
}

func (h *HSM) remember(master []byte, enc sd.EncData) error {
	buf, err := secret.Copy(append([]byte(nil), master...))
	if err != nil {
		return err
	}
	h.Forget()
	h.live = &liveDomain{master: buf, encData: enc}
	return nil
}

// Forget wipes what the running drill HSM holds in memory.
func (h *HSM) Forget() {
	if h.live != nil {
		h.live.master.Wipe()
		h.live = nil
	}
}

// Redownload is the operator downloading the security domain of an
// activated HSM again for new custodian certificates and quorum, as a
// custodian rotation does: the same master key and items, new shares.
// It works only in the process that activated the HSM (a drill HSM opened
// from its folder does not know its key).
func (h *HSM) Redownload(certs []*x509.Certificate, quorum int) ([]byte, error) {
	if !h.state.Activated {
		return nil, errors.New("this drill HSM was never activated: there is nothing to download again")
	}
	if h.live == nil {
		return nil, errors.New("this drill HSM was opened from its folder and does not know its key: run the rotation in the same drill as the activation")
	}
	if _, err := sd.BuildDownloadRequest(certs, quorum); err != nil {
		return nil, err
	}
	shares, err := shamir.Split(h.live.master.Bytes(), len(certs), quorum, h.Random)
	if err != nil {
		return nil, err
	}
	file := &sd.File{Version: 2, EncData: h.live.encData, SharedKeys: sd.SharedKeys{KeyAlgorithm: sd.KeyAlgorithm, Required: quorum}}
	var thumbs []string
	for i, c := range certs {
		pub, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("certificate %d is not RSA", i+1)
		}
		enc, err := jwe.EncryptRSAOAEP256(pub, newGUID(h.Random), shares[i], h.Random)
		clear(shares[i])
		if err != nil {
			return nil, err
		}
		tp := sd.Thumbprint(c.Raw)
		thumbs = append(thumbs, tp)
		file.SharedKeys.EncShares = append(file.SharedKeys.EncShares, sd.EncShare{EncKey: enc, X5tS256: tp})
	}
	h.state.Quorum, h.state.Shares = quorum, thumbs
	if err := h.save(); err != nil {
		return nil, err
	}
	return file.Marshal(), nil
}
