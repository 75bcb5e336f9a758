package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// InputError says why an input path cannot be read: it is missing, it is
// not what was expected (a FIFO, a device, a directory), or it is too
// large. Callers treat it as bad input.
type InputError struct {
	Path string
	// Is says what the path is instead ("a FIFO (named pipe)", …), or
	// what went wrong ("missing", "too large").
	Is  string
	Msg string
	Err error
}

func (e *InputError) Error() string { return e.Msg }
func (e *InputError) Unwrap() error { return e.Err }

// ErrNotRegular is wrapped by an InputError for a path that is not a
// regular file (or not a directory where one is expected).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by an InputError for a file over its limit.
var ErrTooLarge = errors.New("file too large")

// DescribeMode names a file type for a person ("a FIFO (named pipe)").
func DescribeMode(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "not a regular file"
}

// OpenInput opens path for reading without ever blocking (a FIFO or a
// device opened plainly waits forever for a writer) and checks, on the
// open file, that it is a regular file of at most limit bytes. The caller
// closes the file.
func OpenInput(path string, limit int64) (*os.File, fs.FileInfo, error) {
	if path == "" {
		return nil, nil, &InputError{Path: path, Is: "missing", Msg: "no file name given", Err: fs.ErrNotExist}
	}
	// Look before opening, so that a device is never opened (opening some
	// has effects), then check the open file itself, which is what is read.
	if pre, err := os.Stat(path); err == nil && !pre.Mode().IsRegular() {
		return nil, nil, notRegular(path, pre.Mode())
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, openError(path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, &InputError{Path: path, Is: "unreadable", Msg: fmt.Sprintf("%s cannot be examined: %v", path, err), Err: err}
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, notRegular(path, st.Mode())
	}
	if st.Size() > limit {
		f.Close()
		return nil, nil, &InputError{Path: path, Is: "too large", Err: ErrTooLarge,
			Msg: fmt.Sprintf("%s is %d bytes, over the %d-byte limit for this kind of file: is it the right file?", path, st.Size(), limit)}
	}
	// Reads of a regular file never block; clear the flag anyway so the
	// file behaves normally for whoever reads it.
	_ = unix.SetNonblock(int(f.Fd()), false)
	return f, st, nil
}

func notRegular(path string, m fs.FileMode) error {
	what := DescribeMode(m)
	hint := "give the file itself"
	if m.IsDir() {
		hint = "give a file inside it"
	}
	return &InputError{Path: path, Is: what, Msg: fmt.Sprintf("%s is %s, not a regular file: %s", path, what, hint), Err: ErrNotRegular}
}

func openError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &InputError{Path: path, Is: "missing", Msg: fmt.Sprintf("%s does not exist: check the name and the folder", path), Err: err}
	case errors.Is(err, fs.ErrPermission):
		return &InputError{Path: path, Is: "unreadable", Msg: fmt.Sprintf("%s cannot be read: no permission", path), Err: err}
	case errors.Is(err, syscall.ENXIO), errors.Is(err, syscall.ENODEV):
		return &InputError{Path: path, Is: "a device", Msg: fmt.Sprintf("%s is a device or socket with nothing behind it, not a regular file: give the file itself", path), Err: ErrNotRegular}
	}
	return &InputError{Path: path, Is: "unreadable", Msg: fmt.Sprintf("%s cannot be opened: %v", path, err), Err: err}
}

// ReadLimited reads a whole regular file of at most limit bytes. A FIFO,
// device, socket or directory is refused at once, never read, so that a
// wrong path fails fast with a message naming what it is.
func ReadLimited(path string, limit int64) ([]byte, error) {
	f, st, err := OpenInput(path, limit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, 0, st.Size()+1)
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		if int64(len(b)) > limit {
			return nil, &InputError{Path: path, Is: "too large", Err: ErrTooLarge,
				Msg: fmt.Sprintf("%s grew past the %d-byte limit while being read", path, limit)}
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
	return b, nil
}

// CheckDir checks that path is a directory (following a symbolic link)
// before a command reads from or writes into it.
func CheckDir(path string) error {
	if path == "" {
		return &InputError{Path: path, Is: "missing", Msg: "no folder given", Err: fs.ErrNotExist}
	}
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &InputError{Path: path, Is: "missing", Msg: fmt.Sprintf("%s does not exist: check the folder name", path), Err: err}
		}
		return &InputError{Path: path, Is: "unreadable", Msg: fmt.Sprintf("%s cannot be examined: %v", path, err), Err: err}
	}
	if !st.IsDir() {
		what := DescribeMode(st.Mode())
		return &InputError{Path: path, Is: what, Msg: fmt.Sprintf("%s is %s, not a folder", path, what), Err: ErrNotRegular}
	}
	return nil
}

// CheckRegular checks, without reading and without blocking, that path is
// a regular file of at most limit bytes: for readers that open the file
// themselves.
func CheckRegular(path string, limit int64) error {
	f, _, err := OpenInput(path, limit)
	if err != nil {
		return err
	}
	return f.Close()
}
