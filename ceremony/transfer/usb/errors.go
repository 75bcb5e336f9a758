package usb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Errors for the ways removable media fail. Export wraps them together
// with the operating system's error, so errors.Is works for both
// (errors.Is(err, ErrMediumFull) and errors.Is(err, syscall.ENOSPC)).
var (
	ErrMediumFull    = errors.New("the medium is full")
	ErrReadOnly      = errors.New("the medium is read-only")
	ErrMediumRemoved = errors.New("the medium was removed or failed")
	// ErrChecksumMismatch: a file does not match its SHA256SUMS entry.
	ErrChecksumMismatch = errors.New("checksum mismatch")
	// ErrExists: a different file already has the name.
	ErrExists = fs.ErrExist
)

// classify adds the medium error that explains err, with what to do. dir
// is the export folder: ENOENT for a folder that was there a moment ago
// means the medium went away (an unmounted stick leaves an empty mount
// point behind).
func classify(err error, dir string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EFBIG):
		return fmt.Errorf("%w: free space or use a larger medium, then export again: %w", ErrMediumFull, err)
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%w: check its write-protect switch, or remount it read-write: %w", ErrReadOnly, err)
	case errors.Is(err, syscall.EIO), errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO),
		errors.Is(err, syscall.ESHUTDOWN):
		return fmt.Errorf("%w: reinsert it (or use another), then export again: %w", ErrMediumRemoved, err)
	case errors.Is(err, fs.ErrNotExist) && dir != "" && !dirExists(dir):
		return fmt.Errorf("%w: the folder %s disappeared during the write; reinsert the medium and export again: %w", ErrMediumRemoved, dir, err)
	}
	return err
}

func dirExists(dir string) bool {
	st, err := os.Stat(dir)
	return err == nil && st.IsDir()
}

// The errno values Export reports itself, before the file system would.
var (
	errENOSPC = syscall.ENOSPC
	errEINVAL = syscall.EINVAL
)
