// Package pcsc is Custodian's own minimal binding to the PC/SC smart-card
// API (pcsc-lite's libpcsclite on Linux), plus the ISO 7816-4 APDU plumbing
// a PIV card needs: command chaining for long commands and GET RESPONSE for
// long answers.
//
// Why a binding of our own when go-piv/piv-go already talks PC/SC: piv-go
// keeps its transport private and its RSA decryption strips PKCS#1 v1.5
// padding whatever the caller asks for (go-piv/piv-go#186), so an RSA-OAEP
// ciphertext — what every Managed HSM security-domain share is — comes back
// as garbage. The YubiKey itself only does raw RSA; the padding is the
// host's business. crypto/token/piv therefore uses piv-go for everything it
// does well and this package for the one raw-RSA exchange, so that the OAEP
// decoding happens in Custodian where it can be checked.
//
// The binding is deliberately small: establish a context, list readers,
// connect in shared mode (T=1 or T=0), begin/end a transaction, transmit,
// disconnect, release. Failures are *Error values naming the PC/SC function
// and the SCARD_* return code, which also work with errors.Is against the
// Code constants.
//
// pcsc-lite finds the daemon's socket itself, honouring the environment
// variable PCSCLITE_CSOCK_NAME; Custodian's virtual-card test rig relies on
// that to point this process at a private pcscd. pcsc-lite reads the
// variable once, on the first SCardEstablishContext of the process, so it
// must be set before any smart-card use.
package pcsc

// #cgo pkg-config: libpcsclite
// #include <stdlib.h>
// #include <winscard.h>
//
// // The PCI structures are exported as addresses behind macros, which cgo
// // cannot take; these helpers hand them over.
// static const SCARD_IO_REQUEST *custodian_pci(DWORD proto) {
//	if (proto == SCARD_PROTOCOL_T0) return SCARD_PCI_T0;
//	return SCARD_PCI_T1;
// }
import "C"

import (
	"bytes"
	"sync"
	"unsafe"
)

// maxResponse is the largest response pcsc-lite can return (an extended
// APDU response plus status word and slack).
const maxResponse = C.MAX_BUFFER_SIZE_EXTENDED

// Protocol is the transmission protocol negotiated with a card.
type Protocol uint32

// Protocols.
const (
	ProtocolT0 Protocol = C.SCARD_PROTOCOL_T0
	ProtocolT1 Protocol = C.SCARD_PROTOCOL_T1
)

func (p Protocol) String() string {
	switch p {
	case ProtocolT0:
		return "T=0"
	case ProtocolT1:
		return "T=1"
	}
	return "unknown protocol"
}

// Disposition says what happens to the card when a connection or a
// transaction ends.
type Disposition uint32

// Dispositions.
const (
	// LeaveCard leaves the card as it is: a verified PIN stays verified.
	LeaveCard Disposition = C.SCARD_LEAVE_CARD
	// ResetCard warm-resets the card, which clears its security state
	// (PIN verified, touch cached).
	ResetCard Disposition = C.SCARD_RESET_CARD
	// UnpowerCard powers the card down.
	UnpowerCard Disposition = C.SCARD_UNPOWER_CARD
)

func check(op, reader string, rc C.LONG) error {
	if rc == C.SCARD_S_SUCCESS {
		return nil
	}
	return &Error{Op: op, Reader: reader, Code: Code(uint32(rc))}
}

// Context is a connection to the PC/SC resource manager (pcscd).
type Context struct {
	mu       sync.Mutex
	ctx      C.SCARDCONTEXT
	released bool
}

// EstablishContext connects to pcscd.
func EstablishContext() (*Context, error) {
	var ctx C.SCARDCONTEXT
	rc := C.SCardEstablishContext(C.SCARD_SCOPE_SYSTEM, nil, nil, &ctx)
	if err := check("SCardEstablishContext", "", rc); err != nil {
		return nil, err
	}
	return &Context{ctx: ctx}, nil
}

// Release closes the connection to pcscd. It is safe to call twice.
func (c *Context) Release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released {
		return nil
	}
	c.released = true
	return check("SCardReleaseContext", "", C.SCardReleaseContext(c.ctx))
}

// ListReaders returns the names of the readers pcscd knows. No reader at
// all is an empty list, not an error.
func (c *Context) ListReaders() ([]string, error) {
	var n C.DWORD
	rc := C.SCardListReaders(c.ctx, nil, nil, &n)
	if Code(uint32(rc)) == ErrNoReaders {
		return nil, nil
	}
	if err := check("SCardListReaders", "", rc); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	buf := make([]byte, n)
	rc = C.SCardListReaders(c.ctx, nil, (*C.char)(unsafe.Pointer(&buf[0])), &n)
	if Code(uint32(rc)) == ErrNoReaders {
		return nil, nil
	}
	if err := check("SCardListReaders", "", rc); err != nil {
		return nil, err
	}
	// A multi-string: names separated by NUL, ended by an empty name.
	var readers []string
	for _, name := range bytes.Split(buf[:n], []byte{0}) {
		if len(name) > 0 {
			readers = append(readers, string(name))
		}
	}
	return readers, nil
}

// Card is a shared-mode connection to the card in one reader.
type Card struct {
	mu       sync.Mutex
	h        C.SCARDHANDLE
	reader   string
	protocol Protocol
	closed   bool
}

// Connect opens the card in reader in shared mode, accepting T=1 or T=0.
// Shared mode lets other programs see the card between our transactions;
// every multi-command exchange runs inside BeginTransaction/EndTransaction
// so that nobody interleaves commands with ours.
func (c *Context) Connect(reader string) (*Card, error) {
	cr := C.CString(reader)
	defer C.free(unsafe.Pointer(cr))
	var h C.SCARDHANDLE
	var proto C.DWORD
	rc := C.SCardConnect(c.ctx, cr, C.SCARD_SHARE_SHARED, C.SCARD_PROTOCOL_T1|C.SCARD_PROTOCOL_T0, &h, &proto)
	if err := check("SCardConnect", reader, rc); err != nil {
		return nil, err
	}
	return &Card{h: h, reader: reader, protocol: Protocol(proto)}, nil
}

// Reader is the name of the card's reader.
func (k *Card) Reader() string { return k.reader }

// Protocol is the negotiated protocol.
func (k *Card) Protocol() Protocol { return k.protocol }

// BeginTransaction gives this connection exclusive use of the card until
// EndTransaction.
func (k *Card) BeginTransaction() error {
	return check("SCardBeginTransaction", k.reader, C.SCardBeginTransaction(k.h))
}

// EndTransaction ends the transaction, leaving, resetting or unpowering
// the card.
func (k *Card) EndTransaction(d Disposition) error {
	return check("SCardEndTransaction", k.reader, C.SCardEndTransaction(k.h, C.DWORD(d)))
}

// Transmit sends one raw command APDU and returns the raw response,
// status word included. Use Exchange for chaining and GET RESPONSE.
func (k *Card) Transmit(cmd []byte) ([]byte, error) {
	if len(cmd) == 0 {
		return nil, &Error{Op: "SCardTransmit", Reader: k.reader, Code: ErrInvalidParameter}
	}
	resp := make([]byte, maxResponse)
	n := C.DWORD(len(resp))
	rc := C.SCardTransmit(k.h, C.custodian_pci(C.DWORD(k.protocol)),
		(*C.BYTE)(unsafe.Pointer(&cmd[0])), C.DWORD(len(cmd)), nil,
		(*C.BYTE)(unsafe.Pointer(&resp[0])), &n)
	if err := check("SCardTransmit", k.reader, rc); err != nil {
		clear(resp)
		return nil, err
	}
	out := append([]byte(nil), resp[:n]...)
	// The buffer may hold secrets (raw RSA results); do not leave a copy
	// for the garbage collector.
	clear(resp[:n])
	return out, nil
}

// Disconnect closes the connection. It is safe to call twice.
func (k *Card) Disconnect(d Disposition) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	return check("SCardDisconnect", k.reader, C.SCardDisconnect(k.h, C.DWORD(d)))
}
