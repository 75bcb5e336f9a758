// Command cpio writes the current folder to stdout as a "newc" cpio
// archive, the format the kernel unpacks as an initramfs (the build
// machine has no cpio). Test-only: run-vm.sh uses it.
package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

func main() {
	w := bufio.NewWriter(os.Stdout)
	ino := 1
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var data []byte
		mode := uint32(info.Mode().Perm())
		switch {
		case info.IsDir():
			mode |= 0o040000
		case info.Mode().IsRegular():
			mode |= 0o100000
			if data, err = os.ReadFile(p); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: only folders and files", p)
		}
		ino++
		entry(w, p, ino, mode, data)
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cpio:", err)
		os.Exit(1)
	}
	entry(w, "TRAILER!!!", 0, 0, nil)
	w.Flush()
}

func entry(w *bufio.Writer, name string, ino int, mode uint32, data []byte) {
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	w.WriteString(hdr)
	w.WriteString(name)
	w.WriteByte(0)
	pad(w, len(hdr)+len(name)+1)
	w.Write(data)
	pad(w, len(data))
}

func pad(w *bufio.Writer, n int) {
	for n%4 != 0 {
		w.WriteByte(0)
		n++
	}
}
