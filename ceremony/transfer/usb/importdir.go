package usb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/custodian-hsm/custodian/ceremony/transfer/filekind"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// ErrBadName is wrapped by the error for a file name that is not a plain
// name inside the medium's folder.
var ErrBadName = errors.New("not a plain file name inside the folder")

// CheckName checks that name is a plain file name: no directory part, not
// "." or "..", no NUL. Names on a medium, in SHA256SUMS and on the command
// line all pass through it, so nothing outside the folder is ever read.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("an empty file name: %w", ErrBadName)
	case name == "." || name == "..":
		return fmt.Errorf("%q names a folder, not a file: %w", name, ErrBadName)
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("%q has a folder part (/ or \\): give names of files directly inside the folder: %w", name, ErrBadName)
	}
	return nil
}

// DirReport is what ImportDir found: each file's result, and the problems
// of the folder as a whole (SHA256SUMS entries missing, outside the folder
// or not regular files; entries of the folder that are not regular files).
type DirReport struct {
	Files    []Imported
	Problems []string
}

// ImportDir imports the named files of dir, or every visible regular file
// when names is empty, and accounts for every SHA256SUMS entry: each is
// present and matching (checked per file), or reported as a problem.
// Names that are not plain file names are refused before anything is read
// (the error wraps ErrBadName).
func (im Importer) ImportDir(ctx context.Context, dir string, names []string) (*DirReport, error) {
	if err := safefile.CheckDir(dir); err != nil {
		return nil, err
	}
	rep := &DirReport{}
	for _, n := range names {
		if err := CheckName(n); err != nil {
			return nil, err
		}
	}
	if len(names) == 0 {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, classify(fmt.Errorf("listing %s: %w", dir, err), "")
		}
		for _, e := range ents {
			switch {
			case strings.HasPrefix(e.Name(), "."):
			case e.Type().IsRegular():
				names = append(names, e.Name())
			default:
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s is %s, not a regular file: not imported", e.Name(), safefile.DescribeMode(e.Type())))
			}
		}
		sort.Strings(names)
		if len(names) == 0 {
			return rep, fmt.Errorf("%s holds no files", dir)
		}
	}
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = filepath.Join(dir, n)
	}
	files, err := im.Import(ctx, paths)
	rep.Files = files
	rep.Problems = append(rep.Problems, accountSums(dir)...)
	if err == nil && len(rep.Problems) > 0 {
		err = fmt.Errorf("%s: %s", dir, strings.Join(rep.Problems, "; "))
	}
	return rep, err
}

// accountSums checks every entry of dir's SHA256SUMS names a regular file
// inside dir. (Whether each imported file matches is Import's check.)
func accountSums(dir string) []string {
	b, err := safefile.ReadLimited(filepath.Join(dir, filekind.ChecksumsName), 1<<20)
	if err != nil {
		return nil // absent or unreadable: Import reports it per file
	}
	list, err := filekind.ParseChecksums(b)
	if err != nil {
		return nil
	}
	var problems []string
	for _, c := range list {
		if err := CheckName(c.Name); err != nil {
			problems = append(problems, fmt.Sprintf("%s lists %q, which is not a file inside the folder: the list is damaged or tampered with", filekind.ChecksumsName, c.Name))
			continue
		}
		st, err := os.Lstat(filepath.Join(dir, c.Name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			problems = append(problems, fmt.Sprintf("%s lists %s, which is missing from the medium: the copy is incomplete", filekind.ChecksumsName, c.Name))
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s lists %s, which cannot be examined: %v", filekind.ChecksumsName, c.Name, err))
		case !st.Mode().IsRegular():
			problems = append(problems, fmt.Sprintf("%s lists %s, which is %s, not a regular file", filekind.ChecksumsName, c.Name, safefile.DescribeMode(st.Mode().Type())))
		}
	}
	return problems
}
