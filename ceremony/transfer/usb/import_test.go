package usb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony/transfer/filekind"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// folder writes files and, when listed is non-nil, a SHA256SUMS listing
// those names with the digests of the given contents.
func folder(t *testing.T, files map[string]string, listed map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if listed != nil {
		var b strings.Builder
		for name, content := range listed {
			b.WriteString(sumHex([]byte(content)) + "  " + name + "\n")
		}
		if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const transcript = `{"seq":0,"prev":"","event":"ceremony opened"}
{"seq":1,"prev":"ab12","event":"certificate enrolled"}
`

func TestImportChecksAgainstSHA256SUMS(t *testing.T) {
	dir := folder(t,
		map[string]string{"transcript.jsonl": transcript, "extra.txt": "hello\n"},
		map[string]string{"transcript.jsonl": transcript})
	res, err := Import(context.Background(), []string{filepath.Join(dir, "transcript.jsonl"), filepath.Join(dir, "extra.txt")})
	if err != nil {
		t.Fatal(err)
	}
	tr := res[0]
	if tr.Kind() != filekind.Transcript || tr.Checksum != Matches || tr.Err != nil || len(tr.Warnings) != 0 {
		t.Errorf("transcript: %+v", tr)
	}
	want := "ceremony transcript: 2 entries (hash chain not checked here: open it with the transcript viewer); SHA-256 " + sumHex([]byte(transcript)) + " matches SHA256SUMS"
	if tr.Summary() != want {
		t.Errorf("summary:\n got %s\nwant %s", tr.Summary(), want)
	}
	if string(tr.Data) != transcript {
		t.Error("Data is not the file's contents")
	}
	extra := res[1]
	if extra.Checksum != NotListed || extra.Err != nil || len(extra.Warnings) != 2 {
		t.Errorf("unlisted unknown file: want two warnings (not listed, unknown kind), got %+v", extra)
	}
}

func TestImportWarnsAboutDrillFiles(t *testing.T) {
	dir := folder(t, map[string]string{"DRILL-transcript.jsonl": transcript}, map[string]string{"DRILL-transcript.jsonl": transcript})
	res, err := Import(context.Background(), []string{filepath.Join(dir, "DRILL-transcript.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0].Warnings) != 1 || !strings.Contains(res[0].Warnings[0], "drill file") {
		t.Errorf("warnings: %q", res[0].Warnings)
	}
}

func TestImportWithoutSHA256SUMSWarns(t *testing.T) {
	dir := folder(t, map[string]string{"transcript.jsonl": transcript}, nil)
	res, err := Import(context.Background(), []string{filepath.Join(dir, "transcript.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Checksum != NoChecksums || len(res[0].Warnings) != 1 || !strings.Contains(res[0].Warnings[0], "no SHA256SUMS") {
		t.Errorf("%+v", res[0])
	}
}

func TestImportMismatchIsAnError(t *testing.T) {
	dir := folder(t,
		map[string]string{"transcript.jsonl": transcript, "ok.jsonl": transcript},
		map[string]string{"transcript.jsonl": "something else", "ok.jsonl": transcript})
	res, err := Import(context.Background(), []string{filepath.Join(dir, "transcript.jsonl"), filepath.Join(dir, "ok.jsonl")})
	var mm *MismatchError
	if !errors.Is(err, ErrChecksumMismatch) || !errors.As(err, &mm) {
		t.Fatalf("err = %v, want a MismatchError", err)
	}
	if res[0].Checksum != Mismatch || res[0].Err == nil || res[1].Err != nil || res[1].Checksum != Matches {
		t.Errorf("per-file results: %+v / %+v", res[0], res[1])
	}
	if !strings.Contains(err.Error(), "transcript.jsonl does NOT match") {
		t.Errorf("error message: %v", err)
	}
}

func TestImportRefusals(t *testing.T) {
	dir := folder(t, map[string]string{"big.bin": strings.Repeat("x", 2048), "damaged.jsonl": `{"seq":0,"prev":""}` + "\n{broken\n"}, nil)
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), []byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	im := Importer{Limit: 1024}
	for _, c := range []struct{ name, want string }{
		{"big.bin", "over the 1024-byte limit"},
		{"link.json", "symbolic link"},
		{"missing.json", "does not exist"},
		{"damaged.jsonl", "line 2 is not valid JSON"},
		{"key.pem", "never be carried across the air gap"},
	} {
		res, err := im.Import(context.Background(), []string{filepath.Join(dir, c.name)})
		if err == nil || !strings.Contains(err.Error(), c.want) || res[0].Err == nil {
			t.Errorf("%s: err = %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	if _, err := Import(context.Background(), nil); err == nil {
		t.Error("importing nothing is not an error")
	}
}

func TestImportDamagedSHA256SUMS(t *testing.T) {
	dir := folder(t, map[string]string{"transcript.jsonl": transcript, "SHA256SUMS": "not a checksum list\n"}, nil)
	res, err := Import(context.Background(), []string{filepath.Join(dir, "transcript.jsonl")})
	if err == nil || res[0].Checksum != ChecksumsUnreadable || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("err = %v, result %+v", err, res[0])
	}
}

// vector reads a file of the contract's test vectors (see their README.md)
// through internal/testvectors: the repository's own copy unless
// CUSTODIAN_VECTORS points elsewhere.
func vector(t *testing.T, name string) []byte {
	t.Helper()
	return testvectors.Read(t, name)
}

// The four things that cross the air gap, exported to a real medium and
// imported back: each is named plainly and checked against SHA256SUMS.
func TestRoundTripOfTheCeremonyFiles(t *testing.T) {
	files := []File{
		{"cert_0.cer", vector(t, "sd-3of2/keys/cert_0.cer")},
		{"sd.json", vector(t, "sd-3of2/sd.json")},
		{"exchange.cer", vector(t, "sd-3of2/exchange.cer")},
		{"blob.json", vector(t, "sd-3of2/blob.json")},
	}
	forEachFS(t, 4<<20, func(t *testing.T, mnt string) {
		if _, err := Export(context.Background(), mnt, files, nil); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(mnt, DefaultFolder)
		var paths []string
		for _, f := range files {
			paths = append(paths, filepath.Join(dir, f.Name))
		}
		res, err := Import(context.Background(), paths)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			kind   filekind.Kind
			prefix string
		}{
			{filekind.Certificate, `certificate: "CN=custodian 0", RSA-2048`},
			{filekind.SecurityDomain, "security domain file: 3 shares, quorum 2, 3 EncData items (hsm_backup, base_enclave_backup, partition_enclave_backup); SHA-256 "},
			{filekind.ExchangeKey, `exchange key: "CN=security domain exchange key"`},
			{filekind.RestoreBlob, "restore blob: 3 EncData items"},
		}
		for i, r := range res {
			if r.Kind() != want[i].kind || r.Checksum != Matches || r.Err != nil || len(r.Warnings) != 0 {
				t.Errorf("%s: %+v", files[i].Name, r)
			}
			s := r.Summary()
			if !strings.HasPrefix(s, want[i].prefix) || !strings.HasSuffix(s, sumHex(files[i].Data)+" matches SHA256SUMS") {
				t.Errorf("%s summary:\n %s\nwant it to start with %q and end with the digest and \"matches SHA256SUMS\"", files[i].Name, s, want[i].prefix)
			}
		}
	})
}

func TestImportDamagedSDFile(t *testing.T) {
	sd := vector(t, "sd-3of2/sd.json")
	dir := folder(t, map[string]string{"sd.json": string(sd[:len(sd)-40])}, nil)
	res, err := Import(context.Background(), []string{filepath.Join(dir, "sd.json")})
	var de *DetectedError
	if !errors.As(err, &de) || !errors.Is(err, filekind.ErrInvalid) || res[0].Kind() != filekind.SecurityDomain {
		t.Fatalf("err = %v, result %+v", err, res[0])
	}
	if !strings.Contains(res[0].Summary(), "looks like a security domain file but: ") {
		t.Errorf("summary: %s", res[0].Summary())
	}
}
