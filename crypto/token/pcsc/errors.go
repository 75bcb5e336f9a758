package pcsc

import "fmt"

// Code is a PC/SC return code (SCARD_E_*, SCARD_W_*, SCARD_F_*). A Code is
// itself an error, so callers can write errors.Is(err, pcsc.ErrNoSmartcard).
type Code uint32

// The return codes callers branch on. Their values are fixed by the PC/SC
// specification and are the same in pcsc-lite and WinSCard.
const (
	Success              Code = 0x00000000
	ErrInternal          Code = 0x80100001 // SCARD_F_INTERNAL_ERROR
	ErrCancelled         Code = 0x80100002 // SCARD_E_CANCELLED
	ErrInvalidHandle     Code = 0x80100003 // SCARD_E_INVALID_HANDLE
	ErrInvalidParameter  Code = 0x80100004 // SCARD_E_INVALID_PARAMETER
	ErrInsufficientBuf   Code = 0x80100008 // SCARD_E_INSUFFICIENT_BUFFER
	ErrUnknownReader     Code = 0x80100009 // SCARD_E_UNKNOWN_READER
	ErrTimeout           Code = 0x8010000A // SCARD_E_TIMEOUT
	ErrSharingViolation  Code = 0x8010000B // SCARD_E_SHARING_VIOLATION
	ErrNoSmartcard       Code = 0x8010000C // SCARD_E_NO_SMARTCARD
	ErrProtoMismatch     Code = 0x8010000F // SCARD_E_PROTO_MISMATCH
	ErrNotReady          Code = 0x80100010 // SCARD_E_NOT_READY
	ErrNotTransacted     Code = 0x80100016 // SCARD_E_NOT_TRANSACTED
	ErrReaderUnavailable Code = 0x80100017 // SCARD_E_READER_UNAVAILABLE
	ErrNoService         Code = 0x8010001D // SCARD_E_NO_SERVICE
	ErrServiceStopped    Code = 0x8010001E // SCARD_E_SERVICE_STOPPED
	ErrNoReaders         Code = 0x8010002E // SCARD_E_NO_READERS_AVAILABLE
	ErrCommDataLost      Code = 0x8010002F // SCARD_E_COMM_DATA_LOST
	ErrUnresponsiveCard  Code = 0x80100066 // SCARD_W_UNRESPONSIVE_CARD
	ErrUnpoweredCard     Code = 0x80100067 // SCARD_W_UNPOWERED_CARD
	ErrResetCard         Code = 0x80100068 // SCARD_W_RESET_CARD
	ErrRemovedCard       Code = 0x80100069 // SCARD_W_REMOVED_CARD
)

// codeNames maps every return code pcsc-lite defines to its SCARD_* name
// and a short explanation, so an error in a ceremony log names the exact
// condition a smart-card engineer would look up.
var codeNames = map[Code][2]string{
	0x00000000: {"SCARD_S_SUCCESS", "no error"},
	0x80100001: {"SCARD_F_INTERNAL_ERROR", "internal consistency check failed"},
	0x80100002: {"SCARD_E_CANCELLED", "cancelled by SCardCancel"},
	0x80100003: {"SCARD_E_INVALID_HANDLE", "invalid handle"},
	0x80100004: {"SCARD_E_INVALID_PARAMETER", "invalid parameter"},
	0x80100005: {"SCARD_E_INVALID_TARGET", "registry startup information is missing or invalid"},
	0x80100006: {"SCARD_E_NO_MEMORY", "not enough memory"},
	0x80100007: {"SCARD_F_WAITED_TOO_LONG", "internal consistency timer expired"},
	0x80100008: {"SCARD_E_INSUFFICIENT_BUFFER", "receive buffer too small"},
	0x80100009: {"SCARD_E_UNKNOWN_READER", "reader name not recognized"},
	0x8010000A: {"SCARD_E_TIMEOUT", "timeout expired"},
	0x8010000B: {"SCARD_E_SHARING_VIOLATION", "the card is held exclusively by another program (close it: gpg-agent/scdaemon, ykman, a browser)"},
	0x8010000C: {"SCARD_E_NO_SMARTCARD", "no card in the reader"},
	0x8010000D: {"SCARD_E_UNKNOWN_CARD", "card name not recognized"},
	0x8010000E: {"SCARD_E_CANT_DISPOSE", "cannot dispose of the card as requested"},
	0x8010000F: {"SCARD_E_PROTO_MISMATCH", "requested protocols are incompatible with the card"},
	0x80100010: {"SCARD_E_NOT_READY", "reader or card not ready"},
	0x80100011: {"SCARD_E_INVALID_VALUE", "invalid parameter value"},
	0x80100012: {"SCARD_E_SYSTEM_CANCELLED", "cancelled by the system"},
	0x80100013: {"SCARD_F_COMM_ERROR", "internal communications error"},
	0x80100014: {"SCARD_F_UNKNOWN_ERROR", "unknown internal error"},
	0x80100015: {"SCARD_E_INVALID_ATR", "invalid ATR"},
	0x80100016: {"SCARD_E_NOT_TRANSACTED", "no transaction to end"},
	0x80100017: {"SCARD_E_READER_UNAVAILABLE", "reader not available"},
	0x80100018: {"SCARD_P_SHUTDOWN", "aborted to let the server exit"},
	0x80100019: {"SCARD_E_PCI_TOO_SMALL", "PCI receive buffer too small"},
	0x8010001A: {"SCARD_E_READER_UNSUPPORTED", "reader driver unsupported"},
	0x8010001B: {"SCARD_E_DUPLICATE_READER", "duplicate reader name"},
	0x8010001C: {"SCARD_E_CARD_UNSUPPORTED", "card unsupported"},
	0x8010001D: {"SCARD_E_NO_SERVICE", "the PC/SC daemon (pcscd) is not running"},
	0x8010001E: {"SCARD_E_SERVICE_STOPPED", "the PC/SC daemon (pcscd) has shut down"},
	0x8010001F: {"SCARD_E_UNEXPECTED", "unexpected card error"},
	0x80100020: {"SCARD_E_ICC_INSTALLATION", "no primary provider for the card"},
	0x80100021: {"SCARD_E_ICC_CREATEORDER", "object creation order not supported"},
	0x80100022: {"SCARD_E_UNSUPPORTED_FEATURE", "feature not supported"},
	0x80100023: {"SCARD_E_DIR_NOT_FOUND", "directory not found on the card"},
	0x80100024: {"SCARD_E_FILE_NOT_FOUND", "file not found on the card"},
	0x80100025: {"SCARD_E_NO_DIR", "not a card directory"},
	0x80100026: {"SCARD_E_NO_FILE", "not a card file"},
	0x80100027: {"SCARD_E_NO_ACCESS", "access denied"},
	0x80100028: {"SCARD_E_WRITE_TOO_MANY", "card memory full"},
	0x80100029: {"SCARD_E_BAD_SEEK", "bad seek"},
	0x8010002A: {"SCARD_E_INVALID_CHV", "incorrect PIN"},
	0x8010002B: {"SCARD_E_UNKNOWN_RES_MNG", "unrecognized error from a layered component"},
	0x8010002C: {"SCARD_E_NO_SUCH_CERTIFICATE", "certificate does not exist"},
	0x8010002D: {"SCARD_E_CERTIFICATE_UNAVAILABLE", "certificate unavailable"},
	0x8010002E: {"SCARD_E_NO_READERS_AVAILABLE", "no smart-card reader found"},
	0x8010002F: {"SCARD_E_COMM_DATA_LOST", "communication with the card lost; retry"},
	0x80100030: {"SCARD_E_NO_KEY_CONTAINER", "no key container"},
	0x80100031: {"SCARD_E_SERVER_TOO_BUSY", "PC/SC daemon too busy"},
	0x80100065: {"SCARD_W_UNSUPPORTED_CARD", "reader cannot communicate with the card (ATR conflict)"},
	0x80100066: {"SCARD_W_UNRESPONSIVE_CARD", "card not responding to reset"},
	0x80100067: {"SCARD_W_UNPOWERED_CARD", "card unpowered"},
	0x80100068: {"SCARD_W_RESET_CARD", "card was reset by another program; shared state is lost"},
	0x80100069: {"SCARD_W_REMOVED_CARD", "card was removed"},
	0x8010006A: {"SCARD_W_SECURITY_VIOLATION", "security violation"},
	0x8010006B: {"SCARD_W_WRONG_CHV", "wrong PIN"},
	0x8010006C: {"SCARD_W_CHV_BLOCKED", "PIN blocked"},
	0x8010006D: {"SCARD_W_EOF", "end of card file"},
	0x8010006E: {"SCARD_W_CANCELLED_BY_USER", "cancelled by the user"},
	0x8010006F: {"SCARD_W_CARD_NOT_AUTHENTICATED", "no PIN presented"},
}

// Name is the code's SCARD_* name, or its hex value when unknown.
func (c Code) Name() string {
	if n, ok := codeNames[c]; ok {
		return n[0]
	}
	return fmt.Sprintf("SCARD_0x%08X", uint32(c))
}

func (c Code) Error() string {
	if n, ok := codeNames[c]; ok {
		return n[0] + " (" + n[1] + ")"
	}
	return fmt.Sprintf("unknown PC/SC return code 0x%08X", uint32(c))
}

// Error is a failed PC/SC call: which function, on which reader, and the
// return code. It unwraps to the Code.
type Error struct {
	Op     string // "SCardConnect", …
	Reader string // "" when not about one reader
	Code   Code
}

func (e *Error) Error() string {
	if e.Reader != "" {
		return fmt.Sprintf("pcsc: %s on reader %q: %v", e.Op, e.Reader, e.Code)
	}
	return fmt.Sprintf("pcsc: %s: %v", e.Op, e.Code)
}

// Unwrap returns the return code.
func (e *Error) Unwrap() error { return e.Code }
