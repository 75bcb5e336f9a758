package usb

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// blockDevice is what sysfs says about one disk or partition.
type blockDevice struct {
	name         string // sdb, sdb1, mmcblk0p1, dm-0
	disk         string // the whole disk: sdb for sdb1, itself for a disk
	partition    bool
	major, minor uint32
	size         int64 // bytes
	removable    bool  // the disk's removable flag (many USB disks say 0)
	usb          bool  // the disk hangs off a USB bus
	sdCard       bool  // an SD card in a built-in reader
	virtual      bool  // loop, dm, md, zram, ram: not hardware
	readOnly     bool  // sysfs ro: write-protect switch or a read-only device
	vendor       string
	model        string
	slaves       []string // devices below a dm/md device
	loopBacking  string   // for a loop device: the file it shows
}

// readSysBlock reads sysRoot/block: each entry is a symlink into
// sysRoot/devices/…/block/<disk>, whose link text tells the bus (a "/usb"
// component for USB, "/devices/virtual/" for loop/dm). Partitions are the
// disk's subdirectories with a "partition" file.
func readSysBlock(sysRoot string) (map[string]*blockDevice, error) {
	blockDir := filepath.Join(sysRoot, "block")
	entries, err := os.ReadDir(blockDir)
	if err != nil {
		return nil, fmt.Errorf("listing block devices in %s: %w", blockDir, err)
	}
	devs := map[string]*blockDevice{}
	for _, e := range entries {
		name := e.Name()
		diskDir := filepath.Join(blockDir, name)
		link, _ := os.Readlink(diskDir) // a plain directory on old kernels
		disk := &blockDevice{
			name:      name,
			disk:      name,
			removable: readSysString(diskDir, "removable") == "1",
			usb:       strings.Contains(link, "/usb"),
			virtual:   strings.Contains(link, "/devices/virtual/"),
			readOnly:  readSysString(diskDir, "ro") == "1",
			vendor:    readSysString(diskDir, "device/vendor"),
			model:     readSysString(diskDir, "device/model"),
		}
		if strings.Contains(link, "/mmc") {
			// Built-in readers report removable=0 for SD cards; the card
			// type tells them from soldered eMMC (type "MMC").
			disk.sdCard = readSysString(diskDir, "device/type") == "SD"
			if disk.model == "" {
				disk.model = readSysString(diskDir, "device/name")
			}
		}
		if err := readDevNumbers(diskDir, disk); err != nil {
			return nil, err
		}
		disk.slaves = readDirNames(filepath.Join(diskDir, "slaves"))
		disk.loopBacking = readSysString(diskDir, "loop/backing_file")
		devs[name] = disk

		subs, _ := os.ReadDir(diskDir)
		for _, s := range subs {
			partDir := filepath.Join(diskDir, s.Name())
			if _, err := os.Stat(filepath.Join(partDir, "partition")); err != nil {
				continue
			}
			part := *disk
			part.name = s.Name()
			part.partition = true
			part.slaves = nil
			part.loopBacking = ""
			if readSysString(partDir, "ro") == "1" {
				part.readOnly = true
			}
			if err := readDevNumbers(partDir, &part); err != nil {
				return nil, err
			}
			devs[part.name] = &part
		}
	}
	return devs, nil
}

// readDevNumbers fills major, minor (from "dev", "8:17") and size (from
// "size", always in 512-byte sectors whatever the device's block size).
func readDevNumbers(dir string, d *blockDevice) error {
	dev := readSysString(dir, "dev")
	maj, min, ok := strings.Cut(dev, ":")
	ma, err1 := strconv.ParseUint(maj, 10, 32)
	mi, err2 := strconv.ParseUint(min, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("%s/dev is %q, not major:minor", dir, dev)
	}
	d.major, d.minor = uint32(ma), uint32(mi)
	if s := readSysString(dir, "size"); s != "" {
		sectors, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%s/size is %q, not a number", dir, s)
		}
		d.size = sectors * 512
	}
	return nil
}

func readSysString(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func readDirNames(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}
