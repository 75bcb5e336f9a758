// Package testvectors locates the shared test vectors (the contract's
// ../shared/vectors, see its README.md) for tests in any package.
//
// The directory is $CUSTODIAN_VECTORS when set, else the copy kept in this
// package's testdata/vectors (so a plain clone passes its own tests), else
// shared/vectors beside the repository checkout. The copy is data taken
// unchanged from the contract's shared/vectors; its README.md says where
// each file came from.
package testvectors

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir returns the vectors directory, failing the test when it is missing:
// the vectors are the contract, so a run without them must not pass.
func Dir(t testing.TB) string {
	t.Helper()
	d, ok := find()
	if !ok {
		t.Fatalf("test vectors not found in %s: set CUSTODIAN_VECTORS to a copy of the contract's vectors folder (the repository keeps one in internal/testvectors/testdata/vectors)", d)
	}
	return d
}

// Path returns a file inside the vectors directory.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	return filepath.Join(append([]string{Dir(t)}, elem...)...)
}

// Read returns a vector file's bytes.
func Read(t testing.TB, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(Path(t, elem...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func find() (string, bool) {
	if d := os.Getenv("CUSTODIAN_VECTORS"); d != "" {
		return d, isDir(d)
	}
	root := moduleRoot()
	here := filepath.Join(root, "internal", "testvectors")
	for _, d := range []string{
		filepath.Join(here, "testdata", "vectors"),
		filepath.Join(root, "..", "shared", "vectors"),
	} {
		if isDir(d) {
			return filepath.Clean(d), true
		}
	}
	return filepath.Join(root, "..", "shared", "vectors"), false
}

// moduleRoot is the repository root: this source file's location, or,
// when the test binary was built with -trimpath (the file name is then
// module-relative), the nearest folder above the working directory (the
// package under test) that holds go.mod.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	if filepath.IsAbs(file) {
		return filepath.Join(filepath.Dir(file), "..", "..")
	}
	d, err := os.Getwd()
	if err != nil {
		return "."
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		up := filepath.Dir(d)
		if up == d {
			return "."
		}
		d = up
	}
}

func isDir(d string) bool {
	st, err := os.Stat(d)
	return err == nil && st.IsDir()
}

// Find returns the vectors directory and whether it exists, for TestMain
// functions that have no testing.TB yet.
func Find() (string, bool) { return find() }
