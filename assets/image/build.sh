#!/usr/bin/env bash
# Builds the Custodian ceremony image: a Debian live ISO that boots into
# Custodian in a kiosk session (X with Custodian as its only client) as the
# unprivileged user "custodian", with no network stack configured, no
# network kernel modules, no swap, and nothing persistent (live-boot keeps
# the root file system in RAM; removable media are mounted by the user).
#
#   assets/image/build.sh DEB OUTDIR
#
# DEB is dist/custodian_VERSION_amd64.deb. Writes OUTDIR/custodian-image.iso,
# its .sha256, and the kernel and initrd (OUTDIR/image-boot/) that
# `make image-test` boots directly. Needs root, mmdebstrap, squashfs-tools,
# grub-mkrescue (grub-pc-bin, grub-efi-amd64-bin, mtools, xorriso) and
# Debian's mirror (the one apt uses on this machine).
set -euo pipefail
deb=$(readlink -f "$1")
out=$(readlink -f "$2")
here=$(cd "$(dirname "$0")" && pwd)
: "${SOURCE_DATE_EPOCH:=$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 0)}"
export SOURCE_DATE_EPOCH
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=${SUITE:-bookworm}

[ -f "$deb" ] || { echo "build.sh: no package at $1: run make deb first" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "build.sh: mmdebstrap needs root here (run with sudo)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/iso/live" "$work/iso/boot/grub"

# The packages: kernel and live-boot; X with the drivers a generic PC
# needs (modesetting is in xserver-xorg-core, fbdev as the fallback) and
# the legacy wrapper so an ordinary user may start X from the console;
# logind sessions (libpam-systemd, and dbus, which logind needs): the
# console login's session is what gives the unprivileged X server the
# graphics and input devices (without it X stops with "no screens found",
# seen booting the image under UEFI in QEMU);
# smart cards (pcscd, OpenSC, Yubico's ykcs11); fonts; CUPS with a driver
# set for printing the PDF record. Not: ifupdown, network-manager,
# wpasupplicant, openssh, anything that would configure a network.
packages=(
  systemd-sysv udev kmod dbus libpam-systemd linux-image-amd64 live-boot
  xserver-xorg-core xserver-xorg-video-fbdev xserver-xorg-input-libinput xserver-xorg-legacy xinit
  pcscd opensc ykcs11 fonts-dejavu-core
  cups printer-driver-gutenprint
  less
)
include=$(IFS=,; echo "${packages[*]}")

mmdebstrap --variant=minbase --include="$include" \
  --essential-hook='mkdir -p "$1/etc/initramfs-tools/hooks"' \
  --essential-hook='copy-in "'"$here"'/rootfs/custodian-no-net" /etc/initramfs-tools/hooks' \
  --customize-hook='copy-in "'"$deb"'" /tmp' \
  --customize-hook='chroot "$1" sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /tmp/$(basename '"$deb"')"' \
  --customize-hook='copy-in "'"$here"'/rootfs" /tmp' \
  --customize-hook='chroot "$1" sh /tmp/rootfs/customize.sh' \
  --customize-hook='rm -rf "$1/tmp/rootfs" "$1"/tmp/*.deb' \
  --customize-hook='cp -a "$1"/boot/vmlinuz-* "'"$work"'/iso/live/vmlinuz"' \
  --customize-hook='cp -a "$1"/boot/initrd.img-* "'"$work"'/iso/live/initrd.img"' \
  "$SUITE" "$work/root" \
  "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb ${MIRROR%/debian}/debian-security $SUITE-security main"

# SOURCE_DATE_EPOCH (exported above) sets the file system's and every
# file's time; mksquashfs refuses -mkfs-time/-all-time alongside it.
mksquashfs "$work/root" "$work/iso/live/filesystem.squashfs" -noappend -comp zstd -no-progress
cp "$here/grub.cfg" "$work/iso/boot/grub/grub.cfg"
find "$work/iso" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
# grub-mkrescue formats its EFI boot image (efi.img) with mformat, which
# picks the FAT volume serial at random (mtools 4.0.32 uses
# SOURCE_DATE_EPOCH for file times, not for the serial), and has no option
# for it. It runs mformat by name from PATH, so a wrapper first in PATH, for
# grub-mkrescue only, adds a serial derived from SOURCE_DATE_EPOCH: the
# same commit gives the same efi.img, and so the same ISO.
serial=$(printf '%08X' $(( SOURCE_DATE_EPOCH & 0xFFFFFFFF )))
real_mformat=$(command -v mformat) || { echo "build.sh: no mformat (install mtools)" >&2; exit 2; }
mkdir -p "$work/bin"
printf '#!/bin/sh\nexec %s -N %s "$@"\n' "$real_mformat" "$serial" > "$work/bin/mformat"
chmod 0755 "$work/bin/mformat"
# grub-mkrescue (2.06) also passes xorriso --modification-date=<now>, which
# overrides what xorriso derives from SOURCE_DATE_EPOCH: the volume's
# creation and modification dates, the GPT disk GUID and the isohybrid MBR
# id follow that clock, and the files grub-mkrescue generates (its modules,
# fonts, boot images) carry their real mtimes. xorriso's native commands
# after "--" come last and win: the volume's "uuid" date and every file's
# dates from SOURCE_DATE_EPOCH. (GRUB's own files do not embed the date:
# checked, two runs seconds apart gave byte-identical GRUB files, and the
# ISO with these dates boots to this grub.cfg.)
iso_date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M%S00)
PATH="$work/bin:$PATH" grub-mkrescue -o "$out/custodian-image.iso.tmp" "$work/iso" -- -volid CUSTODIAN \
  -volume_date uuid "$iso_date" -volume_date all_file_dates "=$SOURCE_DATE_EPOCH"
# Check that the wrapper was used: the EFI image's serial must be ours.
efi_serial=$(xorriso -osirrox on -indev "$out/custodian-image.iso.tmp" -extract /efi.img "$work/efi.img" >/dev/null 2>&1 &&
  minfo -i "$work/efi.img" :: | sed -n 's/^ *serial number: *//p')
[ "$efi_serial" = "$serial" ] || {
  rm -f "$out/custodian-image.iso.tmp"; echo "build.sh: efi.img's FAT serial is '$efi_serial', not $serial: grub-mkrescue did not use the mformat wrapper" >&2; exit 1; }
mv -f "$out/custodian-image.iso.tmp" "$out/custodian-image.iso"
mkdir -p "$out/image-boot"
cp "$work/iso/live/vmlinuz" "$work/iso/live/initrd.img" "$out/image-boot/"
# The hash of the custodian binary inside, which the booted image must report.
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/bin/custodian | sha256sum | cut -d' ' -f1 > "$out/image-boot/custodian.sha256"
(cd "$out" && sha256sum custodian-image.iso > custodian-image.iso.sha256 && cat custodian-image.iso.sha256)
