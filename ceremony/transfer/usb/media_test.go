package usb

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSys builds sysfs, /dev and mountinfo trees in the layout the kernel
// and udev use, so the parser is tested on the real formats.
type fakeSys struct {
	t                       *testing.T
	root                    string
	sys, dev, mountinfo     string
	statfsTotal, statfsFree int64
}

func newFakeSys(t *testing.T) *fakeSys {
	root := t.TempDir()
	f := &fakeSys{t: t, root: root, sys: filepath.Join(root, "sys"), dev: filepath.Join(root, "dev"),
		mountinfo: filepath.Join(root, "mountinfo"), statfsTotal: 8e9, statfsFree: 7e9}
	for _, d := range []string{filepath.Join(f.sys, "block"), filepath.Join(f.dev, "disk", "by-label"), filepath.Join(f.dev, "mapper")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fakeSys) write(path, content string) {
	f.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content+"\n"), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// disk adds sys/devices/<devpath>/block/<name> and the sys/block/<name>
// symlink; attrs are file name → contents (e.g. "device/vendor").
func (f *fakeSys) disk(devpath, name string, attrs map[string]string) string {
	f.t.Helper()
	dir := filepath.Join(f.sys, "devices", devpath, "block", name)
	for k, v := range attrs {
		f.write(filepath.Join(dir, k), v)
	}
	rel, err := filepath.Rel(filepath.Join(f.sys, "block"), dir)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := os.Symlink(rel, filepath.Join(f.sys, "block", name)); err != nil {
		f.t.Fatal(err)
	}
	return dir
}

func (f *fakeSys) partition(diskDir, name, dev string, sectors string) {
	f.write(filepath.Join(diskDir, name, "partition"), "1")
	f.write(filepath.Join(diskDir, name, "dev"), dev)
	f.write(filepath.Join(diskDir, name, "size"), sectors)
	f.write(filepath.Join(diskDir, name, "ro"), "0")
}

func (f *fakeSys) label(label, target string) {
	if err := os.Symlink("../../"+target, filepath.Join(f.dev, "disk", "by-label", label)); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeSys) lister(systemPaths ...string) Lister {
	return Lister{
		SysRoot: f.sys, DevRoot: f.dev, MountInfo: f.mountinfo,
		SystemPaths: systemPaths,
		Statfs: func(string) (int64, int64, error) {
			return f.statfsTotal, f.statfsFree, nil
		},
	}
}

// desktop is a laptop: SATA system disk with LUKS/LVM root (dm-0 on
// sda2) that claims to be removable, a USB stick mounted by udisks, a
// write-protected USB disk without partitions, an unmounted SD card, an
// empty optical drive and a loop device.
func desktop(t *testing.T) *fakeSys {
	f := newFakeSys(t)
	sda := f.disk("pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0", "sda", map[string]string{
		"removable": "1", "size": "1000215216", "dev": "8:0", "ro": "0",
		"device/vendor": "ATA     ", "device/model": "Samsung SSD 860 ",
	})
	f.partition(sda, "sda1", "8:1", "1048576")
	f.partition(sda, "sda2", "8:2", "999165952")
	f.disk("virtual", "dm-0", map[string]string{"removable": "0", "size": "999133184", "dev": "254:0", "ro": "0", "slaves/sda2": ""})
	sdb := f.disk("pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0", "sdb", map[string]string{
		"removable": "0", "size": "15633408", "dev": "8:16", "ro": "0",
		"device/vendor": "SanDisk ", "device/model": "Ultra Fit       ",
	})
	f.partition(sdb, "sdb1", "8:17", "15631360")
	f.partition(sdb, "sdb2", "8:18", "2") // an extended partition's container
	f.disk("pci0000:00/0000:00:14.0/usb2/2-2/2-2:1.0/host7/target7:0:0/7:0:0:0", "sdc", map[string]string{
		"removable": "1", "size": "4194304", "dev": "8:32", "ro": "1",
		"device/vendor": "Kingston", "device/model": "DataTraveler 3.0",
	})
	mmc := f.disk("platform/fe320000.mmc/mmc_host/mmc1/mmc1:aaaa", "mmcblk0", map[string]string{
		"removable": "0", "size": "62333952", "dev": "179:0", "ro": "0",
		"device/type": "SD", "device/name": "SC64G",
	})
	f.partition(mmc, "mmcblk0p1", "179:1", "62325760")
	f.disk("pci0000:00/0000:00:17.0/ata2/host1/target1:0:0/1:0:0:0", "sr0", map[string]string{
		"removable": "1", "size": "0", "dev": "11:0", "ro": "0",
	})
	f.disk("virtual", "loop0", map[string]string{"removable": "0", "size": "8192", "dev": "7:0", "ro": "0",
		"loop/backing_file": "/home/user/test.img"})
	f.label("CUSTODIAN", "sdb1")
	f.label("EFI\\x20SYSTEM", "sda1")
	if err := os.Symlink("../dm-0", filepath.Join(f.dev, "mapper", "root")); err != nil {
		t.Fatal(err)
	}
	f.write(f.mountinfo, strings.Join([]string{
		"22 1 0:21 / /proc rw,relatime shared:5 - proc proc rw",
		"23 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw",
		"27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/mapper/root rw,errors=remount-ro",
		"28 27 8:1 / /boot/efi rw,relatime shared:2 - vfat /dev/sda1 rw,fmask=0077,dmask=0077",
		"30 27 0:26 / /tmp rw,nosuid,nodev shared:3 - tmpfs tmpfs rw,size=8096720k",
		"40 27 8:17 / /media/user/CUSTODIAN rw,nosuid,nodev,relatime shared:50 - vfat /dev/sdb1 rw,uid=1000,gid=1000,fmask=0022,dmask=0022,codepage=437,iocharset=ascii,shortname=mixed,showexec,utf8,flush,errors=remount-ro",
		`41 27 8:32 / /media/user/NO\040LABEL ro,nosuid,nodev,relatime shared:51 - vfat /dev/sdc ro,uid=1000,gid=1000`,
		"42 27 7:0 / /mnt/image rw,relatime - ext4 /dev/loop0 rw",
	}, "\n"))
	return f
}

func TestListFindsRemovableMediaAndRefusesTheSystemDisk(t *testing.T) {
	f := desktop(t)
	// A real FAT superblock on the SD card's device node, so its label
	// is read without blkid.
	if img := fatImage(t, "SDCARD"); img != nil {
		f.write(filepath.Join(f.dev, "mmcblk0p1"), string(img))
	}
	l := f.lister("/", "/boot", "/boot/efi", "/usr/bin/custodian")

	all, err := l.ListAll()
	if err != nil {
		t.Fatal(err)
	}
	byDev := map[string]Medium{}
	for _, m := range all {
		byDev[m.Device] = m
	}
	for _, dev := range []string{"/dev/sda1", "/dev/sda2", "/dev/sdb1", "/dev/sdc", "/dev/mmcblk0p1"} {
		if _, ok := byDev[dev]; !ok {
			t.Errorf("ListAll lacks %s; got %v", dev, all)
		}
	}
	for _, dev := range []string{"/dev/sda", "/dev/sdb", "/dev/sdb2", "/dev/dm-0", "/dev/loop0", "/dev/sr0", "/dev/mmcblk0"} {
		if _, ok := byDev[dev]; ok {
			t.Errorf("ListAll lists %s, which is not a removable medium (or is a disk with partitions)", dev)
		}
	}
	if m := byDev["/dev/sda1"]; !m.System || !strings.Contains(m.Refused, "system") {
		t.Errorf("sda1 holds /boot/efi and sda2 holds / through dm-0: want System, got %+v", m)
	}
	if m := byDev["/dev/sda2"]; !m.System {
		t.Errorf("sda2 under the root LVM/LUKS must be System: %+v", m)
	}
	// Without /boot/efi the disk is found only through dm-0's slaves.
	rootOnly, err := f.lister("/").ListAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range rootOnly {
		if m.Disk == "sda" && !m.System {
			t.Errorf("%s: the disk under the root's dm-0 must be System", m.Device)
		}
	}

	stick := byDev["/dev/sdb1"]
	want := Medium{Device: "/dev/sdb1", Disk: "sdb", Vendor: "SanDisk", Model: "Ultra Fit", Size: 15631360 * 512,
		USB: true, Label: "CUSTODIAN", FSType: "vfat", MountPoint: "/media/user/CUSTODIAN", Free: 7e9, Total: 8e9}
	if stick != want {
		t.Errorf("USB stick:\n got %+v\nwant %+v", stick, want)
	}
	if stick.Bus() != "USB" {
		t.Errorf("Bus() = %q", stick.Bus())
	}

	wp := byDev["/dev/sdc"]
	if wp.MountPoint != "/media/user/NO LABEL" || !wp.ReadOnly || wp.Refused == "" || !wp.Removable {
		t.Errorf("write-protected whole-disk stick: %+v", wp)
	}

	sd := byDev["/dev/mmcblk0p1"]
	if !sd.SDCard || sd.MountPoint != "" || sd.Free != -1 || sd.Refused != "not mounted" || sd.Bus() != "SD card" {
		t.Errorf("unmounted SD card: %+v", sd)
	}
	if fatImage(t, "") != nil && (sd.Label != "SDCARD" || sd.FSType != "vfat") {
		t.Errorf("SD card label/fs from its FAT superblock: got %q %q", sd.Label, sd.FSType)
	}

	usable, err := l.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range usable {
		if m.System {
			t.Errorf("List offers system medium %s", m.Device)
		}
	}
	if len(usable) != 3 {
		t.Errorf("List: want sdb1, sdc, mmcblk0p1; got %v", usable)
	}
}

func TestLocate(t *testing.T) {
	f := desktop(t)
	l := f.lister("/", "/boot", "/boot/efi")

	m, err := l.Locate("/media/user/CUSTODIAN/custodian-export")
	if err != nil {
		t.Fatal(err)
	}
	if m.Device != "/dev/sdb1" || m.System || m.MountPoint != "/media/user/CUSTODIAN" || !m.USB {
		t.Errorf("Locate(stick) = %+v", m)
	}
	m, err = l.Locate("/home/user")
	if err != nil {
		t.Fatal(err)
	}
	if !m.System || m.Device != "/dev/dm-0" {
		t.Errorf("Locate(/home/user) = %+v, want the system's dm-0", m)
	}
	m, err = l.Locate("/media/user/NO LABEL")
	if err != nil || !m.ReadOnly {
		t.Errorf("Locate(read-only stick) = %+v, %v", m, err)
	}
	if m, err := l.Locate("/mnt/image/x"); err != nil || m.System || m.Device != "/dev/loop0" {
		t.Errorf("a loop image on the system disk is not the system disk: %+v, %v", m, err)
	}
	if _, err := l.Locate("/tmp/x"); !errors.Is(err, ErrNotBlockDev) {
		t.Errorf("Locate(tmpfs) error = %v, want ErrNotBlockDev", err)
	}
}

// A live system (Debian live, Tails) runs from a USB stick: / is an
// overlay whose lower layer is a squashfs on a loop device whose backing
// file is on the stick. That stick is the system disk.
func TestLiveSystemBootStickIsTheSystemDisk(t *testing.T) {
	f := newFakeSys(t)
	boot := f.disk("pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host2/target2:0:0/2:0:0:0", "sdd", map[string]string{
		"removable": "1", "size": "30031872", "dev": "8:48", "ro": "0"})
	f.partition(boot, "sdd1", "8:49", "30029824")
	data := f.disk("pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/host3/target3:0:0/3:0:0:0", "sde", map[string]string{
		"removable": "1", "size": "30031872", "dev": "8:64", "ro": "0"})
	f.partition(data, "sde1", "8:65", "30029824")
	f.disk("virtual", "loop0", map[string]string{"removable": "0", "size": "4000000", "dev": "7:0", "ro": "1",
		"loop/backing_file": "/run/live/medium/live/filesystem.squashfs"})
	f.write(f.mountinfo, strings.Join([]string{
		"25 1 0:30 / / rw,noatime - overlay overlay rw,lowerdir=/run/live/rootfs/filesystem.squashfs/,upperdir=/run/live/overlay/rw,workdir=/run/live/overlay/work",
		"26 25 8:49 / /run/live/medium ro,noatime - iso9660 /dev/sdd1 ro",
		"27 25 7:0 / /run/live/rootfs/filesystem.squashfs ro,noatime - squashfs /dev/loop0 ro",
		"28 25 0:31 / /run/live/overlay rw,noatime - tmpfs tmpfs rw",
		"45 25 8:65 / /media/user/STICK rw,relatime - vfat /dev/sde1 rw",
	}, "\n"))
	all, err := f.lister("/", "/usr/bin/custodian").ListAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range all {
		got[m.Device] = m.System
	}
	if sys, ok := got["/dev/sdd1"]; !ok || !sys {
		t.Errorf("the live boot stick sdd1 must be listed as System: %v", got)
	}
	if sys, ok := got["/dev/sde1"]; !ok || sys {
		t.Errorf("the data stick sde1 must be usable: %v", got)
	}
}

// btrfs shows an anonymous 0:N device number; its source names the disk.
func TestBtrfsRootOnNVMe(t *testing.T) {
	f := newFakeSys(t)
	nvme := f.disk("pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0", "nvme0n1", map[string]string{
		"removable": "0", "size": "1000215216", "dev": "259:0", "ro": "0"})
	f.partition(nvme, "nvme0n1p2", "259:2", "999165952")
	f.write(f.mountinfo, `27 1 0:30 /@ / rw,relatime - btrfs /dev/nvme0n1p2 rw,subvol=/@`)
	m, err := f.lister("/").Locate("/home")
	if err != nil {
		t.Fatal(err)
	}
	if !m.System || m.Device != "/dev/nvme0n1p2" {
		t.Errorf("btrfs root: %+v", m)
	}
}

func TestParseMountInfo(t *testing.T) {
	in := strings.Join([]string{
		`36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`,
		`37 25 8:17 / /media/a\040b\011c\134d rw shared:1 master:2 propagate_from:3 - vfat /dev/sdb1 ro,fmask=0022`,
		`38 25 0:40 / /run/user/1000 rw - tmpfs tmpfs rw`,
	}, "\n")
	ms, err := parseMountInfo(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 {
		t.Fatalf("got %d mounts", len(ms))
	}
	if m := ms[0]; m.major != 98 || m.minor != 0 || m.root != "/mnt1" || m.point != "/mnt2" || m.fsType != "ext3" || m.source != "/dev/root" || m.readOnly() {
		t.Errorf("line 1: %+v", m)
	}
	if m := ms[1]; m.point != "/media/a b\tc\\d" || !m.readOnly() || m.fsType != "vfat" {
		t.Errorf("line 2 (escapes, optional fields, ro in super options): %+v", m)
	}
	if ms[2].blockBacked() {
		t.Error("tmpfs is not block-backed")
	}
	for _, bad := range []string{"36 35 98:0 /mnt1 /mnt2 rw", "x y zz / / rw - ext4 /dev/sda rw", "36 35 98:0 / / rw - ext4"} {
		if _, err := parseMountInfo(strings.NewReader(bad)); err == nil {
			t.Errorf("parseMountInfo(%q) accepted a malformed line", bad)
		}
	}
}

func TestDecodeUdevLabel(t *testing.T) {
	for in, want := range map[string]string{`MY\x20STICK`: "MY STICK", "PLAIN": "PLAIN", `A\x2fB`: "A/B", `bad\xZZ`: `bad\xZZ`} {
		if got := decodeUdevLabel(in); got != want {
			t.Errorf("decodeUdevLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

// Superblocks made by the real mkfs tools.
func TestSuperblockLabels(t *testing.T) {
	if img := fatImage(t, "CUSTODIAN"); img != nil {
		sb, ok := parseSuperblock(img)
		if !ok || sb.fsType != "vfat" || sb.label != "CUSTODIAN" {
			t.Errorf("FAT: %+v %v", sb, ok)
		}
	}
	if img := fatImage(t, ""); img != nil {
		if sb, ok := parseSuperblock(img); !ok || sb.label != "" {
			t.Errorf("FAT without a label (NO NAME): %+v %v", sb, ok)
		}
	}
	if path := toolImage(t, "mkfs.ext4", 2<<20, "-q", "-F", "-L", "ceremony 1"); path != "" {
		sb, ok := readSuperblock(path)
		if !ok || sb.fsType != "ext" || sb.label != "ceremony 1" {
			t.Errorf("ext4: %+v %v", sb, ok)
		}
	}
	if _, ok := parseSuperblock(make([]byte, 4096)); ok {
		t.Error("zeros recognised as a file system")
	}
}

// fatImage returns the first 2 KiB of a FAT image made by mkfs.vfat with
// the given label, or nil (after skipping or failing) without the tool.
func fatImage(t *testing.T, label string) []byte {
	args := []string{}
	if label != "" {
		args = append(args, "-n", label)
	}
	path := toolImage(t, "mkfs.vfat", 4<<20, args...)
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b[:2048]
}

// toolImage makes an image file with an mkfs tool. Without the tool it
// logs and returns "" (outside CI) or fails (CI must have dosfstools and
// e2fsprogs: make test-deps installs them).
func toolImage(t *testing.T, tool string, size int64, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing under CI=true: make test-deps installs dosfstools and e2fsprogs", tool)
		}
		t.Logf("%s not installed: part of this test skipped (apt-get install dosfstools e2fsprogs)", tool)
		return ""
	}
	path := filepath.Join(t.TempDir(), "fs.img")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, append(args, path)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, out)
	}
	return path
}

// The live test: whatever this machine has, listing works and the disk
// holding / is never offered.
func TestListThisMachine(t *testing.T) {
	all, err := Lister{}.ListAll()
	if err != nil {
		t.Fatalf("listing this machine's media: %v", err)
	}
	for _, m := range all {
		t.Logf("%s %q %s size=%d free=%d fs=%s mount=%q system=%v refused=%q", m.Device, m.Label, m.Bus(), m.Size, m.Free, m.FSType, m.MountPoint, m.System, m.Refused)
	}
	usable, err := List()
	if err != nil {
		t.Fatal(err)
	}
	root, err := Lister{}.Locate("/")
	switch {
	case errors.Is(err, ErrNotBlockDev):
		t.Logf("/ is not on a disk here (container overlay or tmpfs)")
	case err != nil:
		t.Fatalf("Locate(/): %v", err)
	default:
		if !root.System {
			t.Errorf("Locate(/) = %+v: the root disk must be System", root)
		}
		for _, m := range usable {
			if m.Disk == root.Disk {
				t.Errorf("List offers %s on the root disk %s", m.Device, root.Disk)
			}
		}
	}
}

func FuzzParseMountInfo(f *testing.F) {
	f.Add(`36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`)
	f.Add(`37 25 8:17 / /media/a\040b rw shared:1 - vfat /dev/sdb1 ro`)
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := parseMountInfo(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, m := range ms {
			_ = m.readOnly()
			mountFor(ms, m.point)
		}
	})
}
