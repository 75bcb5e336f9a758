// Command releasetool makes the release files that are derived from the
// program rather than built: the words for a file's SHA-256 (the encoding
// the status bar shows and every transcript records) and the man page
// (from the CLI's own usage lines). The Makefile runs it; it is never
// linked into the custodian binary and must never be: it reads only the
// files it is given and writes only to stdout.
//
//	releasetool words FILE    the SHA-256 of FILE as Bytewords
//	releasetool man VERSION   the custodian(1) man page, in roff
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"

	"github.com/custodian-hsm/custodian/app/cli"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "releasetool:", err)
		os.Exit(2)
	}
}

func run(args []string, w io.Writer) error {
	switch {
	case len(args) == 2 && args[0] == "words":
		return words(args[1], w)
	case len(args) == 2 && args[0] == "man":
		return writeMan(w, args[1], cli.Usages())
	}
	return fmt.Errorf("usage: releasetool words FILE | releasetool man VERSION")
}

func words(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	var fp fingerprint.Fingerprint
	copy(fp[:], h.Sum(nil))
	_, err = fmt.Fprintln(w, fp.WordString())
	return err
}
