package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// The bad-input corpus (testdata/badinputs/cases.txt) runs through the real
// binary, built once into a temporary folder, so that exit codes, the last
// stderr line and the files left behind are those a person meets.

// vectorsDir is the contract's test vectors, as internal/testvectors finds
// them (CUSTODIAN_VECTORS, else the repository's copy), made absolute
// because the cases run the binary in other folders.
var vectorsDir = func() string {
	d, _ := testvectors.Find()
	abs, err := filepath.Abs(d)
	if err != nil {
		return d
	}
	return abs
}()

func buildCustodian(t testing.TB, tags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "custodian")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	args := []string{"build", "-o", bin}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command(goTool, append(args, "github.com/custodian-hsm/custodian")...)
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the binary: %v\n%s", err, out)
	}
	return bin
}

type badCase struct {
	line   int
	exit   int
	words  []string
	checks []string
	args   []string
}

func readCases(t *testing.T) []badCase {
	f, err := os.Open("testdata/badinputs/cases.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []badCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.SplitN(line, " | ", 4)
		if len(fields) != 4 {
			t.Fatalf("cases.txt line %d: want 4 fields separated by \" | \"", n)
		}
		exit, err := strconv.Atoi(fields[0])
		if err != nil {
			t.Fatalf("cases.txt line %d: exit code %q", n, fields[0])
		}
		c := badCase{line: n, exit: exit, words: strings.Split(fields[1], ";"), args: splitArgs(fields[3])}
		if fields[2] != "-" {
			c.checks = strings.Split(fields[2], ",")
		}
		cases = append(cases, c)
	}
	return cases
}

// splitArgs splits a command line on spaces; 'single quotes' keep spaces.
func splitArgs(s string) []string {
	var args []string
	var cur strings.Builder
	quoted, have := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, have = !quoted, true
		case r == ' ' && !quoted:
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		args = append(args, cur.String())
	}
	return args
}

func TestBadInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildCustodian(t)
	fix := makeFixtures(t, bin)
	cases := readCases(t)
	if len(cases) < 60 {
		t.Fatalf("the corpus has %d cases; keep at least 60", len(cases))
	}
	for _, c := range cases {
		t.Run(strconv.Itoa(c.line)+"_"+strings.Join(c.args[:min(2, len(c.args))], "_"), func(t *testing.T) {
			runCase(t, bin, fix, c)
		})
	}
}

func runCase(t *testing.T, bin, fix string, c badCase) {
	w := t.TempDir()
	expand := strings.NewReplacer("$W", w, "$F", fix, "$V", filepath.Join(vectorsDir, "sd-3of2"), "$L", filepath.Join(vectorsDir, "live-2025-04")).Replace
	args := make([]string, len(c.args))
	for i, a := range c.args {
		args[i] = expand(a)
	}
	for _, ch := range c.checks {
		if p, ok := strings.CutPrefix(ch, "pre:"); ok {
			if err := os.WriteFile(expand(p), []byte("half"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = w
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("line %d: custodian %s hangs", c.line, strings.Join(args, " "))
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	all := stdout.String() + stderr.String()
	report := func(format string, a ...any) {
		t.Errorf("line %d: custodian %s: "+format+"\nstdout:\n%s\nstderr:\n%s", append(append([]any{c.line, strings.Join(args, " ")}, a...), stdout.String(), stderr.String())...)
	}
	if code != c.exit {
		report("exit %d, want %d", code, c.exit)
	}
	if strings.Contains(all, "goroutine ") || strings.Contains(all, "panic:") {
		report("a stack trace")
	}
	if code != 0 {
		lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
		if last := lines[len(lines)-1]; !strings.HasPrefix(last, "custodian: ") {
			report("the last stderr line %q does not start with \"custodian: \"", last)
		}
	}
	for _, word := range c.words {
		word = expand(word)
		if neg, ok := strings.CutPrefix(word, "!"); ok {
			if strings.Contains(all, neg) {
				report("the output contains %q, which it must not", neg)
			}
		} else if !strings.Contains(all, word) {
			report("the output does not say %q", word)
		}
	}
	for _, ch := range c.checks {
		kind, p, _ := strings.Cut(ch, ":")
		p = expand(p)
		switch kind {
		case "clean":
			if ents, _ := os.ReadDir(w); len(ents) > 0 {
				report("left behind in the work folder: %v", names(ents))
			}
		case "mode600":
			if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
				report("%s: want mode 0600: %v %v", p, st, err)
			}
		case "absent":
			if _, err := os.Lstat(p); err == nil {
				report("%s is still there", p)
			}
		case "pre":
		default:
			t.Fatalf("line %d: unknown check %q", c.line, ch)
		}
	}
}

func names(ents []os.DirEntry) []string {
	var n []string
	for _, e := range ents {
		n = append(n, e.Name())
	}
	return n
}

// makeFixtures writes the bad files the corpus names as $F/….
func makeFixtures(t *testing.T, bin string) string {
	t.Helper()
	fix := t.TempDir()
	v := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(vectorsDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sdData := v("sd-3of2/sd.json")
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(fix, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(fix, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	big, _ := os.Create(filepath.Join(fix, "big.json"))
	big.Truncate(10<<20 + 1)
	big.Close()
	i := bytes.Index(sdData, []byte(`"SharedKeys":`))
	j := bytes.Index(sdData, []byte(`,"version"`))
	second := bytes.Replace(sdData[i:j], []byte(`"required":2`), []byte(`"required":3`), 1)
	write("dup-sharedkeys.json", append(append(append(append([]byte{}, sdData[:j]...), ",\n"...), second...), sdData[j:]...))
	write("dup-required.json", bytes.Replace(sdData, []byte(`"required":2`), []byte(`"required":2,"required":3`), 1))
	write("sd-bom.json", append([]byte("\xef\xbb\xbf"), sdData...))
	write("sd-utf16.json", utf16LE(sdData, true))
	write("sd-utf16-nobom.json", utf16LE(sdData, false))
	write("exchange-utf16.cer", utf16LE(v("sd-3of2/exchange.cer"), true))
	write("transfer-key.json", v("live-2025-04/transfer-key.json"))
	write("empty.json", nil)
	write("v1.json", []byte(`{"SplitKeys": {}, "version": 1}`))
	write("truncated.json", sdData[:len(sdData)/2])
	write("trailing.json", append(append([]byte{}, sdData...), "{}"...))
	write("deep.json", []byte(`{"EncData":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`}`))
	write("garbage.jsonl", []byte("{not json\n"))
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	for p := range img.Pix {
		img.Pix[p] = 0xff
	}
	img.Set(0, 0, color.Black)
	var pngBuf bytes.Buffer
	png.Encode(&pngBuf, img)
	write("blank.png", pngBuf.Bytes())

	// A good medium: the SD and its SHA256SUMS.
	medium := filepath.Join(fix, "medium")
	os.Mkdir(medium, 0o755)
	os.WriteFile(filepath.Join(medium, "sd.json"), sdData, 0o644)
	os.WriteFile(filepath.Join(medium, "SHA256SUMS"), []byte(sumLine("sd.json", sdData)), 0o644)
	// A bad one: entries outside the folder and missing, a FIFO.
	bad := filepath.Join(fix, "badmedium")
	os.Mkdir(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "a.txt"), []byte("a\n"), 0o644)
	syscall.Mkfifo(filepath.Join(bad, "pipe"), 0o644)
	os.WriteFile(filepath.Join(bad, "SHA256SUMS"), []byte(sumLine("a.txt", []byte("a\n"))+sumLine("../../outside/file", []byte("x"))+sumLine("gone.txt", []byte("y"))), 0o644)

	// A drill HSM, for the commands that need one.
	cmd := exec.Command(bin, "drill", "hsm", "activate", "--hsm-dir", filepath.Join(fix, "hsm"), "--quorum", "2", "--out", filepath.Join(fix, "hsm-sd.json"),
		filepath.Join(vectorsDir, "sd-3of2/keys/cert_0.cer"), filepath.Join(vectorsDir, "sd-3of2/keys/cert_1.cer"), filepath.Join(vectorsDir, "sd-3of2/keys/cert_2.cer"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("making the drill HSM fixture: %v\n%s", err, out)
	}
	return fix
}

func utf16LE(b []byte, bom bool) []byte {
	var out []byte
	if bom {
		out = append(out, 0xff, 0xfe)
	}
	for _, u := range utf16.Encode([]rune(string(b))) {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}

func sumLine(name string, data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:]) + "  " + name + "\n"
}
