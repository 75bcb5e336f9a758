// Package piv is Custodian's YubiKey backend: the token.Provider for
// "yubikey:serial=N;slot=9d" references. A custodian's key is an RSA key
// generated on the YubiKey in the key-management slot 9d (or a retired
// slot 82–95), with PIN policy "once", next to a self-signed certificate
// the YubiKey signed itself; the security domain's shares are encrypted to
// that certificate.
//
// # Two paths to the card, and why
//
// go-piv/piv-go does most of the work: listing, serial, version, form
// factor, slot metadata, PIN/PUK/management-key changes, the PIN-protected
// management key, key generation, certificates and attestation.
//
// Decryption does not go through piv-go. Its Decrypt ignores the options
// it is given and always strips PKCS#1 v1.5 padding (go-piv/piv-go#186),
// so an RSA-OAEP ciphertext — every share of a Managed HSM security
// domain is RSA-OAEP-256 — fails or, worse, yields garbage. The card
// itself only performs the raw RSA operation (GENERAL AUTHENTICATE, INS
// 87, template 7C { 82 00, 81 <ciphertext> }); padding is the host's job.
// So, after piv-go has released the card, Custodian opens the reader
// through its own minimal PC/SC binding (crypto/token/pcsc) and, in one
// transaction, sends SELECT (PIV), VERIFY (the PIN, when the slot's PIN
// policy asks for one) and GENERAL AUTHENTICATE with the slot's algorithm
// (07 RSA-2048, 05 RSA-3072, 16 RSA-4096), chaining the command and
// collecting the answer with GET RESPONSE. Custodian then checks the raw
// result against the public key (m^e mod n must give back the ciphertext)
// and removes the padding with crypto/oaep (RSA-OAEP-256, RSA-OAEP,
// RSA1_5). Key.DecryptPath records this: "raw RSA on the YubiKey (GENERAL
// AUTHENTICATE), OAEP decoded in Custodian". The same path answers Yubico's
// GET METADATA for the PIN, PUK and management key (default values, retry
// counters), which piv-go does not expose.
//
// The session that verified a PIN ends with a card reset, so the PIN does
// not stay verified for the next program; a Key keeps the PIN in memory
// until Close to present it again for each decryption.
//
// # PINs
//
// Every PIN entry first reads the retry counter without spending a try
// (GET METADATA, or an empty VERIFY on firmware before 5.3): a blocked PIN
// is a *token.PINError with Blocked, and with one retry left the backend
// returns a *token.PINError with LastRetry unless the caller set
// AllowLastRetry after warning the person. A wrong PIN is a
// *token.PINError with the retries left. piv-go's API takes PINs as
// strings; Custodian hands it a string that aliases the PIN's []byte
// (pinString) so wiping the slice wipes it.
//
// # Credentials before enrollment
//
// Enroll refuses a YubiKey whose PIN, PUK or management key is still the
// factory default (*DefaultCredentialsError names which). ChangePIN,
// ChangePUK, Unblock and SetRandomManagementKey fix that;
// SetRandomManagementKey stores a random 24-byte management key in the
// PIN-protected data object, as ykman's "PIN-protected management key"
// does (AES-192 on firmware 5.4 and later, whose 5.7 factory default is
// AES-192 too; 3DES before).
//
// # Attestation
//
// Each enrollment is attested: the YubiKey signs a certificate for the
// slot's key with its F9 attestation key, whose certificate Yubico signed.
// The chain is checked with piv-go's verifier against Yubico's PIV
// attestation roots (embedded in piv-go), or against Options.AttestationRoots
// — the virtual card's test root in drills and tests. The attested key
// must be the certificate's key.
//
// # Virtual cards
//
// The virtual YubiKeys a drill made are named by their serial numbers in
// Options.DrillSerials: they are listed as "virtual YubiKey, DRILL" with
// Drill set. Reader names decide nothing (the rig's readers are named like
// a YubiKey's, as ykcs11 requires).
//
// # Tests
//
// The card suite (suite_test.go, recovery_test.go) runs against the
// virtual YubiKey (internal/testinfra/virtualpiv) through a real pcscd
// with vpcd readers (packages pcscd and vsmartcard-vpcd; the rig in
// internal/testinfra/virtualpiv/rig); without them it skips, except under
// CI=true, where it fails. Tests without a card cover the framing, TLVs,
// PIN-status mapping, validation and attestation parsing.
//
// The same suite runs against a real YubiKey with
//
//	go test ./crypto/token/piv -run Real -args -custodian.real-yubikey -custodian.wipe-yubikey
//
// which RESETS THE YUBIKEY'S PIV APPLICATION (all its PIV keys and
// certificates are destroyed) before and after: use a spare key. The
// first flag alone only lists what the test would use.
package piv
