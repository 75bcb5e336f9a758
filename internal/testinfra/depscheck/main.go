// Command depscheck fails when the production build of Custodian links
// test code: the standard testing package (and testing/...), Fyne's test
// driver (fyne.io/fyne/v2/test), anything under internal/testinfra (the
// virtual YubiKey, its pcscd rig, this command), or the GUI's screenshot
// tour. The production build is the untagged one (`go build .`, `make
// build`); the drill build (-tags drillbuild) may carry the virtual
// YubiKeys and the tour, never the testing packages.
//
// `make test` (and so .ci/run) runs it from the module root:
//
//	go run ./internal/testinfra/depscheck
//
// It reads `go list -deps -json .`, so it judges exactly what the linker
// is given. It never builds or runs Custodian itself.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// tourPackage and tourFile are where the screenshot tour lives: a file of
// the GUI package, compiled only with the drillbuild tag.
const (
	tourPackage = "app/gui"
	tourFile    = "screenshots.go"
)

// listed is what depscheck needs of one `go list -json` entry.
type listed struct {
	ImportPath string
	GoFiles    []string
}

func main() {
	tags := ""
	if len(os.Args) == 3 && os.Args[1] == "-tags" {
		tags = os.Args[2]
	} else if len(os.Args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/testinfra/depscheck [-tags TAGS]")
		os.Exit(2)
	}
	root, module, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "depscheck:", err)
		os.Exit(1)
	}
	pkgs, err := listDeps(root, tags)
	if err != nil {
		fmt.Fprintln(os.Stderr, "depscheck:", err)
		os.Exit(1)
	}
	if bad := violations(pkgs, module); len(bad) > 0 {
		fmt.Fprintf(os.Stderr, "depscheck: the build (tags %q) links test code:\n  %s\n", tags, strings.Join(bad, "\n  "))
		fmt.Fprintln(os.Stderr, "depscheck: move test-only code under internal/testinfra or behind the drillbuild tag")
		os.Exit(1)
	}
	fmt.Printf("depscheck: the build (tags %q) links no test code (%d packages)\n", tags, len(pkgs))
}

// moduleRoot returns the directory and path of the main module.
func moduleRoot() (dir, module string, err error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Path}}").Output()
	if err != nil {
		return "", "", fmt.Errorf("go list -m: %w", err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return "", "", fmt.Errorf("go list -m said %q: run depscheck inside the module", out)
	}
	return f[0], f[1], nil
}

// listDeps lists the packages the main package in root links, with tags.
func listDeps(root, tags string) ([]listed, error) {
	args := []string{"list", "-deps", "-json=ImportPath,GoFiles"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading go list's output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		return nil, errors.New("go list listed no packages")
	}
	return pkgs, nil
}

// violations names every listed package (or file) that is test code.
func violations(pkgs []listed, module string) []string {
	var bad []string
	for _, p := range pkgs {
		path := p.ImportPath
		switch {
		case under(path, "testing"):
			bad = append(bad, path+" (the standard testing package)")
		case under(path, "fyne.io/fyne/v2/test"):
			bad = append(bad, path+" (Fyne's test driver)")
		case under(path, module+"/internal/testinfra"):
			bad = append(bad, path+" (test infrastructure)")
		case path == module+"/"+tourPackage && slices.Contains(p.GoFiles, tourFile):
			bad = append(bad, path+"/"+tourFile+" (the screenshot tour)")
		}
	}
	return bad
}

// under says whether path is pkg or a package below it.
func under(path, pkg string) bool {
	return path == pkg || strings.HasPrefix(path, pkg+"/")
}
