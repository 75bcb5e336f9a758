package safefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Notice receives one line for each stale partial file or staging folder
// removed (the CLI prints it on stderr, the GUI may show it). nil: silent.
var Notice func(line string)

var umaskOnce struct {
	sync.Once
	mask os.FileMode
}

// Umask is the process's file-mode creation mask, read once from
// /proc/self/status (reading it with umask(2) would change it for a moment
// under every other goroutine).
func Umask() os.FileMode {
	umaskOnce.Do(func() {
		umaskOnce.mask = 0o022
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					umaskOnce.mask = os.FileMode(m) & 0o777
				}
			}
		}
	})
	return umaskOnce.mask
}

// partialPrefix names the temporary file of a write of base; the process
// ID in it lets a later run tell a dead writer's leftovers from a live
// one's.
func partialPrefix(base string) string {
	return "." + base + ".partial-" + strconv.Itoa(os.Getpid()) + "-"
}

func stagingPrefix(base string) string {
	return "." + base + ".staging-" + strconv.Itoa(os.Getpid()) + "-"
}

// RemoveStale removes, in dir, the partial files and staging folders an
// earlier Custodian run left for base when it was killed or lost power:
// entries named .BASE.partial-PID-* or .BASE.staging-PID-*, owned by this
// user, whose process is gone. Each removal is reported through Notice.
func RemoveStale(dir, base string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range ents {
		pid, ok := staleName(e.Name(), base)
		if !ok || processAlive(pid) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		st, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); !ok || int(sys.Uid) != os.Getuid() {
			continue // not ours: never touch another user's files
		}
		if err := os.RemoveAll(p); err != nil {
			continue
		}
		removed = append(removed, p)
		if Notice != nil {
			Notice(fmt.Sprintf("removed %s, left by an earlier run that was interrupted (process %d)", p, pid))
		}
	}
	return removed
}

// staleName parses .BASE.partial-PID-RAND or .BASE.staging-PID-RAND.
func staleName(name, base string) (int, bool) {
	for _, kind := range []string{".partial-", ".staging-"} {
		rest, ok := strings.CutPrefix(name, "."+base+kind)
		if !ok {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		if !ok {
			return 0, false
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 {
			return 0, false
		}
		return pid, true
	}
	return 0, false
}

func processAlive(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// Staged is a folder being filled next to its destination: the files are
// written into Path, and Commit moves the whole folder to the destination
// only when every file is in place, so a folder of QR frames, an operator
// package or an import appears complete or not at all.
type Staged struct {
	dest    string
	path    string
	done    bool
	files   bool // StageFiles: Commit moves the files into dest
	private bool // Commit leaves the folder owner-only (0700)
}

// Stage starts a folder that will become dest, which must not exist or be
// an empty folder. Stale staging folders of earlier interrupted runs are
// removed first (and reported through Notice).
func Stage(dest string) (*Staged, error) {
	dest = filepath.Clean(dest)
	parent, base := filepath.Dir(dest), filepath.Base(dest)
	if ents, err := os.ReadDir(dest); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("%s already exists and is not empty: Custodian never mixes new files with old ones; choose a new folder: %w", dest, ErrExists)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		if st, serr := os.Lstat(dest); serr == nil && !st.IsDir() {
			return nil, fmt.Errorf("%s already exists and is not a folder: %w", dest, ErrExists)
		}
		return nil, fmt.Errorf("checking %s: %w", dest, err)
	}
	RemoveStale(parent, base)
	path, err := os.MkdirTemp(parent, stagingPrefix(base)+"*")
	if err != nil {
		return nil, fmt.Errorf("cannot create a folder in %s: %w", parent, explain(err))
	}
	return &Staged{dest: dest, path: path}, nil
}

// Private makes Commit leave the folder owner-only (0700) instead of
// 0777 less the umask: for a folder of key material (a drill's folder).
func (s *Staged) Private() { s.private = true }

// Path is the staging folder to write into.
func (s *Staged) Path() string { return s.path }

// Dest is the folder the staged one becomes.
func (s *Staged) Dest() string { return s.dest }

// Commit moves the finished folder to its destination, refusing to
// replace anything that appeared there meanwhile (an empty destination
// folder is replaced).
func (s *Staged) Commit() error {
	if s.done {
		return errors.New("safefile: staged folder already committed or aborted")
	}
	if s.files {
		return s.commitFiles()
	}
	mode := 0o777 &^ Umask()
	if s.private {
		mode = 0o700
	}
	if err := os.Chmod(s.path, mode); err != nil {
		s.Abort()
		return fmt.Errorf("setting the mode of %s: %w", s.dest, err)
	}
	// An empty destination folder (made by the person beforehand) gives
	// way; a non-empty one makes Remove fail and the rename refuse.
	if st, err := os.Lstat(s.dest); err == nil && st.IsDir() {
		_ = os.Remove(s.dest)
	}
	err := unix.Renameat2(unix.AT_FDCWD, s.path, unix.AT_FDCWD, s.dest, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
		// No RENAME_NOREPLACE on this file system: check, then rename.
		if _, lerr := os.Lstat(s.dest); lerr == nil {
			err = unix.EEXIST
		} else {
			err = os.Rename(s.path, s.dest)
		}
	}
	if err != nil {
		s.Abort()
		if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
			return fmt.Errorf("%s appeared while its files were being written: nothing was replaced: %w", s.dest, ErrExists)
		}
		return fmt.Errorf("moving the finished folder to %s: %w", s.dest, explain(err))
	}
	s.done = true
	if err := syncDir(filepath.Dir(s.dest)); err != nil {
		return fmt.Errorf("flushing directory %s: %w", filepath.Dir(s.dest), explain(err))
	}
	return nil
}

// Abort removes the staging folder and everything in it. It is safe to
// call after Commit (it then does nothing), so `defer s.Abort()` is the
// usual form.
func (s *Staged) Abort() {
	if s.done {
		return
	}
	s.done = true
	_ = os.RemoveAll(s.path)
}

// StageFiles starts a set of files that will join the existing folder
// dir: they are written into a hidden staging folder inside it, and Commit
// moves each into dir (never replacing a file) or, if one cannot be moved,
// takes back those already moved, so the set arrives whole or not at all.
func StageFiles(dir string) (*Staged, error) {
	if err := CheckDir(dir); err != nil {
		return nil, err
	}
	const base = "custodian-files"
	RemoveStale(dir, base)
	path, err := os.MkdirTemp(dir, stagingPrefix(base)+"*")
	if err != nil {
		return nil, fmt.Errorf("cannot create a folder in %s: %w", dir, explain(err))
	}
	return &Staged{dest: dir, path: path, files: true}, nil
}

// commitFiles moves each staged file into the destination folder.
func (s *Staged) commitFiles() error {
	ents, err := os.ReadDir(s.path)
	if err != nil {
		s.Abort()
		return err
	}
	var moved []string
	for _, e := range ents {
		to := filepath.Join(s.dest, e.Name())
		if err := renameNoReplace(filepath.Join(s.path, e.Name()), to); err != nil {
			for _, m := range moved {
				_ = os.Remove(m)
			}
			s.Abort()
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s appeared while the files were being written: nothing was copied: %w", to, ErrExists)
			}
			return fmt.Errorf("moving %s into place: %w; nothing was copied", e.Name(), explain(err))
		}
		moved = append(moved, to)
	}
	s.Abort() // the now empty staging folder
	s.done = true
	return syncDir(s.dest)
}
