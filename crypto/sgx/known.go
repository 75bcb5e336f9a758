package sgx

import (
	"encoding/hex"
	"fmt"
)

// Identity is an enclave signer: MRSIGNER and ISVPRODID, with the ISVSVN
// seen and where and when it was observed.
type Identity struct {
	MRSIGNER  [32]byte
	ISVProdID uint16
	ISVSVN    uint16 // the security version seen (a lower one is a downgrade)
	Name      string
	Observed  string // where it was seen
	Since     string // when, as YYYY-MM
	// Drill marks the drill HSM's signer, known only under the DRILL root.
	Drill bool
}

func (id Identity) String() string {
	return fmt.Sprintf("MRSIGNER %s ISVPRODID %d ISVSVN %d", hex.EncodeToString(id.MRSIGNER[:]), id.ISVProdID, id.ISVSVN)
}

func mustHex32(s string) (b [32]byte) {
	if n, err := hex.Decode(b[:], []byte(s)); err != nil || n != 32 {
		panic("sgx: bad identity constant")
	}
	return b
}

// DrillMRSIGNER and DrillMRENCLAVE are the drill HSM's made-up enclave
// identity: SHA-256 of "Custodian DRILL enclave signer" and of "Custodian
// DRILL Managed HSM enclave", only ever under the DRILL root.
var (
	DrillMRSIGNER  = mustHex32("ec7a39f57fbab439b0bc9976dfadb12c66e844e9b589ebd28d31980acf305b9b")
	DrillMRENCLAVE = mustHex32("d9f181ac854233f5b43ac4e8675145a26a7d26ce73d5de67d5c106dd94c117f0")
)

// KnownSigners are the Managed HSM enclave signers Custodian ships. An
// exchange key from any other signer needs a witnessed exception.
var KnownSigners = []Identity{
	{
		MRSIGNER:  mustHex32("db55904b231f08298eb093180562d07631c3cab9b7706b2efa53da58b42c943a"),
		ISVProdID: 1, ISVSVN: 1,
		Name:     "Azure Key Vault Managed HSM",
		Observed: "the exchange certificate of a live Managed HSM (test-mhsm-sd2q2avldvp4tl.managedhsm.azure.net) in the Azure CLI 2.71 test recording test_keyvault_hsm_security_domain, recorded 2025-04-22",
		Since:    "2025-04",
	},
	{
		MRSIGNER: DrillMRSIGNER, ISVProdID: 1, ISVSVN: 1,
		Name: "DRILL HSM (Custodian's simulator)", Observed: "Custodian's drill HSM", Since: "drills", Drill: true,
	},
}

// KnownSigner returns the shipped identity the result's enclave signer
// matches, if any. A drill identity matches only under a DRILL root, and
// Intel's-root results match only production identities.
func KnownSigner(r *Result) (Identity, bool) {
	for _, id := range KnownSigners {
		if id.MRSIGNER == r.Facts.MRSIGNER && id.ISVProdID == r.Facts.ISVProdID && id.Drill == r.Drill() {
			return id, true
		}
	}
	return Identity{}, false
}

// IdentityOf is the enclave identity a result states.
func IdentityOf(r *Result) Identity {
	return Identity{MRSIGNER: r.Facts.MRSIGNER, ISVProdID: r.Facts.ISVProdID, ISVSVN: r.Facts.ISVSVN, Drill: r.Drill()}
}
