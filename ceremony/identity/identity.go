// Package identity says which Custodian is running: its version and the
// SHA-256 of its own binary, as hex and as words. Every transcript opens
// with it, and the status bar shows it, so that witnesses can compare the
// binary with the one that was reviewed and published.
package identity

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/custodian-hsm/custodian/crypto/fingerprint"
)

// Identity is the running build.
type Identity struct {
	Version   string
	Revision  string
	Modified  bool
	GoVersion string
	// Binary is the SHA-256 of the executable; zero when it cannot be read.
	Binary fingerprint.Fingerprint
	// Err says why the binary could not be hashed.
	Err error
}

// Hex is the binary's SHA-256 (or why it is unknown).
func (id Identity) Hex() string {
	if id.Err != nil {
		return "unknown (" + id.Err.Error() + ")"
	}
	return id.Binary.Hex()
}

// Words is the binary's SHA-256 as words.
func (id Identity) Words() string {
	if id.Err != nil {
		return ""
	}
	return id.Binary.WordString()
}

// String is the version line: "v0.1.0 (3f2a9c1d7e4b, modified) go1.26.8",
// followed by "DRILL BUILD" in the drill build.
func (id Identity) String() string {
	s := id.Version
	if id.Revision != "" {
		rev := id.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " (" + rev
		if id.Modified {
			s += ", modified"
		}
		s += ")"
	}
	s += " " + id.GoVersion
	if DrillBuild {
		s += " " + DrillBuildMark
	}
	return s
}

// DrillBuildMark is what the drill build says of itself.
const DrillBuildMark = "DRILL BUILD"

var (
	once    sync.Once
	current Identity
)

// Set at link time by the Makefile (-ldflags -X), which builds with
// -buildvcs=false so that the bytes do not depend on how the checkout was
// made: version is FyneApp.toml's, commit the full git commit, modified
// "true" when tracked files differed from it. Empty in a plain `go build`,
// which falls back to the build information Go records.
var (
	version  string
	commit   string
	modified string
)

// Current returns the running build's identity (computed once; a call
// made while Prefetch's computation runs waits for it).
func Current() Identity {
	once.Do(func() { current = compute() })
	return current
}

// Prefetch starts computing the identity on another goroutine and returns
// at once. Hashing the binary is most of what a short command costs (about
// 20 ms of CPU for the 29 MB release binary with SHA-NI): started at
// process start, it runs on the second core while the rest of the process
// initialises and the command parses its inputs, instead of in front of
// the first transcript entry. The result is the same as Current's: the
// file is hashed once, whoever asks first.
func Prefetch() {
	go Current()
}

func compute() Identity {
	id := Identity{Version: "(devel)", GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			id.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				id.Revision = s.Value
			case "vcs.modified":
				id.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		id.Version = version
	}
	if commit != "" {
		id.Revision = commit
		id.Modified = modified == "true"
	}
	exe, err := os.Executable()
	if err != nil {
		id.Err = err
		return id
	}
	sum, err := fileSHA256(exe)
	if err != nil {
		id.Err = fmt.Errorf("reading %s: %w", exe, err)
		return id
	}
	id.Binary = sum
	return id
}

func fileSHA256(path string) (fingerprint.Fingerprint, error) {
	var fp fingerprint.Fingerprint
	f, err := os.Open(path)
	if err != nil {
		return fp, err
	}
	defer f.Close()
	h := sha256.New()
	// 1 MiB reads: 29 read calls for the release binary instead of the
	// 900 that io.Copy's 32 KiB buffer makes. (Mapping the file costs more
	// CPU than copying it, measured: page faults.)
	buf := make([]byte, 1<<20)
	for {
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return fp, err
		}
	}
	copy(fp[:], h.Sum(nil))
	return fp, nil
}
