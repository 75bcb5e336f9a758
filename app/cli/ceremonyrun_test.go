package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// runWith runs a command line with a test's own Env tweaks.
func runWith(t *testing.T, tweak func(*Env), args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
		ReadSecret: func(string) ([]byte, error) { return nil, fmt.Errorf("no terminal in tests") }}
	if tweak != nil {
		tweak(env)
	}
	err := Run(env, args)
	if err != nil {
		errOut.WriteString("custodian: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), ExitCode(err)
}

func exchangeSHA(t *testing.T) fingerprint.Fingerprint {
	t.Helper()
	ex, err := sd.ParseExchangeKey(testvectors.Read(t, "sd-3of2", "exchange.cer"))
	if err != nil {
		t.Fatal(err)
	}
	return fingerprint.Of(ex.Certificate.Raw)
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func restoreArgs(t *testing.T, out string, extra ...string) []string {
	return append([]string{"sd", "restore-blob", "--sd-file", vec(t, "sd.json"), "--sd-exchange-key", vec(t, "exchange.cer"), acceptVectorKey,
		"--key", "file:" + vec(t, "keys", "cert_0.key"), "--key", "file:" + vec(t, "keys", "cert_2.key"), "--out", out}, extra...)
}

func TestRestoreBlobConfirmsTheExchangeKeyBeforeAnyShare(t *testing.T) {
	fp := exchangeSHA(t)
	wrong := fingerprint.Of([]byte("an attacker's exchange key"))
	refusals := []struct {
		name  string
		tweak func(*Env)
		extra []string
		code  int
		want  string
	}{
		{"wrong --exchange-key-sha256", nil, []string{"--exchange-key-sha256", wrong.GroupedHex()}, 1, "not the " + wrong.Hex()},
		{"no terminal and no flag", nil, nil, 2, "give --exchange-key-sha256"},
		{"the operator says no", func(e *Env) { e.Ask = func(string) (string, error) { return "no", nil } }, nil, 1, "was not confirmed"},
		{"malformed --exchange-key-sha256", nil, []string{"--exchange-key-sha256", "12ab"}, 2, "--exchange-key-sha256"},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			_, errOut, code := runWith(t, c.tweak, restoreArgs(t, filepath.Join(dir, "blob.json"), c.extra...)...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d (want %d):\n%s", code, c.code, errOut)
			}
			if strings.Contains(errOut, "share x=") {
				t.Errorf("a share was opened:\n%s", errOut)
			}
			if names := listDir(t, dir); len(names) != 0 {
				t.Errorf("a refused restore wrote %v", names)
			}
		})
	}
	for name, how := range map[string]struct {
		tweak func(*Env)
		extra []string
	}{
		"right --exchange-key-sha256": {nil, []string{"--exchange-key-sha256", fp.GroupedHex(), "--hsm-name", "contoso-hsm"}},
		"the operator says yes":       {func(e *Env) { e.Ask = func(string) (string, error) { return "yes", nil } }, nil},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			blob := filepath.Join(dir, "blob.json")
			out, errOut, code := runWith(t, how.tweak, restoreArgs(t, blob, how.extra...)...)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			openBlob(t, blob)
			names := listDir(t, dir)
			if len(names) != 3 || names[0] != "SHA256SUMS" || names[1] != "blob.json" || !strings.HasPrefix(names[2], "custodian-sd-restore-blob-") {
				t.Fatalf("output folder: %v", names)
			}
			sums := string(mustRead(t, filepath.Join(dir, "SHA256SUMS")))
			if !strings.Contains(sums, "  blob.json\n") || !strings.Contains(sums, "  "+names[2]+"\n") {
				t.Errorf("SHA256SUMS:\n%s", sums)
			}
			if _, err := exec.LookPath("sha256sum"); err == nil {
				cmd := exec.Command("sha256sum", "-c", "SHA256SUMS")
				cmd.Dir = dir
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("sha256sum -c: %v\n%s", err, b)
				}
			}
			if !strings.Contains(out, "sha256sum -c SHA256SUMS") || !strings.Contains(out, "Import-AzKeyVaultSecurityDomain") {
				t.Errorf("output:\n%s", out)
			}
			v, err := transcript.VerifyFile(filepath.Join(dir, names[2]))
			if err != nil || !v.OK() || v.Ending() != "completed" || v.Ceremony().Mode != "PRODUCTION" {
				t.Fatalf("transcript: %s %v", v.Summary(), err)
			}
			var steps []string
			for _, e := range v.Entries {
				steps = append(steps, e.Step)
			}
			want := "transcript.open recovery.setup airgap.check recovery.sd.loaded recovery.exchange-key.attestation recovery.exchange-key.loaded recovery.exchange-key.confirmed recovery.share.opened recovery.share.opened recovery.blob.built recovery.export transcript.close"
			if strings.Join(steps, " ") != want {
				t.Errorf("steps:\n%s\nwant\n%s", strings.Join(steps, " "), want)
			}
			if !strings.Contains(out, "final digest: "+mustFP(t, v.Final).GroupedHex()) {
				t.Errorf("the final digest is not shown:\n%s", out)
			}
		})
	}
}

func mustFP(t *testing.T, h string) fingerprint.Fingerprint {
	f, ok := fingerprint.FromHex(h)
	if !ok {
		t.Fatalf("not a digest: %q", h)
	}
	return f
}

// encryptedKeyCopy copies a vector key as a passphrase-encrypted PEM (with
// its certificate beside it), so that opening it asks for a secret.
func encryptedKeyCopy(t *testing.T, dir, name string) string {
	t.Helper()
	block, _ := pem.Decode(testvectors.Read(t, "sd-3of2", "keys", name+".key"))
	enc, err := x509.EncryptPEMBlock(bytes.NewReader(bytes.Repeat([]byte{7}, 64)), "RSA PRIVATE KEY", block.Bytes, []byte("pass"), x509.PEMCipherAES256) //nolint:staticcheck // the legacy format soft reads
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+"-enc.key")
	os.WriteFile(p, pem.EncodeToMemory(enc), 0o600)
	os.WriteFile(filepath.Join(dir, name+"-enc.cer"), testvectors.Read(t, "sd-3of2", "keys", name+".cer"), 0o600)
	return p
}

// Ctrl+C at the second custodian's prompt abandons the recovery: the
// first share is wiped, the transcript closed "abandoned", no blob.
func TestInterruptAbandonsTheRecovery(t *testing.T) {
	keys, dir := t.TempDir(), t.TempDir()
	enc := encryptedKeyCopy(t, keys, "cert_2")
	sigs := make(chan os.Signal, 1)
	exited := make(chan int, 1)
	tweak := func(e *Env) {
		e.Interrupts = func() (<-chan os.Signal, func()) { return sigs, func() {} }
		e.Exit = func(code int) { exited <- code }
		e.ReadSecret = func(string) ([]byte, error) {
			sigs <- syscall.SIGINT
			<-exited
			return nil, errors.New("interrupted")
		}
	}
	args := []string{"sd", "restore-blob", "--sd-file", vec(t, "sd.json"), "--sd-exchange-key", vec(t, "exchange.cer"), acceptVectorKey,
		"--key", "file:" + vec(t, "keys", "cert_0.key"), "--key", "file:" + enc, "--out", filepath.Join(dir, "blob.json"),
		"--exchange-key-sha256", exchangeSHA(t).Hex()}
	_, errOut, code := runWith(t, tweak, args...)
	if code != 1 || !strings.Contains(errOut, "ended: abandoned") || !strings.Contains(errOut, "wiped: share x=1 of custodian with key 1") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	names := listDir(t, dir)
	if len(names) != 1 || !strings.HasSuffix(names[0], "-transcript.jsonl") {
		t.Fatalf("after the interrupt the folder holds %v", names)
	}
	v, err := transcript.VerifyFile(filepath.Join(dir, names[0]))
	if err != nil || !v.OK() || v.Ending() != "abandoned" {
		t.Fatalf("transcript: %s %v", v.Summary(), err)
	}
	if e := v.Entries[len(v.Entries)-1]; !strings.Contains(e.Message, "SIGINT or SIGTERM") {
		t.Errorf("closing entry %+v", e)
	}
}

func TestCheckShareAndEnrollWriteTranscripts(t *testing.T) {
	sdPath, key := vec(t, "sd.json"), "file:"+vec(t, "keys", "cert_1.key")
	if !filepath.IsAbs(sdPath) {
		abs, _ := filepath.Abs(sdPath)
		sdPath, key = abs, "file:"+filepath.Join(filepath.Dir(abs), "keys", "cert_1.key")
	}
	cwd := t.TempDir()
	t.Chdir(cwd)
	for i := 0; i < 2; i++ {
		out := mustRun(t, "sd", "check-share", "--sd-file", sdPath, "--key", key)
		if !strings.Contains(out, "final digest: ") {
			t.Errorf("check-share shows no digest:\n%s", out)
		}
	}
	names := listDir(t, cwd)
	if len(names) != 2 || names[0] == names[1] || !strings.HasPrefix(names[0], "custodian-sd-check-share-") {
		t.Fatalf("two runs left %v", names)
	}
	for _, n := range names {
		v, err := transcript.VerifyFile(n)
		if err != nil || !v.OK() || v.Ending() != "completed" || v.Entries[2].Step != "share-check.opened" {
			t.Errorf("%s: %s %v", n, v.Summary(), err)
		}
	}
	// Refused before any token: nothing written.
	for _, args := range [][]string{
		{"sd", "check-share", "--sd-file", sdPath},
		{"sd", "check-share", "--sd-file", filepath.Join(cwd, names[0]), "--key", key},
		{"sd", "check-share", "--sd-file", sdPath, "--key", "yubikey:serial=notanumber&&"},
		{"sd", "check-share", "--sd-file", sdPath, "--key", key, "--transcript", names[0]},
		{"token", "enroll", "--token", "file:" + filepath.Join(cwd, "k.key"), "--name", "A", "--out", filepath.Join(cwd, "missing", "a.cer")},
		{"token", "enroll", "--token", "file:" + filepath.Join(cwd, "k.key"), "--name", "A", "--out", filepath.Join(cwd, "a.cer"), "--bits", "1000"},
	} {
		if _, errOut, code := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d %s", args, code, errOut)
		}
	}
	if after := listDir(t, cwd); len(after) != 2 {
		t.Errorf("refused commands wrote: %v", after)
	}
	// A failed check is recorded as cancelled by Custodian.
	_, _, code := run(t, "sd", "check-share", "--sd-file", sdPath, "--key", "file:"+filepath.Join(filepath.Dir(sdPath), "exchange.key"), "--transcript", filepath.Join(cwd, "failed.jsonl"))
	if v, err := transcript.VerifyFile(filepath.Join(cwd, "failed.jsonl")); code != 1 || err != nil || !v.OK() || v.Ending() != "cancelled" {
		t.Errorf("failed check: exit %d, %s %v", code, v.Summary(), err)
	}
	// A drill enrollment on a software key: transcript next to the certificate.
	out := mustRun(t, "token", "enroll", "--drill", "--token", "file:"+filepath.Join(cwd, "k.key"), "--name", "Alice", "--out", filepath.Join(cwd, "certs-a.cer"))
	matches, _ := filepath.Glob(filepath.Join(cwd, "DRILL-custodian-token-enroll-*-transcript.jsonl"))
	if len(matches) != 1 || !strings.Contains(out, "final digest: ") {
		t.Fatalf("enroll transcript %v\n%s", matches, out)
	}
	v, err := transcript.VerifyFile(matches[0])
	if err != nil || !v.OK() || v.Ending() != "completed" || v.Entries[1].Step != "token-enroll.enroll" || v.Entries[2].Outputs[0].Name != "certs-a.cer" {
		t.Errorf("enroll transcript: %s %v %+v", v.Summary(), err, v.Entries)
	}
}

// The CLI's side of the last PIN try: told, asked, recorded, then tried
// with the backend's permission; never without a terminal.
func TestLastPINTryNeedsAConfirmationAtTheTerminal(t *testing.T) {
	tok := token.Info{Kind: token.KindYubiKey, Serial: "42"}
	lastTry := &token.PINError{Token: tok, What: "PIN", RetriesLeft: 1, LastRetry: true}
	for _, c := range []struct {
		name    string
		ask     func(string) (string, error)
		allowed bool
		want    string
	}{
		{"yes", func(string) (string, error) { return "yes", nil }, true, ""},
		{"no", func(string) (string, error) { return "no", nil }, false, "did not use the last PIN try"},
		{"no terminal", nil, false, "no terminal to confirm the last try on"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var errOut bytes.Buffer
			rec := &ceremony.MemoryRecorder{}
			l := ceremony.NewShareCheck(ceremony.Production, nil, rec).Lifecycle
			env := &Env{Stdout: &errOut, Stderr: &errOut, Ask: c.ask}
			var tries []bool
			err := withLastTry(env, l, "Alice", func(opts token.OpenOptions) error {
				tries = append(tries, opts.AllowLastRetry)
				if !opts.AllowLastRetry {
					return fmt.Errorf("Alice: %w", lastTry)
				}
				return nil
			})
			if c.allowed {
				if err != nil || len(tries) != 2 || !tries[1] || rec.Steps()[len(rec.Steps())-1] != "share-check.pin.last-try-confirmed" {
					t.Errorf("err %v tries %v steps %v", err, tries, rec.Steps())
				}
			} else if err == nil || !strings.Contains(err.Error(), c.want) || len(tries) != 1 || ExitCode(err) != 1 {
				t.Errorf("err %v tries %v", err, tries)
			}
			if !strings.Contains(errOut.String(), "ONE PIN try left") {
				t.Errorf("the custodian was not told:\n%s", errOut.String())
			}
		})
	}
	blocked := keyError(1, "yubikey:serial=42", fmt.Errorf("custodian with key 2: %w", &token.PINError{Token: tok, What: "PIN", Blocked: true}))
	if ExitCode(blocked) != 1 || !strings.Contains(blocked.Error(), "the custodian with key 2 cannot open their share") || !strings.Contains(blocked.Error(), "PUK") {
		t.Errorf("blocked: %v", blocked)
	}
}

func TestRotationDrillThroughTheCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "drill")
	out := mustRun(t, "drill", "run", "--rotation", "--custodians", "5", "--quorum", "3", "--dir", dir)
	if !strings.Contains(out, "the rotation works end to end") || !strings.Contains(out, "same master key") {
		t.Fatalf("report:\n%s", out)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*transcript.jsonl"))
	if len(matches) != 1 {
		t.Fatalf("transcripts %v", matches)
	}
	if out := mustRun(t, "transcript", "verify", matches[0]); !strings.Contains(out, "ended: signed off") {
		t.Errorf("verify:\n%s", out)
	}
	if _, errOut, code := run(t, "drill", "run", "--rotation", "--fault-lost-token", "--custodians", "4", "--dir", filepath.Join(t.TempDir(), "d")); code != 2 || !strings.Contains(errOut, "without faults") {
		t.Errorf("rotation with a fault: exit %d %s", code, errOut)
	}
}
