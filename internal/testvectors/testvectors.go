// Package testvectors locates the shared test vectors (the contract's
// ../shared/vectors, see its README.md) for tests in any package.
//
// The directory is $CUSTODIAN_VECTORS when set, else testdata/vectors at
// the repository root, else shared/vectors beside the repository checkout
// (where CI puts it).
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
		t.Fatalf("test vectors not found: set CUSTODIAN_VECTORS or check out shared/ beside the repository (looked in %s)", d)
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
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	for _, d := range []string{
		filepath.Join(root, "testdata", "vectors"),
		filepath.Join(root, "..", "shared", "vectors"),
	} {
		if isDir(d) {
			return filepath.Clean(d), true
		}
	}
	return filepath.Join(root, "..", "shared", "vectors"), false
}

func isDir(d string) bool {
	st, err := os.Stat(d)
	return err == nil && st.IsDir()
}

// Find returns the vectors directory and whether it exists, for TestMain
// functions that have no testing.TB yet.
func Find() (string, bool) { return find() }
