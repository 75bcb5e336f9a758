// Package qr shows Custodian files as QR codes and reads them back, so that
// certificates, exchange keys, SD files, restore blobs and operator packages
// can cross the air gap with a screen and a camera (or paper and a scanner)
// instead of a USB stick.
//
// A file is wrapped in a ur.File envelope and carried as a "custodian-file"
// Uniform Resource. Small files fit in one code; larger ones become an
// animated sequence of fountain-coded frames that the receiver can catch in
// any order, missing some, until the CRC-32 of the whole checks out. UR
// strings are upper-cased before encoding so every character is in the QR
// alphanumeric set (5.5 bits per character instead of 8), which makes each
// frame about a quarter smaller than byte mode would.
//
// Reading never trusts guessed text: when a code carries byte segments the
// exact bytes are taken from the decoder's byte-segment metadata, and the
// UR layer rejects anything that is not a well-formed part of the expected
// type.
//
// The camera path is split in two: a FrameSource delivers images (the V4L2
// device in webcam_linux.go is a thin wrapper around package camera) and
// Scanner turns images into parts; everything but the device itself is
// tested with rendered images.
package qr
