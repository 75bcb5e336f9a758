package qr

import (
	"errors"
	"fmt"

	"github.com/custodian-hsm/custodian/ceremony/transfer/filekind"
	"github.com/custodian-hsm/custodian/ceremony/transfer/ur"
)

// ErrPrivateKey refuses a private key: it must never cross the air gap.
var ErrPrivateKey = errors.New("this is a private key: it must never cross the air gap")

// FileFor wraps a file for QR transfer, saying what it is: the kind
// detected from its contents (a certificate, SD file, exchange key,
// restore blob, transcript, operator manifest, or other). It also returns
// the detection, whose Err says when a file looks like a kind but fails
// its checks, so the sender can be warned before sending it.
func FileFor(name string, data []byte) (ur.File, filekind.Result, error) {
	det := filekind.Detect(data)
	if det.Kind == filekind.PrivateKey {
		return ur.File{}, det, fmt.Errorf("%s: %w", name, ErrPrivateKey)
	}
	return ur.File{Kind: kindOf(det.Kind), Name: name, Data: data}, det, nil
}

// kindOf maps a detected kind to the envelope's kind.
func kindOf(k filekind.Kind) ur.Kind {
	switch k {
	case filekind.Certificate:
		return ur.KindCertificate
	case filekind.SecurityDomain:
		return ur.KindSDFile
	case filekind.ExchangeKey:
		return ur.KindExchangeKey
	case filekind.RestoreBlob:
		return ur.KindRestoreBlob
	case filekind.Transcript:
		return ur.KindTranscript
	case filekind.CustodianManifest:
		return ur.KindOperatorPackage
	}
	return ur.KindOther
}
