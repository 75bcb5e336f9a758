package cli

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// A transcript goes out as QR frames and comes back from the PNGs (in
// reverse order, half of them skipped) byte for byte; neither side
// overwrites anything.
func TestQREncodeDecode(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "notes.txt")
	data := bytes.Repeat([]byte("custodian qr transfer line\n"), 150) // ~4 KB
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}
	frames := filepath.Join(dir, "frames")
	if err := Run(env, []string{"qr", "encode", "--in", in, "--out-dir", frames, "--kind", "other"}); err != nil {
		t.Fatalf("encode: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "frames for") {
		t.Errorf("encode output: %s", out.String())
	}
	err := Run(env, []string{"qr", "encode", "--in", in, "--out-dir", frames})
	if ExitCode(err) != 2 {
		t.Errorf("encode into a non-empty directory: %v (exit %d), want exit 2", err, ExitCode(err))
	}

	pngs, _ := filepath.Glob(filepath.Join(frames, "frame-*.png"))
	var picked []string
	for i := len(pngs) - 1; i >= 0; i-- {
		if i%4 != 0 {
			picked = append(picked, pngs[i])
		}
	}
	got := filepath.Join(dir, "received.txt")
	out.Reset()
	if err := Run(env, append([]string{"qr", "decode", "--out", got}, picked...)); err != nil {
		t.Fatalf("decode: %v\n%s", err, errOut.String())
	}
	back, err := os.ReadFile(got)
	if err != nil || !bytes.Equal(back, data) {
		t.Fatalf("received file differs: %v", err)
	}
	if !strings.Contains(out.String(), "SHA-256 ") || !strings.Contains(out.String(), "notes.txt") {
		t.Errorf("decode output: %s", out.String())
	}
	err = Run(env, append([]string{"qr", "decode", "--out", got}, picked...))
	if ExitCode(err) != 2 {
		t.Errorf("decode onto an existing file: %v, want exit 2", err)
	}
	// Images of something else: exit 1 with a clear message.
	err = Run(env, []string{"qr", "decode", "--out", filepath.Join(dir, "x"), filepath.Join(frames, "parts.txt")})
	if ExitCode(err) != 1 || !strings.Contains(err.Error(), "scan more") {
		t.Errorf("no codes: %v", err)
	}
}

// smallTmpfs mounts a tmpfs of size bytes for the test (root only; the
// mount is the test's real full disk: ENOSPC from the kernel, no fake).
func smallTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: needs root to mount a small tmpfs")
		}
		t.Skip("needs root to mount a small tmpfs")
	}
	mnt := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.Itoa(size)+",mode=0755", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("environment limit: cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Logf("umount: %v %s; detaching lazily", err, out)
			_ = exec.Command("umount", "-l", mnt).Run()
		}
	})
	return mnt
}

// qr encode onto a file system that fills part-way through the frames
// fails with exit 1 and a message naming the folder and the full disk,
// and leaves nothing: no frames, no staging folder, no partial file.
func TestQREncodeFullDisk(t *testing.T) {
	mnt := smallTmpfs(t, 256<<10)
	in := filepath.Join(t.TempDir(), "notes.bin")
	data := make([]byte, 16<<10) // about 55 fragments, 120 frames of ~5 KB: more than 256 KB
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}
	frames := filepath.Join(mnt, "frames")
	err := Run(env, []string{"qr", "encode", "--in", in, "--out-dir", frames, "--kind", "other"})
	if ExitCode(err) != 1 {
		t.Fatalf("qr encode on a full disk: %v (exit %d), want exit 1\n%s", err, ExitCode(err), errOut.String())
	}
	line := "custodian: " + Message(err) // what main prints last on stderr
	t.Log(line)
	for _, want := range []string{frames, "full", "no frames were kept"} {
		if !strings.Contains(line, want) {
			t.Errorf("message %q does not say %q", line, want)
		}
	}
	if strings.Contains(line, ".staging-") || strings.Contains(line, ".partial-") {
		t.Errorf("message %q names a temporary file instead of the folder", line)
	}
	ents, rerr := os.ReadDir(mnt)
	if rerr != nil {
		t.Fatal(rerr)
	}
	for _, e := range ents {
		t.Errorf("left on the full disk: %s", e.Name())
	}
	// The disk was really full: the frames did not fit.
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil || st.Blocks*uint64(st.Bsize) > 300<<10 {
		t.Errorf("the test file system is not small: %+v %v", st, err)
	}
}
