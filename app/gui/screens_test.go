package gui

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// checkOnVerifyScreen opens the Verify screen and checks the security
// domain of a vectors folder against the certificates in it, quorum 2.
func checkOnVerifyScreen(t *testing.T, vectors string, certs ...string) *harness {
	h := newHarness(t)
	h.locked(func() { h.shell.verifyScreen() })
	h.typeInto("the file to check (SD file, exchange key, blob, certificate, transcript, SHA256SUMS)", testvectors.Path(t, vectors, "sd.json"))
	h.typeInto("quorum M (optional)", "2")
	var paths []string
	for _, c := range certs {
		paths = append(paths, testvectors.Path(t, append([]string{vectors}, strings.Split(c, "/")...)...))
	}
	h.typeInto("for an SD file: custodian certificate paths, one per line, in share order (optional)", strings.Join(paths, "\n"))
	h.tap("Check")
	h.waitShows("security domain file")
	h.waitShows("verification passed")
	return h
}

func TestVerifyScreenSaysWhatAFileIsAndHoldsAnSDAgainstCertificates(t *testing.T) {
	h := checkOnVerifyScreen(t, "sd-3of2", "keys/cert_0.cer", "keys/cert_1.cer", "keys/cert_2.cer")
	if h.shows("Note on") {
		t.Errorf("notes on Custodian's own certificates:\n%s", h.describe())
	}
}

// The live HSM's security domain against its own custodian certificates
// (openssl's: CA certificates, expired in 2021): the domain verifies, and
// what Azure does not check is said below the report, once per sentence
// with the certificates it is true of.
func TestVerifyScreenNotesExpiredAndCACertificates(t *testing.T) {
	h := checkOnVerifyScreen(t, "live-2025-04", "cert_0.cer", "cert_1.cer", "cert_2.cer")
	h.waitShows("Note on cert_0.cer, cert_1.cer, cert_2.cer: it expired on 2021-08-28")
	h.waitShows("Note on cert_0.cer, cert_1.cer, cert_2.cer: it is a CA certificate (basic constraints CA:TRUE)")
}

func TestTranscriptsScreenVerifiesPrintsAndFlagsAlterations(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "drill")
	report, err := ceremony.RunDrill(context.Background(), ceremony.DrillConfig{Custodians: 3, Quorum: 2, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	h.locked(func() { h.shell.transcriptsScreen() })
	h.typeInto("transcript file (.jsonl)", report.Transcript)
	h.typeInto("final digest from the signed record", strings.Repeat("0", 64))
	h.tap("Open and verify")
	h.waitShows("INTACT")
	h.waitShows("THE DIGEST DOES NOT MATCH")
	h.tap("Print the record (PDF)")
	h.waitShows("print it, initial every page, sign")
	pdf := report.Transcript[:len(report.Transcript)-len(filepath.Ext(report.Transcript))] + "-record.pdf"
	if b, err := os.ReadFile(pdf); err != nil || !bytes.HasPrefix(b, []byte("%PDF")) {
		t.Fatalf("record: %v", err)
	}

	data, _ := os.ReadFile(report.Transcript)
	altered := filepath.Join(t.TempDir(), "altered.jsonl")
	os.WriteFile(altered, bytes.Replace(data, []byte("Custodian 2"), []byte("Custodian 8"), 1), 0o600)
	h.locked(func() { h.shell.transcriptsScreen() })
	h.typeInto("transcript file (.jsonl)", altered)
	h.tap("Open and verify")
	h.waitShows("ALTERED")
	h.tap("Print the record (PDF)")
	h.waitShows("Not printed")
}

// An exception typed during a ceremony is in its transcript.
func TestExceptionEntryGoesIntoTheTranscript(t *testing.T) {
	h := newHarness(t)
	h.startDrill(h.tap)
	h.waitShows("Activation — custodian 1 of 3")
	h.tap("Record an exception")
	h.waitShows("what deviated from the script")
	h.typeInto("what deviated from the script", "the second witness arrived late")
	h.tap("Record")
	h.waitShows("Exception recorded")
	h.dismissDialogs()
	matches, _ := filepath.Glob(filepath.Join(h.shell.workDir, "DRILL-*", "*transcript.jsonl"))
	if len(matches) != 1 {
		t.Fatalf("transcripts: %v", matches)
	}
	data, _ := os.ReadFile(matches[0])
	if !bytes.Contains(data, []byte(`"exception":{"what":"the second witness arrived late","approved_by":"Drill witness"}`)) {
		t.Errorf("the exception is not in the transcript:\n%s", data)
	}
}
