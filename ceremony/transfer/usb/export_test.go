package usb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony/transfer/filekind"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// These tests write to real file systems in loop-mounted images, the
// closest thing to a USB stick a test machine has. They need root, mount,
// losetup and mkfs; see requireLoop for what is skipped when.

// fileSystems are tried in turn: vfat is what sticks come formatted with,
// ext4 what a Linux-only team may use.
var fileSystems = []struct {
	name, mkfs string
	args       []string
}{
	{"vfat", "mkfs.vfat", []string{"-n", "CUSTTEST"}},
	{"ext4", "mkfs.ext4", []string{"-q", "-F", "-L", "CUSTTEST"}},
}

func ci() bool { return os.Getenv("CI") == "true" }

// requireLoop skips (or, under CI, fails) when loop mounts are impossible.
// Under CI a sandbox without loop devices is an environment limit and is
// skipped with that reason; missing root or tools are failures there.
func requireLoop(t *testing.T) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if ci() {
			t.Fatalf("CI=true: "+format, args...)
		}
		t.Skipf(format, args...)
	}
	if os.Geteuid() != 0 {
		missing("loop-mounted file system tests need root (run the tests as root, as CI does)")
	}
	for _, tool := range []string{"mount", "umount", "losetup"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing("%s not installed (apt-get install util-linux mount)", tool)
		}
	}
	if out, err := exec.Command("losetup", "-f").CombinedOutput(); err != nil {
		t.Skipf("environment limit: no free loop device (losetup -f: %v: %s); this sandbox cannot mount images, so the real-file-system tests cannot run here", err, bytes.TrimSpace(out))
	}
}

// mountImage makes a file system image of size bytes, loop-mounts it in
// a temporary directory and returns the mount point. It is unmounted when
// the test ends, pass or fail.
func mountImage(t *testing.T, fsName, mkfs string, args []string, size int64) string {
	t.Helper()
	requireLoop(t)
	if _, err := exec.LookPath(mkfs); err != nil {
		if ci() {
			t.Fatalf("CI=true: %s not installed: make test-deps installs dosfstools and e2fsprogs", mkfs)
		}
		t.Skipf("%s not installed (apt-get install dosfstools e2fsprogs)", mkfs)
	}
	if !kernelHas(fsName) {
		t.Skipf("environment limit: this kernel cannot mount %s (not in /proc/filesystems and no module to load); the test runs where it can", fsName)
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "medium.img")
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, append(args, img)...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", mkfs, err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", "-t", fsName, img, mnt).CombinedOutput(); err != nil {
		if strings.Contains(string(out), "unknown filesystem type") {
			t.Skipf("environment limit: this kernel cannot mount %s: %s", fsName, out)
		}
		if strings.Contains(string(out), "loop") && ci() {
			t.Skipf("environment limit: loop mount refused in this sandbox: %s", out)
		}
		t.Fatalf("mount -o loop %s: %v\n%s", img, err, out)
	}
	t.Cleanup(func() { unmount(t, mnt) })
	return mnt
}

func unmount(t *testing.T, mnt string) {
	if !isMounted(mnt) {
		return
	}
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Logf("umount %s: %v: %s; detaching lazily", mnt, err, out)
		_ = exec.Command("umount", "-l", mnt).Run()
	}
}

func isMounted(mnt string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	ms, err := parseMountInfo(bytes.NewReader(b))
	if err != nil {
		return false
	}
	for _, m := range ms {
		if m.point == mnt {
			return true
		}
	}
	return false
}

func kernelHas(fs string) bool {
	b, _ := os.ReadFile("/proc/filesystems")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(strings.TrimPrefix(line, "nodev")) == fs {
			return true
		}
	}
	// Modular kernels load the driver on first mount.
	_, err := os.Stat("/lib/modules")
	return err == nil
}

// forEachFS runs f on a freshly mounted image of every file system.
func forEachFS(t *testing.T, size int64, f func(t *testing.T, mnt string)) {
	for _, fs := range fileSystems {
		t.Run(fs.name, func(t *testing.T) {
			f(t, mountImage(t, fs.name, fs.mkfs, fs.args, size))
		})
	}
}

func sumHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// noLeftovers fails if anything but want is in dir (temporary files
// included).
func assertDirHolds(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s holds %v, want %v", dir, got, want)
	}
}

func TestExportWritesVerifiedFilesAndChecksums(t *testing.T) {
	forEachFS(t, 8<<20, func(t *testing.T, mnt string) {
		sd := bytes.Repeat([]byte("security domain "), 1000)
		big := bytes.Repeat([]byte{0xA5}, 3<<20) // several safefile chunks
		var events []ProgressEvent
		m, err := Export(context.Background(), mnt, []File{{"sd.json", sd}, {"restore blob.json", big}}, func(e ProgressEvent) {
			events = append(events, e)
		})
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(mnt, DefaultFolder)
		for name, want := range map[string][]byte{"sd.json": sd, "restore blob.json": big} {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s on the medium differs (%v)", name, err)
			}
		}
		wantSums := sumHex(sd) + "  sd.json\n" + sumHex(big) + "  restore blob.json\n"
		if got, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS")); string(got) != wantSums {
			t.Errorf("SHA256SUMS:\n%s\nwant:\n%s", got, wantSums)
		}
		if m.Path != filepath.Join(dir, "SHA256SUMS") || len(m.Entries) != 2 || len(m.Written) != 2 || len(m.Present) != 0 {
			t.Errorf("manifest %+v", m)
		}
		assertDirHolds(t, dir, "SHA256SUMS", "restore blob.json", "sd.json")

		// The list is what GNU sha256sum checks on any machine.
		cmd := exec.Command("sha256sum", "--check", "--strict", "SHA256SUMS")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum --check: %v\n%s", err, out)
		}

		// Progress: the big file is reported writing, then verifying,
		// each ending at the total.
		var sawWrite, sawVerify bool
		for _, e := range events {
			if e.File != "restore blob.json" {
				continue
			}
			if e.Index != 1 || e.Count != 2 || e.Total != int64(len(big)) {
				t.Errorf("event %+v", e)
			}
			if e.Phase == Writing && e.Done == e.Total {
				sawWrite = true
			}
			if e.Phase == Verifying && e.Done == e.Total {
				if !sawWrite {
					t.Error("verifying reported before writing finished")
				}
				sawVerify = true
			}
		}
		if !sawWrite || !sawVerify {
			t.Errorf("progress for the big file lacks a finished phase: %+v", events)
		}
	})
}

func TestExportUpdatesChecksumsKeepingEveryEntry(t *testing.T) {
	forEachFS(t, 4<<20, func(t *testing.T, mnt string) {
		ctx := context.Background()
		dir := filepath.Join(mnt, "ceremony-2026")
		ex := Exporter{Folder: "ceremony-2026", AnyDisk: true}
		// A list written by someone else, in sha256sum's binary-mode form,
		// without a final newline: kept byte for byte.
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		notes := []byte("operator notes\n")
		if err := os.WriteFile(filepath.Join(dir, "notes.txt"), notes, 0o644); err != nil {
			t.Fatal(err)
		}
		oldList := sumHex(notes) + " *notes.txt"
		if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(oldList), 0o644); err != nil {
			t.Fatal(err)
		}

		c0 := []byte("certificate 0")
		if _, err := ex.Export(ctx, mnt, []File{{"cert_0.cer", c0}}, nil); err != nil {
			t.Fatal(err)
		}
		c1 := []byte("certificate 1")
		m, err := ex.Export(ctx, mnt, []File{{"cert_1.cer", c1}, {"cert_0.cer", c0}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := oldList + "\n" + sumHex(c0) + "  cert_0.cer\n" + sumHex(c1) + "  cert_1.cer\n"
		if got, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS")); string(got) != want {
			t.Errorf("SHA256SUMS after two exports:\n%s\nwant:\n%s", got, want)
		}
		if len(m.Entries) != 3 || len(m.Written) != 1 || len(m.Present) != 1 || m.Present[0].Name != "cert_0.cer" {
			t.Errorf("second export: %+v", m)
		}
		assertDirHolds(t, dir, "SHA256SUMS", "cert_0.cer", "cert_1.cer", "notes.txt")

		// Exporting only files already there changes nothing.
		before, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
		if _, err := ex.Export(ctx, mnt, []File{{"cert_1.cer", c1}}, nil); err != nil {
			t.Fatal(err)
		}
		if after, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS")); !bytes.Equal(before, after) {
			t.Error("re-exporting an identical file rewrote SHA256SUMS")
		}
	})
}

func TestExportRefusesToReplaceADifferentFile(t *testing.T) {
	forEachFS(t, 4<<20, func(t *testing.T, mnt string) {
		ctx := context.Background()
		if _, err := Export(ctx, mnt, []File{{"sd.json", []byte("first")}}, nil); err != nil {
			t.Fatal(err)
		}
		_, err := Export(ctx, mnt, []File{{"blob.json", []byte("blob")}, {"sd.json", []byte("second")}}, nil)
		if !errors.Is(err, ErrExists) || !errors.Is(err, safefile.ErrExists) {
			t.Fatalf("err = %v, want ErrExists", err)
		}
		dir := filepath.Join(mnt, DefaultFolder)
		if got, _ := os.ReadFile(filepath.Join(dir, "sd.json")); string(got) != "first" {
			t.Errorf("sd.json was changed to %q", got)
		}
		// The refusal came before any write: blob.json was not exported.
		assertDirHolds(t, dir, "SHA256SUMS", "sd.json")
	})
}

func TestExportFullMedium(t *testing.T) {
	forEachFS(t, 4<<20, func(t *testing.T, mnt string) {
		ctx := context.Background()
		_, free, err := statfs(mnt)
		if err != nil {
			t.Fatal(err)
		}
		big := bytes.Repeat([]byte{1}, int(free)+(1<<20))
		dir := filepath.Join(mnt, DefaultFolder)

		// Checked before writing.
		_, err = Export(ctx, mnt, []File{{"small.txt", []byte("x")}, {"big.bin", big}}, nil)
		if !errors.Is(err, ErrMediumFull) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("err = %v, want ErrMediumFull and ENOSPC", err)
		}
		if !strings.Contains(err.Error(), "nothing was exported") {
			t.Errorf("error does not say nothing was written: %v", err)
		}
		assertDirHolds(t, dir)

		// And met for real: the file system's own ENOSPC, part-way
		// through the write, leaves nothing at all: the files are staged
		// and moved into place only when every one is written.
		_, err = Exporter{AnyDisk: true, SkipSpaceCheck: true}.Export(ctx, mnt, []File{{"small.txt", []byte("x")}, {"big.bin", big}}, nil)
		if !errors.Is(err, ErrMediumFull) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("real ENOSPC: err = %v, want ErrMediumFull", err)
		}
		t.Logf("the person reads: %v", err)
		if !strings.Contains(err.Error(), "nothing was exported") {
			t.Errorf("error does not say nothing was exported: %v", err)
		}
		assertDirHolds(t, dir) // no small.txt, no big.bin, no staging folder, list not updated
	})
}

func TestExportReadOnlyMedium(t *testing.T) {
	forEachFS(t, 4<<20, func(t *testing.T, mnt string) {
		ctx := context.Background()
		if _, err := Export(ctx, mnt, []File{{"a.txt", []byte("a")}}, nil); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mount", "-o", "remount,ro", mnt).CombinedOutput(); err != nil {
			t.Fatalf("remount ro: %v %s", err, out)
		}
		_, err := Export(ctx, mnt, []File{{"b.txt", []byte("b")}}, nil)
		if !errors.Is(err, ErrReadOnly) {
			t.Fatalf("err = %v, want ErrReadOnly", err)
		}
		t.Logf("the person reads: %v", err)
		// The kernel's own EROFS, as a write meets it, is explained the
		// same way.
		werr := safefile.Write(filepath.Join(mnt, DefaultFolder, "c.txt"), []byte("c"))
		if cerr := classify(werr, filepath.Join(mnt, DefaultFolder)); !errors.Is(cerr, ErrReadOnly) || !errors.Is(cerr, syscall.EROFS) {
			t.Fatalf("a write on the read-only medium: %v, classified %v", werr, cerr)
		}
		assertDirHolds(t, filepath.Join(mnt, DefaultFolder), "SHA256SUMS", "a.txt")
	})
}

// Pulling the stick out is simulated by a lazy unmount during the write:
// the open file keeps working, but the folder vanishes from under the path
// as it does when a desktop unmounts a removed stick.
func TestExportMediumRemovedMidWrite(t *testing.T) {
	forEachFS(t, 8<<20, func(t *testing.T, mnt string) {
		ctx := context.Background()
		if _, err := Export(ctx, mnt, []File{{"first.txt", []byte("1")}}, nil); err != nil {
			t.Fatal(err)
		}
		pulled := false
		big := bytes.Repeat([]byte{7}, 3<<20)
		_, err := Export(ctx, mnt, []File{{"blob.json", big}}, func(e ProgressEvent) {
			if !pulled && e.Phase == Writing && e.Done > 0 {
				pulled = true
				if out, err := exec.Command("umount", "-l", mnt).CombinedOutput(); err != nil {
					t.Errorf("umount -l: %v %s", err, out)
				}
			}
		})
		if !pulled {
			t.Fatal("no progress event came to pull the medium on")
		}
		if !errors.Is(err, ErrMediumRemoved) {
			t.Fatalf("err = %v, want ErrMediumRemoved", err)
		}
		t.Logf("the person reads: %v", err)
		if _, err := os.Stat(filepath.Join(mnt, DefaultFolder, "blob.json")); err == nil {
			t.Error("blob.json exists under the mount point after the medium went away")
		}
	})
}

func TestExportDetectsAlteredFiles(t *testing.T) {
	forEachFS(t, 4<<20, func(t *testing.T, mnt string) {
		ctx := context.Background()
		if _, err := Export(ctx, mnt, []File{{"sd.json", []byte(`{"version":2}`)}}, nil); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(mnt, DefaultFolder)
		if err := os.WriteFile(filepath.Join(dir, "sd.json"), []byte(`{"version":3}`), 0o644); err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
		_, err := Export(ctx, mnt, []File{{"blob.json", []byte("blob")}}, nil)
		var mm *MismatchError
		if !errors.Is(err, ErrChecksumMismatch) || !errors.As(err, &mm) || mm.Path != filepath.Join(dir, "sd.json") {
			t.Fatalf("err = %v, want a MismatchError for sd.json", err)
		}
		if after, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS")); !bytes.Equal(before, after) {
			t.Error("SHA256SUMS changed although its entries did not verify")
		}
		assertDirHolds(t, dir, "SHA256SUMS", "sd.json")

		// The reader on the other side sees it too.
		res, err := Import(ctx, []string{filepath.Join(dir, "sd.json")})
		if !errors.Is(err, ErrChecksumMismatch) || len(res) != 1 || res[0].Checksum != Mismatch {
			t.Fatalf("Import of the altered file: %v %+v", err, res)
		}
		if !strings.Contains(res[0].Summary(), "DOES NOT MATCH") {
			t.Errorf("summary does not say it loudly: %s", res[0].Summary())
		}

		// A listed file that disappeared is an altered folder too.
		if err := os.Remove(filepath.Join(dir, "sd.json")); err != nil {
			t.Fatal(err)
		}
		if _, err := Export(ctx, mnt, []File{{"blob.json", []byte("blob")}}, nil); !errors.Is(err, ErrChecksumMismatch) || !strings.Contains(err.Error(), "missing") {
			t.Errorf("missing listed file: err = %v", err)
		}
	})
}

// The directory the tests run in is on this machine's own disk (or a
// tmpfs): exporting there is refused before anything is created.
func TestExportRefusesTheSystemDisk(t *testing.T) {
	dir := t.TempDir()
	_, err := Export(context.Background(), dir, []File{{"sd.json", []byte("x")}}, nil)
	if !errors.Is(err, ErrSystemDisk) && !errors.Is(err, ErrNotBlockDev) {
		t.Fatalf("err = %v, want ErrSystemDisk (or ErrNotBlockDev on tmpfs)", err)
	}
	assertDirHolds(t, dir)
}

func TestExportRefusesFixedDisksUnlessAllowed(t *testing.T) {
	fs := fileSystems[1]
	mnt := mountImage(t, fs.name, fs.mkfs, fs.args, 4<<20)
	_, err := Exporter{}.Export(context.Background(), mnt, []File{{"a", []byte("a")}}, nil)
	if !errors.Is(err, ErrNotRemovable) || !strings.Contains(err.Error(), "not removable") {
		t.Fatalf("a loop image is not removable media: err = %v", err)
	}
}

func TestExportRejectsBadNames(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"", ".", "..", "../x", "a/b", ".hidden", "SHA256SUMS", "sha256sums", "a\nb", `a\b`, "what?", "trailing.", strings.Repeat("x", 256)} {
		if _, err := Export(ctx, "/nonexistent", []File{{name, []byte("x")}}, nil); err == nil || errors.Is(err, ErrNotMounted) {
			t.Errorf("name %q: err = %v, want a name error before touching the medium", name, err)
		}
	}
	if _, err := Export(ctx, "/nonexistent", []File{{"a.txt", nil}, {"A.TXT", nil}}, nil); err == nil || !strings.Contains(err.Error(), "case") {
		t.Errorf("names differing in case: %v", err)
	}
	if _, err := (Exporter{Folder: "../up"}).Export(ctx, "/nonexistent", []File{{"a", nil}}, nil); err == nil {
		t.Error("folder ../up accepted")
	}
	if _, err := Export(ctx, "/nonexistent", []File{{"a", nil}}, nil); !errors.Is(err, ErrNotMounted) {
		t.Errorf("missing mount point: %v", err)
	}
}

func TestClassify(t *testing.T) {
	gone := filepath.Join(t.TempDir(), "gone")
	for _, c := range []struct {
		err  error
		dir  string
		want error
	}{
		{syscall.ENOSPC, "", ErrMediumFull},
		{syscall.EDQUOT, "", ErrMediumFull},
		{syscall.EROFS, "", ErrReadOnly},
		{syscall.EIO, "", ErrMediumRemoved},
		{syscall.ENODEV, "", ErrMediumRemoved},
		{syscall.ENOENT, gone, ErrMediumRemoved},
	} {
		if got := classify(&os.PathError{Op: "write", Path: "x", Err: c.err}, c.dir); !errors.Is(got, c.want) || !errors.Is(got, c.err) {
			t.Errorf("classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if got := classify(syscall.ENOENT, t.TempDir()); errors.Is(got, ErrMediumRemoved) {
		t.Error("ENOENT with the folder still there is not a removed medium")
	}
}

var _ = filekind.ChecksumsName

// Locate on a real mount: the label comes from the file system itself
// (FS_IOC_GETFSLABEL or the superblock), free space from statfs.
func TestLocateLoopImage(t *testing.T) {
	forEachFS(t, 4<<20, func(t *testing.T, mnt string) {
		m, err := Lister{}.Locate(mnt)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(m.Device, "/dev/loop") || m.System || m.MountPoint != mnt || m.ReadOnly || m.Label != "CUSTTEST" || m.Free <= 0 || m.Total < m.Free {
			t.Errorf("Locate(%s) = %+v", mnt, m)
		}
	})
}
