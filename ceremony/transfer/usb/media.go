package usb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Medium is one removable disk or partition, mounted or not.
type Medium struct {
	Device     string // device node, e.g. /dev/sdb1
	Disk       string // the whole disk's name, e.g. sdb
	Vendor     string
	Model      string
	Size       int64 // bytes
	Removable  bool  // the kernel's removable flag
	USB        bool  // attached through USB (many USB disks say removable=0)
	SDCard     bool  // an SD card in a built-in reader
	Label      string
	FSType     string // from the mount, or from the superblock when unmounted
	MountPoint string // "" when not mounted
	ReadOnly   bool   // mounted read-only or write-protected
	Free       int64  // bytes available for writing; -1 when not mounted
	Total      int64  // size of the file system; -1 when not mounted
	// System is set when the disk holds /, /boot, /usr or the running
	// program: it is never offered for transfer, whatever it looks like.
	System bool
	// Refused says why Custodian will not write to this medium ("" when
	// it would).
	Refused string
}

// Bus is "USB", "SD card", "removable" or "internal", for display.
func (m Medium) Bus() string {
	switch {
	case m.USB:
		return "USB"
	case m.SDCard:
		return "SD card"
	case m.Removable:
		return "removable"
	}
	return "internal"
}

// Lister reads the system's view of block devices. The zero value reads
// the running system; tests point the roots at fake trees.
type Lister struct {
	SysRoot   string // default /sys
	MountInfo string // default /proc/self/mountinfo
	DevRoot   string // default /dev
	// SystemPaths are paths whose disks are system disks. Default: /,
	// /boot, /boot/efi, /efi, /usr and the running executable.
	SystemPaths []string
	// Statfs reports the size and free bytes of a mounted file system.
	// Default: statfs(2).
	Statfs func(path string) (total, free int64, err error)
}

func (l Lister) withDefaults() Lister {
	if l.SysRoot == "" {
		l.SysRoot = "/sys"
	}
	if l.MountInfo == "" {
		l.MountInfo = "/proc/self/mountinfo"
	}
	if l.DevRoot == "" {
		l.DevRoot = "/dev"
	}
	if l.SystemPaths == nil {
		l.SystemPaths = []string{"/", "/boot", "/boot/efi", "/efi", "/usr"}
		if exe, err := os.Executable(); err == nil {
			if exe, err := filepath.EvalSymlinks(exe); err == nil {
				l.SystemPaths = append(l.SystemPaths, exe)
			}
		}
	}
	if l.Statfs == nil {
		l.Statfs = statfs
	}
	return l
}

func statfs(path string) (total, free int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	return int64(st.Blocks) * int64(st.Bsize), int64(st.Bavail) * int64(st.Bsize), nil
}

// snapshot is one consistent read of sysfs and mountinfo.
type snapshot struct {
	l      Lister
	devs   map[string]*blockDevice
	byNum  map[[2]uint32]*blockDevice
	mounts []mount
	system map[string]bool // whole-disk names
}

func (l Lister) snapshot() (*snapshot, error) {
	l = l.withDefaults()
	devs, err := readSysBlock(l.SysRoot)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(l.MountInfo)
	if err != nil {
		return nil, fmt.Errorf("reading the mount table: %w", err)
	}
	mounts, err := parseMountInfo(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	s := &snapshot{l: l, devs: devs, mounts: mounts, byNum: map[[2]uint32]*blockDevice{}, system: map[string]bool{}}
	for _, d := range devs {
		s.byNum[[2]uint32{d.major, d.minor}] = d
	}
	s.findSystemDisks()
	return s, nil
}

// deviceOf maps a mount to the block device behind it, or nil for tmpfs,
// overlay, network and other device-less file systems.
func (s *snapshot) deviceOf(m mount) *blockDevice {
	if m.blockBacked() {
		if d := s.byNum[[2]uint32{m.major, m.minor}]; d != nil {
			return d
		}
	}
	// btrfs and FUSE (exfat-fuse, ntfs-3g) report an anonymous device
	// number; their source names the device, possibly through a symlink
	// such as /dev/mapper/root -> ../dm-0.
	if rel, ok := strings.CutPrefix(m.source, "/dev/"); ok {
		p := filepath.Join(s.l.DevRoot, rel)
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		return s.devs[filepath.Base(p)]
	}
	return nil
}

// findSystemDisks marks every disk that the system runs from, following
// the stack downwards: a partition belongs to its disk, a dm/md device
// (LVM, LUKS, RAID) to its slaves, a loop device (a live system's
// squashfs) to the disk holding its backing file, an overlay root (live
// systems) to the mounts of its layers.
func (s *snapshot) findSystemDisks() {
	seenMounts := map[string]bool{}
	seenDevs := map[string]bool{}
	var addMount func(path string, depth int)
	var addDev func(d *blockDevice, depth int)
	addDev = func(d *blockDevice, depth int) {
		if d == nil || seenDevs[d.name] || depth > 16 {
			return
		}
		seenDevs[d.name] = true
		s.system[d.disk] = true
		if disk := s.devs[d.disk]; disk != nil && disk != d {
			addDev(disk, depth+1)
		}
		for _, slave := range d.slaves {
			addDev(s.devs[slave], depth+1)
		}
		if d.loopBacking != "" {
			addMount(d.loopBacking, depth+1)
		}
	}
	addMount = func(path string, depth int) {
		if depth > 16 || !filepath.IsAbs(path) {
			return
		}
		m, ok := mountFor(s.mounts, filepath.Clean(path))
		if !ok || seenMounts[m.point] {
			return
		}
		seenMounts[m.point] = true
		if d := s.deviceOf(m); d != nil {
			addDev(d, depth+1)
			return
		}
		if m.fsType == "overlay" {
			for _, key := range []string{"lowerdir", "upperdir", "workdir"} {
				v, _ := option(m.superOptions, key)
				for _, dir := range strings.Split(v, ":") {
					if dir != "" {
						addMount(dir, depth+1)
					}
				}
			}
		}
	}
	for _, p := range s.l.SystemPaths {
		addMount(p, 0)
	}
}

// candidate reports whether a disk is removable media: the removable flag,
// a USB bus, or an SD card slot. Virtual devices (loop, dm) and empty card
// readers (size 0) are not.
func candidate(d *blockDevice) bool {
	if d.virtual || d.size == 0 {
		return false
	}
	return d.removable || d.usb || d.sdCard
}

// ListAll returns every removable disk or partition, system disks
// included with System set and Refused saying why.
func (l Lister) ListAll() ([]Medium, error) {
	s, err := l.snapshot()
	if err != nil {
		return nil, err
	}
	labels := readByLabel(s.l.DevRoot)
	var out []Medium
	for _, d := range s.devs {
		disk := s.devs[d.disk]
		// An extended partition's entry is 1 KiB: a container, not a medium.
		if disk == nil || !candidate(disk) || d.size < 64<<10 {
			continue
		}
		if !d.partition && hasPartitions(s.devs, d.name) {
			continue // list the partitions, which are what gets mounted
		}
		out = append(out, s.describe(d, labels))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Device < out[j].Device })
	return out, nil
}

// List returns the removable media Custodian may write to or read from:
// ListAll without the system disks.
func (l Lister) List() ([]Medium, error) {
	all, err := l.ListAll()
	if err != nil {
		return nil, err
	}
	var out []Medium
	for _, m := range all {
		if !m.System {
			out = append(out, m)
		}
	}
	return out, nil
}

// List lists the running system's removable media (see Lister.List).
func List() ([]Medium, error) { return Lister{}.List() }

func hasPartitions(devs map[string]*blockDevice, disk string) bool {
	for _, d := range devs {
		if d.partition && d.disk == disk {
			return true
		}
	}
	return false
}

// describe builds a Medium for a device, with its (first) mount.
func (s *snapshot) describe(d *blockDevice, labels map[string]string) Medium {
	disk := s.devs[d.disk]
	m := Medium{
		Device:    "/dev/" + d.name,
		Disk:      d.disk,
		Vendor:    disk.vendor,
		Model:     disk.model,
		Size:      d.size,
		Removable: disk.removable,
		USB:       disk.usb,
		SDCard:    disk.sdCard,
		ReadOnly:  d.readOnly,
		Free:      -1,
		Total:     -1,
		System:    s.system[d.disk],
		Label:     labels[d.name],
	}
	for _, mt := range s.mounts {
		if s.deviceOf(mt) != d || mt.root != "/" {
			continue
		}
		m.MountPoint = mt.point
		m.FSType = mt.fsType
		m.ReadOnly = m.ReadOnly || mt.readOnly()
		if total, free, err := s.l.Statfs(mt.point); err == nil {
			m.Total, m.Free = total, free
		}
		if m.Label == "" {
			m.Label = labelFromMount(mt.point)
		}
		break
	}
	if m.Label == "" || m.FSType == "" {
		if sb, ok := readSuperblock(filepath.Join(s.l.DevRoot, d.name)); ok {
			if m.Label == "" {
				m.Label = sb.label
			}
			if m.FSType == "" {
				m.FSType = sb.fsType
			}
		}
	}
	switch {
	case m.System:
		m.Refused = "system disk: it holds the running system"
	case m.ReadOnly:
		m.Refused = "read-only (write-protect switch or read-only mount)"
	case m.MountPoint == "":
		m.Refused = "not mounted"
	}
	return m
}

// Errors for a destination Custodian will not write to. They are wrapped
// with details; test with errors.Is.
var (
	ErrSystemDisk  = errors.New("the system disk is not a transfer medium")
	ErrNotBlockDev = errors.New("not on a disk")
	ErrNotMounted  = errors.New("not a mounted medium")
	// ErrNotRemovable: a disk that is neither removable nor USB nor an SD
	// card (Exporter.AnyDisk accepts it).
	ErrNotRemovable = errors.New("not removable media")
)

// Locate describes the medium holding dir, whatever kind of disk it is.
// It fails with ErrNotBlockDev for tmpfs, network and other device-less
// file systems.
func (l Lister) Locate(dir string) (Medium, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Medium{}, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	s, err := l.snapshot()
	if err != nil {
		return Medium{}, err
	}
	mt, ok := mountFor(s.mounts, abs)
	if !ok {
		return Medium{}, fmt.Errorf("%s: no mount holds it: %w", dir, ErrNotMounted)
	}
	d := s.deviceOf(mt)
	if d == nil {
		return Medium{}, fmt.Errorf("%s is on %s (%s), not on a disk: %w", dir, mt.point, mt.fsType, ErrNotBlockDev)
	}
	m := s.describe(d, readByLabel(s.l.DevRoot))
	// describe picks the device's first mount; report the one holding dir.
	m.MountPoint, m.FSType = mt.point, mt.fsType
	m.ReadOnly = d.readOnly || mt.readOnly()
	if total, free, err := s.l.Statfs(mt.point); err == nil {
		m.Total, m.Free = total, free
	}
	return m, nil
}
