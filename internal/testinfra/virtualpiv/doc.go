// Package virtualpiv is Custodian's virtual YubiKey: a PIV card written in
// Go that answers command APDUs like a YubiKey 5 (firmware 5.7) PIV
// application does, closely enough for go-piv/piv-go v2 and for
// crypto/token/piv's raw PC/SC path. Tests and drills attach it to a
// real pcscd through vsmartcard's vpcd driver (package rig), so that the
// code under test talks PC/SC exactly as it would to a YubiKey.
//
// # What the card implements
//
//   - SELECT of the PIV application (A0 00 00 03 08, any prefix of the
//     full AID), of Yubico's management application (READ CONFIG: serial,
//     form factor, version) and of the OTP application (serial, for
//     firmware before 5); GET VERSION (FD) and GET SERIAL (F8).
//   - VERIFY PIN (20, P2 80) with a retry counter (3) and blocking; an
//     empty VERIFY answers 9000 when verified and 63Cx otherwise; P1 FF
//     forgets the verification. CHANGE REFERENCE DATA (24) for PIN and
//     PUK, RESET RETRY COUNTER (2C) with the PUK, SET PIN RETRIES (FA).
//     New PINs and PUKs must be 6–8 bytes. Factory values: PIN 123456,
//     PUK 12345678.
//   - Management-key authentication (GENERAL AUTHENTICATE, key 9B):
//     mutual (witness, then witness + challenge) and external
//     (challenge, then response), for 3DES and AES-128/192/256. The
//     factory key is 010203040506070801020304050607080102030405060708,
//     AES-192 on firmware 5.7 (3DES with Options.LegacyManagementKey or an
//     older Options.Version). SET MANAGEMENT KEY (FF) changes key and
//     algorithm, P2 FE adds a touch requirement.
//   - GET METADATA (F7) for PIN and PUK (default flag, retries), the
//     management key (algorithm, touch, default flag), the key slots
//     (algorithm, PIN and touch policy, origin, public key) and F9.
//   - GENERATE ASYMMETRIC KEY PAIR (47) for RSA 1024/2048/3072/4096 and
//     ECC P-256/P-384 in slots 9A, 9C, 9D, 9E and 82–95, with Yubico's PIN
//     (AA) and touch (AB) policy tags and a YubiKey's per-slot defaults;
//     IMPORT (FE) and MOVE/DELETE KEY (F6). Private keys stay inside the
//     Card value: no method returns them.
//   - GENERAL AUTHENTICATE (87) with a slot key: raw RSA (the input must be
//     exactly the modulus length and below the modulus; the card returns
//     input^d mod n and does no padding), ECDSA signatures and ECDH. PIN
//     policies are enforced: never, once (PIN verified in this session),
//     always (VERIFY must be the command right before). Touch policies
//     always and cached (15 s) call Options.Touch, which defaults to an
//     immediate touch, so a test or a drill can watch "waiting for touch"
//     and can also refuse the touch (the card answers 6982).
//   - ATTEST (F9): an X.509 certificate for a generated key, signed by the
//     card's attestation key (slot F9), with Yubico's extensions
//     1.3.6.1.4.1.41482.3.3 (firmware), .3.7 (serial), .3.8 (PIN and
//     touch policy) and .3.9 (form factor) and the subject "YubiKey PIV
//     Attestation <slot>", so piv-go's Verifier accepts it when given the
//     TEST root (Authority.Pool) in place of Yubico's. The F9 certificate
//     is GET DATA 5FFF01.
//   - GET DATA / PUT DATA (CB/DB) for the PIV objects 5FC101–5FC123 and
//     Yubico's 5FFF00–5FFF15 (certificates of every slot, CHUID, CCC, the
//     "printed" object 5FC109 where piv-go keeps a PIN-protected
//     management key, readable only after VERIFY PIN), the discovery
//     object 7E; objects up to 3052 bytes.
//   - RESET (FB) only when PIN and PUK are both blocked; it keeps the
//     attestation key and certificate.
//   - Command chaining (CLA 10) and GET RESPONSE (C0, answered with 61xx
//     for responses longer than 256 bytes or than Le); short and extended
//     APDUs are parsed, responses are always chunked as short ones.
//   - ISO 7816-4 status words: 6982, 6983, 63Cx, 6700, 6883, 6985, 6A80,
//     6A82, 6A84, 6A86, 6A88, 6D00, 6E00.
//
// # What it does not implement
//
// Secure messaging, biometrics (VERIFY UV, PIN policies 04/05), Ed25519
// and X25519, the PIN-only / "protected" management-key modes of
// yubikey-manager beyond storing the printed object, the CCID layer
// itself (vpcd provides it), timing and power behaviour of real hardware,
// FIPS modes. The attestation key is ECDSA P-256 (real YubiKeys mostly use
// RSA-2048 there). State lives in memory only.
//
// # Security
//
// The virtual card and vsmartcard-vpcd are for tests and drills ONLY. Its
// keys are DRILL keys held in ordinary process memory, and its
// attestations chain to a TEST root created in the process, never to
// Yubico: a verifier that trusts Authority.Pool accepts keys that no
// hardware protects. vpcd, in its usual configuration
// (DEVICENAME /dev/null:<port>), makes pcscd listen for virtual cards on
// every network interface: anyone who can reach that port can present a
// card to the machine. The vsmartcard-vpcd package must therefore never be
// installed on a ceremony machine. Package rig only uses vpcd's other mode,
// in which pcscd connects to a card listening on 127.0.0.1.
//
// The package lives under internal/testinfra: tests import it, and so does
// the drill build (build tag drillbuild, `make build-drill`) for its
// virtual-YubiKey drills. The production binary never links it, which
// `make test` checks (internal/testinfra/depscheck).
//
// # Fidelity
//
// Where Yubico's own tools look, the card answers as a YubiKey 5.7 does:
// the rig's tests run ykman (info, piv info, piv reset), yubico-piv-tool
// and pkcs11-tool through OpenSC and ykcs11 against it. In particular
// CHANGE REFERENCE DATA and RESET RETRY COUNTER check the current PIN or
// PUK before the new value's format (ykman's reset relies on it), and a
// management-key authentication with the wrong algorithm answers 6A80.
package virtualpiv
