// Package usb moves ceremony files across the air gap on removable media:
// it lists the USB sticks and SD cards that are plugged in (never the disk
// the system runs from), exports files so that each is complete and
// verified or absent, with a SHA256SUMS list beside them, and imports
// files with a size limit, a check against that list and a plain
// statement of what each file is.
//
// Four things cross the gap: the custodian certificates and the operator
// package (out), the security domain file (in), the exchange key (in) and
// the restore blob (out). Sticks are whatever is at hand, so the package
// assumes they fill up, are write-protected, are pulled out mid-write and
// are altered between machines, and says which of these happened.
//
// Only Linux is supported: media are found in /sys/block and
// /proc/self/mountinfo, without udisks or blkid, because a ceremony
// machine runs a minimal system.
package usb
