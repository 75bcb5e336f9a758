package usb

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode"

	"github.com/custodian-hsm/custodian/ceremony/transfer/filekind"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// DefaultFolder is the folder Export writes into on the medium.
const DefaultFolder = "custodian-export"

// File is one file to export. Name is a plain file name (no directories).
type File struct {
	Name string
	Data []byte
}

// Phase of a file's export.
type Phase int

const (
	Writing   Phase = iota // bytes being written and flushed
	Verifying              // the final file being read back
)

func (p Phase) String() string {
	if p == Verifying {
		return "verifying"
	}
	return "writing"
}

// ProgressEvent reports how far one file's export is.
type ProgressEvent struct {
	File         string
	Index, Count int // file Index (0-based) of Count
	Phase        Phase
	Done, Total  int64
}

// Progress receives events from Export; nil means no reports.
type Progress func(ProgressEvent)

// Manifest is the SHA256SUMS file of an export folder after an export.
type Manifest struct {
	Path    string              // the SHA256SUMS file
	Entries []filekind.Checksum // every entry, in file order
	// Written lists the files this export wrote; Present those that were
	// already on the medium with identical contents (an export repeated
	// after a failure) and were only checked.
	Written []filekind.Checksum
	Present []filekind.Checksum
}

// Exporter writes files to a medium. The zero value uses DefaultFolder
// and the running system's mount table.
type Exporter struct {
	// Folder is created under the mount directory ("" = DefaultFolder).
	// It must be a single plain name.
	Folder string
	// Lister finds which disk the destination is on.
	Lister Lister
	// AnyDisk allows a destination on a disk that is not the system disk
	// but is not removable either (a loop-mounted image, a second internal
	// disk). The system disk and device-less file systems (tmpfs, network)
	// are always refused.
	AnyDisk bool
	// SkipSpaceCheck turns off the free-space check made before writing,
	// so that a test can meet the file system's own ENOSPC.
	SkipSpaceCheck bool
}

// Export writes files into the default folder of the medium mounted at
// mountDir (see Exporter.Export). Loop-mounted images and other
// non-removable disks are accepted, the system disk never.
func Export(ctx context.Context, mountDir string, files []File, progress Progress) (*Manifest, error) {
	return Exporter{AnyDisk: true}.Export(ctx, mountDir, files, progress)
}

// Export writes files into mountDir/Folder and records them in that
// folder's SHA256SUMS.
//
// Each file is written with safefile (temporary name, fsync, rename that
// never replaces, directory fsync, read back and compared), so a final
// name only ever holds a complete, verified file. Before anything is
// written, Export checks every entry already in SHA256SUMS against its file
// (a mismatch stops the export: the medium was altered or is failing),
// refuses names taken by different contents, and checks the free space.
// A file already present with identical contents is kept and listed.
// SHA256SUMS is then rewritten atomically with the old lines kept byte for
// byte and the new ones appended.
//
// If a write fails, the files written before it are complete and verified,
// SHA256SUMS is left as it was, and the error (ErrMediumFull, ErrReadOnly,
// ErrMediumRemoved, ErrExists, ErrChecksumMismatch) names them; exporting
// the same files again finishes the job.
func (e Exporter) Export(ctx context.Context, mountDir string, files []File, progress Progress) (*Manifest, error) {
	folder := e.Folder
	if folder == "" {
		folder = DefaultFolder
	}
	if err := checkName(folder); err != nil {
		return nil, fmt.Errorf("export folder %q: %w", folder, err)
	}
	if len(files) == 0 {
		return nil, errors.New("nothing to export")
	}
	seen := map[string]bool{}
	for _, f := range files {
		if err := checkName(f.Name); err != nil {
			return nil, fmt.Errorf("file name %q: %w", f.Name, err)
		}
		if strings.EqualFold(f.Name, filekind.ChecksumsName) {
			return nil, fmt.Errorf("file name %q is reserved for the checksum list Custodian writes", f.Name)
		}
		// FAT, the usual stick format, does not tell case apart.
		key := strings.ToLower(f.Name)
		if seen[key] {
			return nil, fmt.Errorf("file name %q is given twice (names differing only in case collide on FAT media)", f.Name)
		}
		seen[key] = true
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	st, err := os.Stat(mountDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s does not exist: is the medium mounted? (custodian usb list shows mount points): %w", mountDir, ErrNotMounted)
		}
		return nil, classify(err, "")
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory: give the medium's mount point", mountDir)
	}
	medium, err := e.Lister.Locate(mountDir)
	if err != nil {
		return nil, fmt.Errorf("cannot export to %s: %w", mountDir, err)
	}
	switch {
	case medium.System:
		return nil, fmt.Errorf("%s is on %s, the disk the system runs from: files for the other side of the air gap must go on a removable medium: %w", mountDir, medium.Device, ErrSystemDisk)
	case medium.ReadOnly:
		return nil, fmt.Errorf("%s (%s) is mounted read-only: %w", medium.MountPoint, medium.Device, classify(syscall.EROFS, ""))
	case !e.AnyDisk && !medium.Removable && !medium.USB && !medium.SDCard:
		return nil, fmt.Errorf("%s is on %s, a fixed disk: %w", mountDir, medium.Device, ErrNotRemovable)
	}

	dir := filepath.Join(mountDir, folder)
	if err := ensureFolder(dir, mountDir); err != nil {
		return nil, err
	}

	sumsPath := filepath.Join(dir, filekind.ChecksumsName)
	oldSums, entries, err := readAndVerifyChecksums(ctx, sumsPath, dir)
	if err != nil {
		return nil, err
	}
	listed := map[string]filekind.Checksum{}
	for _, c := range entries {
		listed[c.Name] = c
	}

	// Decide every file before writing any: a refusal must not leave half
	// an export behind.
	type plan struct {
		file    File
		sum     [32]byte
		present bool // identical file already there
	}
	plans := make([]plan, len(files))
	var need int64
	for i, f := range files {
		p := plan{file: f, sum: sha256.Sum256(f.Data)}
		path := filepath.Join(dir, f.Name)
		existing, err := hashFile(path)
		switch {
		case err == nil && existing == p.sum:
			p.present = true
		case err == nil:
			return nil, fmt.Errorf("%s already exists with different contents (SHA-256 %s, new %s): Custodian never overwrites; export into another --folder or move the old file away: %w",
				path, hex.EncodeToString(existing[:]), hex.EncodeToString(p.sum[:]), ErrExists)
		case errors.Is(err, fs.ErrNotExist):
			need += int64(len(f.Data))
		default:
			return nil, classify(fmt.Errorf("checking %s: %w", path, err), dir)
		}
		if c, ok := listed[f.Name]; ok && c.SHA256 != p.sum && !p.present {
			return nil, fmt.Errorf("SHA256SUMS already lists %s with another digest: %w", f.Name, ErrChecksumMismatch)
		}
		plans[i] = p
	}
	if !e.SkipSpaceCheck && need > 0 {
		if err := checkSpace(dir, need, len(files), e.Lister); err != nil {
			return nil, err
		}
	}

	result := &Manifest{Path: sumsPath}
	// The new files are written into a hidden staging folder inside the
	// export folder and moved into place together once every one is
	// written and read back: a full medium, a pulled stick or a kill
	// leaves no half export (and a later export removes a dead run's
	// staging folder, saying so).
	var stage *safefile.Staged
	var done []string
	for i, p := range plans {
		sum := filekind.Checksum{Name: p.file.Name, SHA256: p.sum}
		if p.present {
			result.Present = append(result.Present, sum)
			continue
		}
		if stage == nil {
			if stage, err = safefile.StageFiles(dir); err != nil {
				return nil, exportStopped(classify(err, dir), nil)
			}
			defer stage.Abort()
		}
		if err := ctx.Err(); err != nil {
			return nil, exportStopped(err, nil)
		}
		path := filepath.Join(stage.Path(), p.file.Name)
		var opts []safefile.Option
		if progress != nil {
			opts = append(opts, safefile.WithProgress(phaseTracker(progress, p.file.Name, i, len(plans))))
		}
		if err := safefile.Write(path, p.file.Data, opts...); err != nil {
			return nil, exportStopped(classify(err, dir), nil)
		}
		done = append(done, p.file.Name)
		result.Written = append(result.Written, sum)
	}
	if stage != nil {
		if err := stage.Commit(); err != nil {
			return nil, exportStopped(classify(err, dir), nil)
		}
	}

	newSums := append([]byte(nil), oldSums...)
	if len(newSums) > 0 && newSums[len(newSums)-1] != '\n' {
		newSums = append(newSums, '\n')
	}
	added := false
	for _, p := range plans {
		if _, ok := listed[p.file.Name]; ok {
			continue
		}
		newSums = append(newSums, filekind.Checksum{Name: p.file.Name, SHA256: p.sum}.Line()...)
		added = true
	}
	if added {
		if err := replaceChecksums(sumsPath, oldSums, newSums); err != nil {
			return nil, fmt.Errorf("%s were written and verified, but updating %s failed: %w", strings.Join(done, ", "), sumsPath, classify(err, dir))
		}
	}
	result.Entries, err = filekind.ParseChecksums(newSums)
	if err != nil {
		return nil, fmt.Errorf("the checksum list just written does not parse (a bug): %w", err)
	}
	return result, nil
}

func exportStopped(err error, done []string) error {
	if len(done) == 0 {
		return fmt.Errorf("nothing was exported: %w", err)
	}
	return fmt.Errorf("export stopped after %s (complete and verified; SHA256SUMS not updated; export the same files again to finish): %w", strings.Join(done, ", "), err)
}

// phaseTracker turns safefile's progress (bytes written, then bytes read
// back counted again from zero) into events with a phase.
func phaseTracker(progress Progress, name string, index, count int) func(done, total int64) {
	phase := Writing
	var last int64
	return func(done, total int64) {
		if done < last || (phase == Writing && last == total && total > 0) {
			phase = Verifying
		}
		last = done
		progress(ProgressEvent{File: name, Index: index, Count: count, Phase: phase, Done: done, Total: total})
	}
}

// checkName accepts a plain file name that every file system on a stick
// (FAT, exFAT, NTFS, ext4) and every OS can hold unchanged, and that
// sha256sum writes without escaping.
func checkName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return errors.New("not a file name")
	case len(name) > 255:
		return errors.New("longer than 255 bytes")
	case strings.HasPrefix(name, "."):
		return errors.New("hidden names (starting with a dot) are not exported; temporary files use them")
	case strings.HasSuffix(name, " ") || strings.HasSuffix(name, "."):
		return errors.New("ends with a space or a dot, which Windows and FAT drop")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`/\:*?"<>|`, r) || !unicode.IsPrint(r) {
			return fmt.Errorf("contains %q, which FAT media or Windows cannot hold", r)
		}
	}
	return nil
}

// ensureFolder creates the export folder (fsyncing the mount directory so
// the new entry is on the medium) or checks the existing one is a real
// directory: a symlink could send the files off the medium.
func ensureFolder(dir, parent string) error {
	st, err := os.Lstat(dir)
	switch {
	case err == nil && st.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("%s exists and is not a folder (a symbolic link or a file): Custodian writes only into a real folder on the medium", dir)
	case !errors.Is(err, fs.ErrNotExist):
		return classify(fmt.Errorf("checking %s: %w", dir, err), "")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return classify(fmt.Errorf("creating %s: %w", dir, err), "")
	}
	if err := syncDir(parent); err != nil {
		return classify(fmt.Errorf("flushing %s: %w", parent, err), "")
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) && !errors.Is(err, errEINVAL) {
		return err
	}
	return nil
}

// checkSpace refuses early when the files cannot fit: one cluster of
// rounding per file plus the checksum list and its temporary copy.
func checkSpace(dir string, need int64, files int, l Lister) error {
	l = l.withDefaults()
	_, free, err := l.Statfs(dir)
	if err != nil {
		return nil // the writes will tell
	}
	const slack = 64 << 10
	want := need + int64(files+2)*slack
	if want > free {
		return fmt.Errorf("nothing was exported: the files need about %s and %s is free on the medium: %w",
			humanBytes(want), humanBytes(free), classify(errENOSPC, ""))
	}
	return nil
}

// readAndVerifyChecksums reads dir's SHA256SUMS, if any, and checks every
// file it lists. It returns the file's exact bytes (kept when rewriting).
func readAndVerifyChecksums(ctx context.Context, sumsPath, dir string) ([]byte, []filekind.Checksum, error) {
	data, err := safefile.ReadLimited(sumsPath, 1<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, classify(fmt.Errorf("reading %s: %w", sumsPath, err), dir)
	}
	entries, err := filekind.ParseChecksums(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s is damaged, so the files next to it cannot be trusted; export into a new --folder: %w", sumsPath, err)
	}
	for _, c := range entries {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if err := checkName(c.Name); err != nil {
			return nil, nil, fmt.Errorf("%s lists %q, which is not a plain file name in this folder: export into a new --folder", sumsPath, c.Name)
		}
		got, err := hashFile(filepath.Join(dir, c.Name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s lists %s, which is missing from the medium: the folder was altered; export into a new --folder: %w", sumsPath, c.Name, ErrChecksumMismatch)
		}
		if err != nil {
			return nil, nil, classify(fmt.Errorf("checking %s: %w", c.Name, err), dir)
		}
		if got != c.SHA256 {
			return nil, nil, &MismatchError{Path: filepath.Join(dir, c.Name), Manifest: sumsPath, Want: c.SHA256, Got: got}
		}
	}
	return data, entries, nil
}

// MismatchError reports a file that differs from its SHA256SUMS entry.
type MismatchError struct {
	Path, Manifest string
	Want, Got      [32]byte
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s does NOT match %s: its SHA-256 is %s but the list says %s; the file was altered or damaged after it was written: do not use it",
		e.Path, e.Manifest, hex.EncodeToString(e.Got[:]), hex.EncodeToString(e.Want[:]))
}

func (e *MismatchError) Unwrap() error { return ErrChecksumMismatch }

// hashFile streams a file through SHA-256 (exported files may be large).
func hashFile(path string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return sum, err
	}
	if !st.Mode().IsRegular() {
		return sum, fmt.Errorf("%s is not a regular file", path)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// replaceChecksums installs the new list. The first list is created with
// safefile like any file. An existing list is replaced the only safe way:
// the new contents are written and verified under a temporary name, the
// old list is checked to be unchanged since it was verified (so that no
// entry written meanwhile is lost), then a rename swaps them atomically and
// the folder is flushed.
func replaceChecksums(path string, old, updated []byte) error {
	if old == nil {
		return safefile.Write(path, updated)
	}
	dir := filepath.Dir(path)
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+filekind.ChecksumsName+".new-"+hex.EncodeToString(rnd[:]))
	if err := safefile.Write(tmp, updated); err != nil {
		return err
	}
	current, err := safefile.ReadLimited(path, 1<<20)
	if err != nil || !bytes.Equal(current, old) {
		os.Remove(tmp)
		if err == nil {
			err = errors.New("it changed while the files were being written (another export at the same time?)")
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	back, err := safefile.ReadLimited(path, 1<<20)
	if err != nil {
		return err
	}
	if !bytes.Equal(back, updated) {
		return fmt.Errorf("%s reads back different from what was written: the medium may be failing", path)
	}
	return nil
}

func humanBytes(n int64) string {
	switch {
	case n < 0:
		return "unknown"
	case n < 1000:
		return fmt.Sprintf("%d bytes", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/1e9)
}
