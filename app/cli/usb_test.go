package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony/transfer/usb"
	"github.com/custodian-hsm/custodian/internal/testvectors"
)

// runUSB runs one usb command and returns stdout, stderr and the exit code.
func runUSB(t *testing.T, cmd func(*Env, []string) error, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}
	err := cmd(env, args)
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), ExitCode(err)
}

// fakeStick is a sysfs/mountinfo tree with one USB stick mounted at
// /media/user/STICK (the layout the kernel uses; see the usb package's
// tests for the full set of cases).
func fakeStick(t *testing.T) usb.Lister {
	root := t.TempDir()
	disk := filepath.Join(root, "sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb")
	files := map[string]string{
		"removable": "0", "size": "15633408", "dev": "8:16", "ro": "0",
		"device/vendor": "SanDisk", "device/model": "Ultra Fit",
		"sdb1/partition": "1", "sdb1/dev": "8:17", "sdb1/size": "15631360", "sdb1/ro": "0",
	}
	for name, content := range files {
		p := filepath.Join(disk, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "sys/block"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb", filepath.Join(root, "sys/block/sdb")); err != nil {
		t.Fatal(err)
	}
	mi := filepath.Join(root, "mountinfo")
	if err := os.WriteFile(mi, []byte("27 1 254:0 / / rw - ext4 /dev/vda rw\n40 27 8:17 / /media/user/STICK rw,nosuid - vfat /dev/sdb1 rw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return usb.Lister{SysRoot: filepath.Join(root, "sys"), MountInfo: mi, DevRoot: filepath.Join(root, "dev"), SystemPaths: []string{"/"},
		Statfs: func(string) (int64, int64, error) { return 8_000_000_000, 7_500_000_000, nil }}
}

func TestUSBList(t *testing.T) {
	saved := usbLister
	defer func() { usbLister = saved }()
	usbLister = fakeStick(t)
	out, errOut, code := runUSB(t, cmdUSBList)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "DEVICE") {
		t.Fatalf("output:\n%s", out)
	}
	for _, want := range []string{"/dev/sdb1", "8.0 GB", "7.5 GB", "vfat", "/media/user/STICK", "USB", "SanDisk Ultra Fit"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row lacks %q: %s", want, lines[1])
		}
	}
	if _, _, code := runUSB(t, cmdUSBList, "extra"); code != 2 {
		t.Errorf("an argument: exit %d, want 2", code)
	}
	// And on this machine, whatever it has.
	usbLister = usb.Lister{}
	if _, errOut, code := runUSB(t, cmdUSBList, "--all"); code != 0 {
		t.Errorf("usb list --all on this machine: exit %d: %s", code, errOut)
	}
}

func TestUSBUsageErrors(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(f, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cmd  func(*Env, []string) error
		args []string
		want string
	}{
		{cmdUSBExport, []string{f}, "--to is required"},
		{cmdUSBExport, []string{"--to", dir}, "no files"},
		{cmdUSBExport, []string{"--to", dir, filepath.Join(dir, "missing")}, "reading"},
		{cmdUSBExport, []string{"--to", dir, f}, "not"}, // the test's own disk or tmpfs: refused
		{cmdUSBExport, []string{"--to", filepath.Join(dir, "nomedium"), f}, "is the medium mounted"},
		{cmdUSBImport, []string{"a.txt"}, "--from is required"},
		{cmdUSBImport, []string{"--from", filepath.Join(dir, "nope")}, "does not exist: check the folder name: is the medium mounted"},
		{cmdUSBImport, []string{"--from", dir, "--to", filepath.Join(dir, "nope"), "a.txt"}, "--to: " + filepath.Join(dir, "nope") + " does not exist"},
		{cmdUSBImport, []string{"--from", dir, "/etc/passwd"}, "directly inside --from"},
		{cmdUSBImport, []string{"--from", dir, "../../x"}, "has a folder part"},
		{cmdUSBImport, []string{"--from", dir, ".."}, "names a folder"},
		{cmdUSBImport, []string{"--from", dir, "--max-size", "0", "a.txt"}, "--max-size 0 is outside 1..1073741824"},
		{cmdUSBImport, []string{"--from", dir, "--to", dir, "a.txt"}, "already exists"},
	} {
		_, errOut, code := runUSB(t, c.cmd, c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", c.args, code, errOut, c.want)
		}
	}
}

func TestUSBImportReportsAndCopies(t *testing.T) {
	from := t.TempDir()
	transcript := "{\"seq\":0,\"prev\":\"\",\"event\":\"opened\"}\n"
	sum := sha256.Sum256([]byte(transcript))
	usbMust(t, os.WriteFile(filepath.Join(from, "transcript.jsonl"), []byte(transcript), 0o644))
	usbMust(t, os.WriteFile(filepath.Join(from, "SHA256SUMS"), []byte(hex.EncodeToString(sum[:])+"  transcript.jsonl\n"), 0o644))
	to := t.TempDir()

	// No FILE: every file in the folder; flags may follow the files.
	out, errOut, code := runUSB(t, cmdUSBImport, "--from", from, "--to", to)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	for _, want := range []string{
		"transcript.jsonl: ceremony transcript: 1 entry", "matches SHA256SUMS",
		"SHA256SUMS: SHA256SUMS checksum list: 1 entry (transcript.jsonl)",
		"copied to " + filepath.Join(to, "transcript.jsonl"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(to, "transcript.jsonl")); string(got) != transcript {
		t.Error("copy differs")
	}

	// A file altered after export: exit 1, loud, nothing copied.
	usbMust(t, os.WriteFile(filepath.Join(from, "transcript.jsonl"), []byte(transcript+"{\"seq\":1,\"prev\":\"x\"}\n"), 0o644))
	to2 := t.TempDir()
	out, errOut, code = runUSB(t, cmdUSBImport, "transcript.jsonl", "--from", from, "--to", to2)
	if code != 1 || !strings.Contains(out, "DOES NOT MATCH") || !strings.Contains(out, "ERROR") || !strings.Contains(errOut, "nothing was copied") {
		t.Errorf("tampered: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if entries, _ := os.ReadDir(to2); len(entries) != 0 {
		t.Errorf("files copied despite a failed check: %v", entries)
	}
}

// Export to a loop-mounted image and import back: needs root and loop
// devices, like the usb package's real-medium tests.
func TestUSBExportThenImport(t *testing.T) {
	mnt := loopMount(t)
	src := t.TempDir()
	big := bytes.Repeat([]byte("x"), 2<<20)
	usbMust(t, os.WriteFile(filepath.Join(src, "blob.json"), big, 0o644))
	usbMust(t, os.WriteFile(filepath.Join(src, "notes.txt"), []byte("hello\n"), 0o644))

	// A loop image is not removable media: refused without --any-disk.
	if _, errOut, code := runUSB(t, cmdUSBExport, "--to", mnt, filepath.Join(src, "notes.txt")); code != 2 || !strings.Contains(errOut, "not removable") {
		t.Errorf("without --any-disk: exit %d %s", code, errOut)
	}
	out, errOut, code := runUSB(t, cmdUSBExport, "--to", mnt, "--any-disk", "--folder", "ceremony", filepath.Join(src, "blob.json"), filepath.Join(src, "notes.txt"))
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	bigSum := sha256.Sum256(big)
	for _, want := range []string{hex.EncodeToString(bigSum[:]) + "  blob.json  written and verified", "checksum list: " + filepath.Join(mnt, "ceremony", "SHA256SUMS") + " (2 entries)"} {
		if !strings.Contains(out, want) {
			t.Errorf("export output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "writing blob.json: 100%") || !strings.Contains(errOut, "verifying blob.json: 100%") {
		t.Errorf("progress on stderr:\n%s", errOut)
	}
	// Again: identical files are reported, not rewritten.
	out, _, code = runUSB(t, cmdUSBExport, "--to", mnt, "--any-disk", "--folder", "ceremony", filepath.Join(src, "notes.txt"))
	if code != 0 || !strings.Contains(out, "notes.txt  already on the medium, identical") {
		t.Errorf("re-export: exit %d\n%s", code, out)
	}
	to := t.TempDir()
	out, errOut, code = runUSB(t, cmdUSBImport, "--from", filepath.Join(mnt, "ceremony"), "--to", to, "blob.json", "notes.txt")
	if code != 0 || strings.Count(out, "matches SHA256SUMS") != 2 {
		t.Fatalf("import: exit %d\n%s\n%s", code, out, errOut)
	}
	if got, _ := os.ReadFile(filepath.Join(to, "blob.json")); !bytes.Equal(got, big) {
		t.Error("imported copy differs")
	}
}

func loopMount(t *testing.T) string {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	skip := func(reason string) {
		if ci {
			t.Fatalf("CI=true: %s", reason)
		}
		t.Skip(reason)
	}
	if os.Geteuid() != 0 {
		skip("needs root to loop-mount a file system image")
	}
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		skip("mkfs.ext4 not installed (apt-get install e2fsprogs)")
	}
	if err := exec.Command("losetup", "-f").Run(); err != nil {
		t.Skipf("environment limit: no free loop device (losetup -f: %v); this sandbox cannot mount images", err)
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "stick.img"), filepath.Join(dir, "mnt")
	usbMust(t, os.Mkdir(mnt, 0o755))
	usbMust(t, os.WriteFile(img, nil, 0o644))
	usbMust(t, os.Truncate(img, 8<<20))
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v %s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Logf("umount: %v %s; detaching lazily", err, out)
			_ = exec.Command("umount", "-l", mnt).Run()
		}
	})
	return mnt
}

func usbMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestUSBImportSecurityDomainVector(t *testing.T) {
	sdData := testvectors.Read(t, "sd-3of2", "sd.json")
	from := t.TempDir()
	usbMust(t, os.WriteFile(filepath.Join(from, "sd.json"), sdData, 0o644))
	out, errOut, code := runUSB(t, cmdUSBImport, "--from", from, "sd.json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"sd.json: security domain file: 3 shares, quorum 2, 3 EncData items", "no SHA256SUMS next to sd.json"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
