//go:build linux

// Command vminit is the /init of the throw-away VM that runs the V4L2
// loopback test (run-vm.sh beside it): it mounts /dev, /proc and /sys,
// loads vivid and the modules it depends on (read from each module's
// .modinfo, since the initramfs has no modprobe), runs the test binary,
// prints its exit status and powers the VM off. Test-only.
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	for _, m := range []struct{ src, dst, typ string }{
		{"devtmpfs", "/dev", "devtmpfs"}, {"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"tmpfs", "/tmp", "tmpfs"},
	} {
		os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.typ, 0, ""); err != nil {
			fmt.Println("vminit: mount", m.dst, err)
		}
	}
	code := run()
	fmt.Printf("vminit: TEST EXIT %d\n", code)
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}

func run() int {
	mods := map[string]string{} // name -> path
	paths, _ := filepath.Glob("/modules/*.ko")
	for _, p := range paths {
		mods[strings.ReplaceAll(strings.TrimSuffix(filepath.Base(p), ".ko"), "-", "_")] = p
	}
	loaded := map[string]bool{}
	var load func(name, params string) error
	load = func(name, params string) error {
		name = strings.ReplaceAll(name, "-", "_")
		if loaded[name] {
			return nil
		}
		p, ok := mods[name]
		if !ok {
			return fmt.Errorf("module %s is not in the initramfs", name)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, dep := range depends(data) {
			if err := load(dep, ""); err != nil {
				return err
			}
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.FinitModule(fd, params, 0); err != nil && err != unix.EEXIST {
			return fmt.Errorf("loading %s: %w", name, err)
		}
		loaded[name] = true
		fmt.Println("vminit: loaded", name, params)
		return nil
	}
	params, _ := os.ReadFile("/vivid.params")
	if err := load("vivid", strings.TrimSpace(string(params))); err != nil {
		fmt.Println("vminit:", err)
		return 100
	}
	for i := 0; i < 50; i++ {
		if m, _ := filepath.Glob("/dev/video*"); len(m) >= 2 {
			fmt.Println("vminit: nodes", m)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	args, _ := os.ReadFile("/test.args")
	cmd := exec.Command("/test.bin", strings.Fields(string(args))...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = []string{"HOME=/tmp", "TMPDIR=/tmp", "PATH=/"}
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Println("vminit:", err)
		return 101
	}
	return 0
}

// depends reads the "depends=" entry of a module's .modinfo.
func depends(ko []byte) []string {
	i := bytes.Index(ko, []byte("\x00depends="))
	if i < 0 {
		return nil
	}
	rest := ko[i+len("\x00depends="):]
	if j := bytes.IndexByte(rest, 0); j >= 0 {
		rest = rest[:j]
	}
	if len(rest) == 0 {
		return nil
	}
	return strings.Split(string(rest), ",")
}
