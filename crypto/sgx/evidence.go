package sgx

import (
	"encoding/binary"
	"fmt"
)

// Layout of the evidence (all integers little-endian).
const (
	oeHeaderSize     = 16 // u32 version, u32 report type, u64 size
	oeVersion        = 1
	oeReportTypeSGX  = 2 // SGX remote (ECDSA) report
	QuoteHeaderSize  = 48
	ReportBodySize   = 384
	signedQuoteSize  = QuoteHeaderSize + ReportBodySize // what the attestation key signs
	quoteVersion     = 3
	attKeyECDSAP256  = 2
	certDataPCKChain = 5 // PEM PCK certificate chain

	// MaxExtension bounds the whole extension: the live one is 4,750
	// bytes; a PCK chain of three certificates fits many times over.
	MaxExtension = 32 << 10
	// MaxQEAuthData bounds the QE authentication data (32 bytes live).
	MaxQEAuthData = 1024
	// MaxChainCerts bounds the certificates read from the chain.
	MaxChainCerts = 4
)

// Evidence is a parsed attestation extension. Marshal gives back the
// exact bytes.
type Evidence struct {
	OEVersion    uint32
	OEReportType uint32

	Header [QuoteHeaderSize]byte // version, key type, QE/PCE SVN, QE vendor ID, user data
	Body   [ReportBodySize]byte  // the enclave's report body

	Signature         [64]byte // over Header‖Body, r‖s
	AttestationKey    [64]byte // P-256 x‖y
	QEReport          [ReportBodySize]byte
	QEReportSignature [64]byte // over QEReport, by the PCK key
	QEAuthData        []byte
	CertDataType      uint16
	CertData          []byte // the PEM PCK chain for type 5
}

// QuoteVersion is the quote header's version field.
func (e *Evidence) QuoteVersion() uint16 { return binary.LittleEndian.Uint16(e.Header[0:]) }

// AttestationKeyType is the quote header's key type (2 = ECDSA P-256).
func (e *Evidence) AttestationKeyType() uint16 { return binary.LittleEndian.Uint16(e.Header[2:]) }

// QEVendorID is the quote header's QE vendor ID.
func (e *Evidence) QEVendorID() (id [16]byte) {
	copy(id[:], e.Header[12:28])
	return id
}

// Report is an SGX report body, decoded.
type Report struct {
	CPUSVN     [16]byte
	MiscSelect uint32
	Attributes uint64 // flags
	XFRM       uint64
	MRENCLAVE  [32]byte
	MRSIGNER   [32]byte
	ISVProdID  uint16
	ISVSVN     uint16
	ReportData [64]byte
}

// AttributeDebug is the attributes flag of a debug enclave.
const AttributeDebug = 0x02

// DecodeReport decodes a 384-byte SGX report body.
func DecodeReport(b *[ReportBodySize]byte) Report {
	var r Report
	copy(r.CPUSVN[:], b[0:16])
	r.MiscSelect = binary.LittleEndian.Uint32(b[16:])
	r.Attributes = binary.LittleEndian.Uint64(b[48:])
	r.XFRM = binary.LittleEndian.Uint64(b[56:])
	copy(r.MRENCLAVE[:], b[64:96])
	copy(r.MRSIGNER[:], b[128:160])
	r.ISVProdID = binary.LittleEndian.Uint16(b[256:])
	r.ISVSVN = binary.LittleEndian.Uint16(b[258:])
	copy(r.ReportData[:], b[320:384])
	return r
}

// FormatError says where the evidence stops making sense.
type FormatError struct {
	Offset int    // byte offset in the extension
	Field  string // the field being read
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("at byte %d (%s): %s", e.Offset, e.Field, e.Msg)
}

// reader reads fixed fields from a bounded buffer; every read checks the
// remaining length, so a hostile length can neither over-read nor make it
// allocate more than the input.
type reader struct {
	b   []byte
	off int
}

func (r *reader) take(n int, field string) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.off {
		return nil, &FormatError{Offset: r.off, Field: field, Msg: fmt.Sprintf("needs %d bytes, %d left", n, len(r.b)-r.off)}
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s, nil
}

func (r *reader) u16(field string) (uint16, error) {
	b, err := r.take(2, field)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (r *reader) u32(field string) (uint32, error) {
	b, err := r.take(4, field)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (r *reader) fixed(dst []byte, field string) error {
	b, err := r.take(len(dst), field)
	if err == nil {
		copy(dst, b)
	}
	return err
}

// ParseEvidence parses the extension's bytes. It checks every length and
// that nothing is left over; it checks no signature.
func ParseEvidence(b []byte) (*Evidence, error) {
	if len(b) > MaxExtension {
		return nil, &FormatError{Field: "extension", Msg: fmt.Sprintf("%d bytes, over the %d-byte limit", len(b), MaxExtension)}
	}
	r := &reader{b: b}
	e := &Evidence{}
	var err error
	if e.OEVersion, err = r.u32("Open Enclave header version"); err != nil {
		return nil, err
	}
	if e.OEVersion != oeVersion {
		return nil, &FormatError{Offset: 0, Field: "Open Enclave header version", Msg: fmt.Sprintf("%d, expected %d", e.OEVersion, oeVersion)}
	}
	if e.OEReportType, err = r.u32("Open Enclave report type"); err != nil {
		return nil, err
	}
	if e.OEReportType != oeReportTypeSGX {
		return nil, &FormatError{Offset: 4, Field: "Open Enclave report type", Msg: fmt.Sprintf("%d, expected %d (SGX remote)", e.OEReportType, oeReportTypeSGX)}
	}
	sizeB, err := r.take(8, "Open Enclave report size")
	if err != nil {
		return nil, err
	}
	if size := binary.LittleEndian.Uint64(sizeB); size != uint64(len(b)-oeHeaderSize) {
		return nil, &FormatError{Offset: 8, Field: "Open Enclave report size", Msg: fmt.Sprintf("says %d bytes follow, %d do", size, len(b)-oeHeaderSize)}
	}
	if err := parseQuote(r, e); err != nil {
		return nil, err
	}
	if r.off != len(b) {
		return nil, &FormatError{Offset: r.off, Field: "end", Msg: fmt.Sprintf("%d bytes left over after the quote", len(b)-r.off)}
	}
	return e, nil
}

func parseQuote(r *reader, e *Evidence) error {
	start := r.off
	if err := r.fixed(e.Header[:], "quote header"); err != nil {
		return err
	}
	if v := e.QuoteVersion(); v != quoteVersion {
		return &FormatError{Offset: start, Field: "quote version", Msg: fmt.Sprintf("%d, expected %d", v, quoteVersion)}
	}
	if k := e.AttestationKeyType(); k != attKeyECDSAP256 {
		return &FormatError{Offset: start + 2, Field: "attestation key type", Msg: fmt.Sprintf("%d, expected %d (ECDSA P-256)", k, attKeyECDSAP256)}
	}
	if err := r.fixed(e.Body[:], "report body"); err != nil {
		return err
	}
	sigLen, err := r.u32("signature data length")
	if err != nil {
		return err
	}
	if int64(sigLen) != int64(len(r.b)-r.off) {
		return &FormatError{Offset: r.off - 4, Field: "signature data length", Msg: fmt.Sprintf("says %d bytes, %d follow", sigLen, len(r.b)-r.off)}
	}
	return parseSignatureData(r, e)
}

func parseSignatureData(r *reader, e *Evidence) error {
	for _, f := range []struct {
		dst  []byte
		name string
	}{{e.Signature[:], "quote signature"}, {e.AttestationKey[:], "attestation key"},
		{e.QEReport[:], "QE report"}, {e.QEReportSignature[:], "QE report signature"}} {
		if err := r.fixed(f.dst, f.name); err != nil {
			return err
		}
	}
	authLen, err := r.u16("QE auth data length")
	if err != nil {
		return err
	}
	if authLen > MaxQEAuthData {
		return &FormatError{Offset: r.off - 2, Field: "QE auth data length", Msg: fmt.Sprintf("%d, over the %d-byte limit", authLen, MaxQEAuthData)}
	}
	auth, err := r.take(int(authLen), "QE auth data")
	if err != nil {
		return err
	}
	e.QEAuthData = append([]byte(nil), auth...)
	if e.CertDataType, err = r.u16("certification data type"); err != nil {
		return err
	}
	if e.CertDataType != certDataPCKChain {
		return &FormatError{Offset: r.off - 2, Field: "certification data type", Msg: fmt.Sprintf("%d, expected %d (PCK certificate chain)", e.CertDataType, certDataPCKChain)}
	}
	certLen, err := r.u32("certification data size")
	if err != nil {
		return err
	}
	if int64(certLen) != int64(len(r.b)-r.off) {
		return &FormatError{Offset: r.off - 4, Field: "certification data size", Msg: fmt.Sprintf("says %d bytes, %d follow", certLen, len(r.b)-r.off)}
	}
	cd, _ := r.take(int(certLen), "certification data")
	e.CertData = append([]byte(nil), cd...)
	return nil
}

// Marshal encodes the evidence in the extension's layout, fixing up every
// length field.
func (e *Evidence) Marshal() []byte {
	sigLen := 64 + 64 + ReportBodySize + 64 + 2 + len(e.QEAuthData) + 2 + 4 + len(e.CertData)
	total := oeHeaderSize + signedQuoteSize + 4 + sigLen
	b := make([]byte, 0, total)
	b = binary.LittleEndian.AppendUint32(b, e.OEVersion)
	b = binary.LittleEndian.AppendUint32(b, e.OEReportType)
	b = binary.LittleEndian.AppendUint64(b, uint64(total-oeHeaderSize))
	b = append(b, e.Header[:]...)
	b = append(b, e.Body[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(sigLen))
	b = append(b, e.Signature[:]...)
	b = append(b, e.AttestationKey[:]...)
	b = append(b, e.QEReport[:]...)
	b = append(b, e.QEReportSignature[:]...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(e.QEAuthData)))
	b = append(b, e.QEAuthData...)
	b = binary.LittleEndian.AppendUint16(b, e.CertDataType)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(e.CertData)))
	return append(b, e.CertData...)
}

// SignedBytes is what the attestation key signs: header ‖ report body.
func (e *Evidence) SignedBytes() []byte {
	return append(append(make([]byte, 0, signedQuoteSize), e.Header[:]...), e.Body[:]...)
}
