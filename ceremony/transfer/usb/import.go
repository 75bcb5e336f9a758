package usb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/custodian-hsm/custodian/ceremony/transfer/filekind"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// DefaultImportLimit is the largest file Import reads (the biggest
// legitimate input, an SD file, is tens of KB).
const DefaultImportLimit = 10 << 20

// ChecksumStatus says how a file compares with the SHA256SUMS next to it.
type ChecksumStatus int

const (
	NoChecksums         ChecksumStatus = iota // no SHA256SUMS in the folder
	Matches                                   // listed, digest matches
	NotListed                                 // SHA256SUMS exists but does not list the file
	Mismatch                                  // listed with another digest: the file is not what was exported
	ChecksumsUnreadable                       // SHA256SUMS exists but cannot be read or parsed
	IsChecksumList                            // the file is the SHA256SUMS itself, which cannot vouch for itself
)

// Imported is one file read from a medium and what was found about it.
type Imported struct {
	Path      string
	Data      []byte
	Detected  filekind.Result // kind, summary, SHA-256, the kind's own check
	Checksum  ChecksumStatus
	Checksums string   // the SHA256SUMS consulted ("" when none)
	Warnings  []string // things to tell the person that do not stop the import
	Err       error    // why this file must not be used (nil when it may)
}

// Kind is the detected kind.
func (im Imported) Kind() filekind.Kind { return im.Detected.Kind }

// Summary says in one line what the file is and how it checked out:
// "security domain file: 3 shares, quorum 2, 3 EncData items; SHA-256 …
// matches SHA256SUMS".
func (im Imported) Summary() string {
	s := im.Detected.String() + "; SHA-256 " + im.Detected.SHA256Hex()
	switch im.Checksum {
	case Matches:
		s += " matches " + filekind.ChecksumsName
	case NotListed:
		s += " (not listed in " + filekind.ChecksumsName + ")"
	case Mismatch:
		s += " DOES NOT MATCH " + filekind.ChecksumsName
	case NoChecksums:
		s += " (no " + filekind.ChecksumsName + " to check against)"
	case ChecksumsUnreadable:
		s += " (" + filekind.ChecksumsName + " unreadable)"
	}
	return s
}

// Importer reads files from removable media.
type Importer struct {
	// Limit is the largest file accepted (0 = DefaultImportLimit).
	Limit int64
}

// Import reads and checks files with the default limit (see
// Importer.Import).
func Import(ctx context.Context, paths []string) ([]Imported, error) {
	return Importer{}.Import(ctx, paths)
}

// Import reads each file (regular files only, at most Limit bytes), tells
// what it is with filekind, and checks it against the SHA256SUMS in its
// folder when there is one. It returns a result for every path; the error
// joins every file's Err (a file that does not match its checksum, a file
// that looks like a known kind but fails that kind's checks, a private
// key, an unreadable file), so a caller that gets an error must not use
// any of the files without showing the person the per-file results.
func (im Importer) Import(ctx context.Context, paths []string) ([]Imported, error) {
	limit := im.Limit
	if limit <= 0 {
		limit = DefaultImportLimit
	}
	if len(paths) == 0 {
		return nil, errors.New("no files to import")
	}
	type sums struct {
		path    string
		entries map[string][32]byte
		err     error
	}
	sumsByDir := map[string]*sums{}
	var out []Imported
	var errs []error
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		r := Imported{Path: p}
		data, err := readRegular(p, limit)
		if err != nil {
			r.Err = err
			out = append(out, r)
			errs = append(errs, err)
			continue
		}
		r.Data = data
		r.Detected = filekind.Detect(data)
		if r.Detected.Err != nil {
			r.Err = &DetectedError{Path: p, Result: r.Detected}
		}

		dir := filepath.Dir(p)
		s := sumsByDir[dir]
		if s == nil {
			s = &sums{path: filepath.Join(dir, filekind.ChecksumsName)}
			sumsByDir[dir] = s
			b, err := safefile.ReadLimited(s.path, 1<<20)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				s.path = ""
			case err != nil:
				s.err = err
			default:
				list, err := filekind.ParseChecksums(b)
				if err != nil {
					s.err = err
					break
				}
				s.entries = map[string][32]byte{}
				for _, c := range list {
					s.entries[filepath.Clean(c.Name)] = c.SHA256
				}
			}
		}
		r.Checksums = s.path
		base := filepath.Base(p)
		switch {
		case r.Detected.Kind == filekind.Checksums && base == filekind.ChecksumsName:
			r.Checksum = IsChecksumList
			r.Checksums = ""
		case s.path == "":
			r.Checksum = NoChecksums
			r.Warnings = append(r.Warnings, fmt.Sprintf("no %s next to %s: compare its SHA-256 with the sender's by other means", filekind.ChecksumsName, base))
		case s.err != nil:
			r.Checksum = ChecksumsUnreadable
			err := fmt.Errorf("%s cannot be checked: %s is damaged (%v): do not trust the files next to it", p, s.path, s.err)
			r.Err = errors.Join(r.Err, err)
		default:
			want, ok := s.entries[base]
			switch {
			case !ok:
				r.Checksum = NotListed
				r.Warnings = append(r.Warnings, fmt.Sprintf("%s is not listed in %s: it was not part of a Custodian export, or was added later", base, s.path))
			case want == r.Detected.SHA256:
				r.Checksum = Matches
			default:
				r.Checksum = Mismatch
				r.Err = errors.Join(r.Err, &MismatchError{Path: p, Manifest: s.path, Want: want, Got: r.Detected.SHA256})
			}
		}
		if strings.HasPrefix(strings.ToUpper(base), "DRILL-") {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s is a drill file: never use it in a production ceremony", base))
		}
		if r.Detected.Kind == filekind.Unknown {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s is not a kind of file Custodian uses", base))
		}
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// DetectedError is a file that looks like a known kind but fails that
// kind's checks (or, for a private key, must not be carried at all). It
// matches the reader's error and filekind.ErrInvalid with errors.Is.
type DetectedError struct {
	Path   string
	Result filekind.Result
}

func (e *DetectedError) Error() string { return e.Path + ": " + e.Result.String() }
func (e *DetectedError) Unwrap() error { return e.Result.Err }

// readRegular reads a regular file; symbolic links, devices and
// directories on a medium are refused.
func readRegular(path string, limit int64) ([]byte, error) {
	st, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s does not exist: %w", path, err)
		}
		return nil, classify(fmt.Errorf("reading %s: %w", path, err), "")
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s is a symbolic link: Custodian imports only regular files from a medium", path)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := safefile.ReadLimited(path, limit)
	if err != nil {
		return nil, classify(err, "")
	}
	return data, nil
}
