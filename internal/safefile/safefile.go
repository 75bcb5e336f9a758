// Package safefile writes output files so that nothing is ever lost: a file
// appears under its final name complete or not at all, an existing file is
// never replaced, and what was written is read back and compared before the
// write is reported as done.
//
// The steps are those of boulder's ceremony tool and of careful USB export:
// create a temporary file next to the target with O_EXCL, write, fsync, move
// it to the final name with a rename that refuses to replace
// (renameat2 RENAME_NOREPLACE, or link+unlink where the file system lacks
// it), fsync the directory, then read the final file back and compare its
// SHA-256 with what was meant to be written.
package safefile

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrExists is returned (wrapped) when the target already exists.
var ErrExists = fs.ErrExist

// Option configures a write.
type Option func(*options)

type options struct {
	perm     os.FileMode
	progress func(done, total int64)
	chunk    int
}

// WithPerm sets the file mode exactly, whatever the umask. Without it a
// file gets 0666 less the process's umask, as any other program's.
func WithPerm(perm os.FileMode) Option { return func(o *options) { o.perm = perm } }

// Private makes the file readable by its owner only (0600): for files that
// carry key material or the security domain (SD files, restore blobs,
// software keys), which must not be world-readable on a shared recovery
// workstation even when the umask would allow it.
func Private() Option { return WithPerm(0o600) }

// usePerm is the "honour the umask" marker.
const usePerm os.FileMode = 1 << 31

// WithProgress reports bytes written (and then bytes verified, counted
// again from zero) during long writes, e.g. to a slow USB stick.
func WithProgress(f func(done, total int64)) Option {
	return func(o *options) { o.progress = f }
}

// Write writes data to path atomically, refusing to replace an existing
// file, and verifies it by reading it back.
func Write(path string, data []byte, opts ...Option) error {
	o := options{perm: usePerm, chunk: 1 << 20}
	for _, opt := range opts {
		opt(&o)
	}
	if o.perm == usePerm {
		o.perm = 0o666 &^ Umask()
	}
	dir := filepath.Dir(path)
	base := filepath.Base(path)
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s already exists: Custodian never overwrites a file; choose another name or move the old file away: %w", path, ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	RemoveStale(dir, base)
	tmp, err := os.CreateTemp(dir, partialPrefix(base)+"*")
	if err != nil {
		return fmt.Errorf("cannot create a file in %s: %w", dir, explain(err))
	}
	tmpName := tmp.Name()
	cleanup := func() { _ = os.Remove(tmpName) }
	if err := tmp.Chmod(o.perm); err != nil {
		tmp.Close()
		cleanup()
		return fmt.Errorf("setting the mode of %s: %w", tmpName, err)
	}
	total := int64(len(data))
	for off := 0; off < len(data) || (off == 0 && len(data) == 0); {
		end := min(off+o.chunk, len(data))
		if _, err := tmp.Write(data[off:end]); err != nil {
			tmp.Close()
			cleanup()
			return fmt.Errorf("writing %s: %w", path, explain(err))
		}
		off = end
		if o.progress != nil {
			o.progress(int64(off), total)
		}
		if len(data) == 0 {
			break
		}
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		cleanup()
		return fmt.Errorf("flushing %s to the medium: %w", path, explain(err))
	}
	if err := tmp.Close(); err != nil {
		cleanup()
		return fmt.Errorf("closing %s: %w", path, explain(err))
	}
	if err := renameNoReplace(tmpName, path); err != nil {
		cleanup()
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s appeared while it was being written: Custodian never overwrites a file: %w", path, ErrExists)
		}
		return fmt.Errorf("moving the finished file to %s: %w", path, explain(err))
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("flushing directory %s: %w", dir, explain(err))
	}
	if err := verify(path, data, o.progress); err != nil {
		return err
	}
	return nil
}

// verify reads the file back and compares digests. Reading through the
// page cache does not prove the medium holds the bytes, but the fsyncs
// above do; this catches truncation, a wrong file and file-system bugs.
func verify(path string, want []byte, progress func(done, total int64)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading %s back: %w", path, explain(err))
	}
	defer f.Close()
	h := sha256.New()
	total := int64(len(want))
	var done int64
	buf := make([]byte, 1<<20)
	for {
		n, err := f.Read(buf)
		h.Write(buf[:n])
		done += int64(n)
		if progress != nil && n > 0 {
			progress(done, total)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading %s back: %w", path, explain(err))
		}
	}
	wantSum := sha256.Sum256(want)
	if !bytes.Equal(h.Sum(nil), wantSum[:]) {
		return fmt.Errorf("%s reads back different from what was written (%d of %d bytes): the medium may be failing; do not use this copy", path, done, total)
	}
	return nil
}

func renameNoReplace(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EEXIST) {
		return fs.ErrExist
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EOPNOTSUPP) {
		return err
	}
	// The file system lacks RENAME_NOREPLACE: a hard link also fails when
	// the target exists.
	if err := os.Link(from, to); err == nil {
		return os.Remove(from)
	} else if errors.Is(err, fs.ErrExist) {
		return fs.ErrExist
	} else if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSYS) {
		return err
	}
	// Neither (FAT or exFAT through FUSE): create the final name with
	// O_EXCL, which no file system ignores, and copy the finished
	// temporary file into it. A failure removes the partial final file.
	return copyExclusive(from, to)
}

func copyExclusive(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return err
	}
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm())
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fs.ErrExist
		}
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		os.Remove(to)
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		os.Remove(to)
		return err
	}
	if err := dst.Close(); err != nil {
		os.Remove(to)
		return err
	}
	return os.Remove(from)
}

// SyncDir makes a new name in dir durable (a link or rename into it).
func SyncDir(dir string) error { return syncDir(dir) }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// explain adds what to do to the errors people meet on removable media.
func explain(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%w (the medium is full: free space or use another)", err)
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%w (the medium is read-only: check its write-protect switch or mount)", err)
	case errors.Is(err, syscall.EIO), errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO):
		return fmt.Errorf("%w (the medium failed or was removed: reinsert it and write again)", err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w (no permission to write there)", err)
	}
	return err
}
