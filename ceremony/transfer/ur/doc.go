// Package ur moves Custodian files across the air gap as Uniform Resources
// (Blockchain Commons BCR-2020-005) so that they can be shown and scanned as
// QR codes.
//
// A UR is "ur:<type>/<body>" where the body is the CBOR message written in
// minimal Bytewords (crypto/bytewords, with its CRC-32). A message too long
// for one QR code is split by a fountain code into parts
// "ur:<type>/<seqNum>-<seqLen>/<body>", each body being the CBOR array
// [seqNum, seqLen, messageLen, checksum, fragment]. Parts 1..seqLen carry the
// plain fragments; later parts XOR a pseudo-random set of fragments chosen
// with Xoshiro256** seeded from SHA-256 of seqNum and the message CRC-32, so a
// receiver that misses frames recovers the message from whatever later frames
// it catches, in any order. The generator, degree sampler and fragment
// chooser follow the reference implementation bit for bit (the tests assert
// the published vectors), so any conforming UR decoder can read our output.
//
// # Custodian file envelope
//
// Files travel as UR type "custodian-file" whose CBOR message is a map with
// unsigned-integer keys, written in this order with minimal-length heads:
//
//	1: kind  (text)  one of certificate, sd-file, exchange-key, restore-blob,
//	                 operator-package, transcript, other
//	2: name  (text)  the file's base name, no directory, at most 255 bytes
//	3: data  (bytes) the file's exact bytes
//
// Decoders reject unknown keys, missing keys, duplicate keys, indefinite
// lengths and trailing bytes. A bare payload may instead use type "bytes"
// (a CBOR byte string), the type every UR tool understands. Payloads above
// MaxPayload (10 MiB) are refused on both sides.
package ur
