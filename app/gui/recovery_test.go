package gui

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// encryptedVectorKey writes custodian i's vector key encrypted with
// passphrase (PKCS#8 PBES2, as openssl makes it) next to its certificate.
func encryptedVectorKey(t *testing.T, i int, passphrase string) string {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is missing (make test-deps installs it)")
		}
		t.Skip("openssl is not installed: cannot make an encrypted key file")
	}
	dir := t.TempDir()
	name := filepath.Join(dir, "custodian.key")
	src := testvectors.Path(t, "sd-3of2", "keys", keyName(i, ".key"))
	out, err := exec.Command(openssl, "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", src, "-out", name, "-passout", "pass:"+passphrase).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkcs8: %v\n%s", err, out)
	}
	copyFile(t, testvectors.Path(t, "sd-3of2", "keys", keyName(i, ".cer")), filepath.Join(dir, "custodian.cer"))
	return name
}

func keyName(i int, ext string) string { return "cert_" + string(rune('0'+i)) + ext }

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// startProductionRecovery goes from Home to the custodian step of a
// production recovery of the 2-of-3 vector security domain.
func (h *harness) startProductionRecovery() {
	h.t.Helper()
	h.tap("Start recovery")
	h.waitShows("Recovery — set-up")
	h.typeInto("Managed HSM name", "contoso-hsm")
	h.typeInto("ceremony identifier", "contoso-hsm-recovery-test")
	h.typeInto("witness's full name", "Wendy Witness")
	h.tap("Start the recovery")
	h.waitShows("eth0 (test finding)")
	h.tap("Witness: I have read the findings")
	h.waitShows("Recovery — load the files")
	h.typeInto("security domain file", testvectors.Path(h.t, "sd-3of2", "sd.json"))
	h.typeInto("exchange key from init-recovery", testvectors.Path(h.t, "sd-3of2", "exchange.cer"))
	// The vector's exchange key comes from no HSM: the witness records
	// the exception, as for any simulator.
	h.typeInto("only if the exchange key's attestation fails", "test vector exchange key; approved by Wendy Witness")
	h.tap("Load both files")
	h.waitShows("Recovery — confirm the exchange key")
}

// A production recovery of the vector security domain: a custodian whose
// key file is encrypted types a wrong passphrase (told so, and may try
// again), cancels the prompt once, then opens the share; a second
// custodian opens theirs and the restore blob is written.
func TestRecoveryWrongPassphraseThenRight(t *testing.T) {
	h := newHarness(t)
	key0 := encryptedVectorKey(t, 0, "correct horse")
	h.startProductionRecovery()
	if !h.shows("PRODUCTION") || h.shows("DRILL —") {
		t.Fatal("a production recovery does not say PRODUCTION")
	}
	h.typeInto("operator's name", "Oscar Operator")
	h.tap("It matches what the HSM returned")
	h.waitShows("Recovery — custodian 1")

	h.typeInto("custodian's name", "Alice")
	h.typeInto("token reference", "file:"+key0)
	h.tap("Open my share on my token")
	h.waitShows("Enter passphrase")
	if !h.shows("decrypt the key file custodian.key") {
		t.Errorf("the passphrase dialog does not say why it asks:\n%s", h.describe())
	}
	h.typeInto("passphrase", "wrong horse")
	h.tap("OK")
	h.waitShows("passphrase")
	h.waitFor("the wrong passphrase to be reported", func() bool {
		noDialog := false
		h.locked(func() { noDialog = h.canvas().Overlays().Top() == nil })
		return noDialog && h.shows("custodian.key") && h.button("Open my share on my token") != nil
	})
	if h.shows("1 of 2 shares") {
		t.Fatal("a wrong passphrase opened a share")
	}
	wrong := h.describe()

	// Cancel: the custodian steps back; nothing is opened.
	h.tap("Open my share on my token")
	h.waitShows("Enter passphrase")
	h.tap("Cancel")
	h.waitShows("PIN entry cancelled")
	if h.shows("1 of 2 shares") {
		t.Fatal("a cancelled prompt opened a share")
	}

	h.tap("Open my share on my token")
	h.waitShows("Enter passphrase")
	h.typeInto("passphrase", "correct horse")
	h.tap("OK")
	h.waitShows("Share opened")
	h.dismissDialogs()
	h.waitShows("1 of 2 shares")

	h.typeInto("custodian's name", "Carol")
	h.typeInto("token reference", "file:"+testvectors.Path(t, "sd-3of2", "keys", "cert_2.key"))
	h.tap("Open my share on my token")
	h.waitShows("Share opened")
	h.dismissDialogs()
	h.waitShows("2 of 2 shares")
	h.tap("Build the restore blob")
	h.waitShows("Recovery — export the restore blob")
	out := filepath.Join(t.TempDir(), "export")
	h.typeInto("a new folder on the export medium", out)
	h.tap("Write the restore blob")
	h.waitShows("Recovery — complete")
	if entries, err := os.ReadDir(out); err != nil || len(entries) == 0 {
		t.Fatalf("nothing written to %s: %v", out, err)
	}
	if !containsAny(wrong, "wrong passphrase", "passphrase is wrong", "incorrect") {
		t.Errorf("a wrong passphrase is not reported as such; the screen showed:\n%s", wrong)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(strings.ToLower(s), strings.ToLower(sub)) {
			return true
		}
	}
	return false
}
