package usb

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Labels come from three places, in order, so that no external tool
// (blkid, udisks) is needed: udev's /dev/disk/by-label symlinks (desktops),
// the FS_IOC_GETFSLABEL ioctl on a mounted file system (ext4, btrfs, xfs;
// needs no privilege), and the file system's own superblock read from the
// device node (FAT and ext; needs read access to the device, i.e. root on a
// minimal system).

// readByLabel maps device names (sdb1) to labels from devRoot/disk/by-label.
func readByLabel(devRoot string) map[string]string {
	dir := filepath.Join(devRoot, "disk", "by-label")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	labels := map[string]string{}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		labels[filepath.Base(target)] = decodeUdevLabel(e.Name())
	}
	return labels
}

// decodeUdevLabel undoes udev's \xHH encoding of unsafe characters
// ("MY\x20STICK" is "MY STICK").
func decodeUdevLabel(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// fsIocGetFSLabel is FS_IOC_GETFSLABEL, _IOR(0x94, 49, char[256]) in the
// generic ioctl encoding (x86, arm, riscv; x/sys does not export it).
const fsIocGetFSLabel = 2<<30 | 256<<16 | 0x94<<8 | 49

// labelFromMount asks the mounted file system for its label.
func labelFromMount(mountPoint string) string {
	f, err := os.Open(mountPoint)
	if err != nil {
		return ""
	}
	defer f.Close()
	var buf [256]byte
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocGetFSLabel, uintptr(unsafe.Pointer(&buf[0]))); errno != 0 {
		return ""
	}
	label, _, _ := bytes.Cut(buf[:], []byte{0})
	return string(label)
}

// superblock is what the first blocks of a device say about its file
// system.
type superblock struct {
	fsType string
	label  string
}

// readSuperblock reads the first 2 KiB of a device (or image) and
// recognises FAT12/16/32, exFAT, NTFS and ext2/3/4. It returns false when
// the device cannot be read or holds none of those.
func readSuperblock(path string) (superblock, bool) {
	f, err := os.Open(path)
	if err != nil {
		return superblock{}, false
	}
	defer f.Close()
	buf := make([]byte, 2048)
	n, _ := f.ReadAt(buf, 0)
	return parseSuperblock(buf[:n])
}

func parseSuperblock(b []byte) (superblock, bool) {
	if len(b) >= 1024+0x78+16 && b[1024+0x38] == 0x53 && b[1024+0x39] == 0xEF {
		label, _, _ := bytes.Cut(b[1024+0x78:1024+0x78+16], []byte{0})
		return superblock{fsType: "ext", label: string(label)}, true
	}
	if len(b) < 512 || b[510] != 0x55 || b[511] != 0xAA {
		return superblock{}, false
	}
	switch {
	case string(b[3:11]) == "EXFAT   ":
		// The exFAT label lives in the root directory, not here.
		return superblock{fsType: "exfat"}, true
	case string(b[3:11]) == "NTFS    ":
		return superblock{fsType: "ntfs"}, true
	case string(b[0x52:0x5a]) == "FAT32   " && b[0x42] == 0x29:
		return superblock{fsType: "vfat", label: fatLabel(b[0x47 : 0x47+11])}, true
	case strings.HasPrefix(string(b[0x36:0x3e]), "FAT1") && b[0x26] == 0x29:
		return superblock{fsType: "vfat", label: fatLabel(b[0x2b : 0x2b+11])}, true
	}
	return superblock{}, false
}

// fatLabel trims the space padding; "NO NAME" is FAT's way to say none.
func fatLabel(b []byte) string {
	s := strings.TrimRight(string(b), " \x00")
	if s == "NO NAME" {
		return ""
	}
	return s
}
