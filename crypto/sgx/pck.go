package sgx

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
)

// Intel's PCK certificate extension (SGX PCK Certificate and CRL Profile).
var (
	OIDSGXExtensions = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	oidTCB           = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 2}
	oidPCEID         = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 3}
	oidFMSPC         = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 4}
)

// PCKTCB is the platform's TCB as its PCK certificate states it.
type PCKTCB struct {
	CompSVN [16]uint8
	PCESVN  uint16
	CPUSVN  [16]byte
}

type pckEntry struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

// pckFacts reads FMSPC, PCE ID and TCB from a PCK certificate's SGX
// extension.
func pckFacts(c *x509.Certificate) (fmspc [6]byte, pceid [2]byte, tcb PCKTCB, err error) {
	var raw []byte
	for _, e := range c.Extensions {
		if e.Id.Equal(OIDSGXExtensions) {
			raw = e.Value
		}
	}
	if raw == nil {
		return fmspc, pceid, tcb, fmt.Errorf("the PCK certificate has no SGX extension (%s)", OIDSGXExtensions)
	}
	var entries []pckEntry
	if rest, err := asn1.Unmarshal(raw, &entries); err != nil || len(rest) != 0 {
		return fmspc, pceid, tcb, fmt.Errorf("the PCK certificate's SGX extension does not parse")
	}
	found := 0
	for _, e := range entries {
		switch {
		case e.ID.Equal(oidFMSPC):
			err = octets(e.Value, fmspc[:], "FMSPC")
			found++
		case e.ID.Equal(oidPCEID):
			err = octets(e.Value, pceid[:], "PCE ID")
			found++
		case e.ID.Equal(oidTCB):
			tcb, err = parseTCB(e.Value)
			found++
		}
		if err != nil {
			return fmspc, pceid, tcb, err
		}
	}
	if found != 3 {
		return fmspc, pceid, tcb, fmt.Errorf("the PCK certificate's SGX extension lacks its FMSPC, PCE ID or TCB")
	}
	return fmspc, pceid, tcb, nil
}

func octets(v asn1.RawValue, dst []byte, what string) error {
	var b []byte
	if _, err := asn1.Unmarshal(v.FullBytes, &b); err != nil || len(b) != len(dst) {
		return fmt.Errorf("the PCK certificate's %s is not %d bytes", what, len(dst))
	}
	copy(dst, b)
	return nil
}

func parseTCB(v asn1.RawValue) (PCKTCB, error) {
	var t PCKTCB
	var entries []pckEntry
	if _, err := asn1.Unmarshal(v.FullBytes, &entries); err != nil {
		return t, fmt.Errorf("the PCK certificate's TCB does not parse")
	}
	for _, e := range entries {
		if len(e.ID) != len(oidTCB)+1 || !e.ID[:len(oidTCB)].Equal(oidTCB) {
			continue
		}
		n := e.ID[len(oidTCB)]
		switch {
		case n >= 1 && n <= 16:
			var x int
			if _, err := asn1.Unmarshal(e.Value.FullBytes, &x); err != nil || x < 0 || x > 255 {
				return t, fmt.Errorf("the PCK certificate's TCB component %d is not 0–255", n)
			}
			t.CompSVN[n-1] = uint8(x)
		case n == 17:
			var x int
			if _, err := asn1.Unmarshal(e.Value.FullBytes, &x); err != nil || x < 0 || x > 65535 {
				return t, fmt.Errorf("the PCK certificate's PCESVN is not 0–65535")
			}
			t.PCESVN = uint16(x)
		case n == 18:
			if err := octets(e.Value, t.CPUSVN[:], "CPUSVN"); err != nil {
				return t, err
			}
		}
	}
	return t, nil
}
