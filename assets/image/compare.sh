#!/bin/bash
# Compares two builds of the ceremony image part by part, for the README's
# reproducibility statement: the ISO's bytes, every file in the ISO, the
# squashfs listings (mode, owner, size, time, name) and the SHA-256 of every
# file in the root file system. Needs root (unsquashfs keeps owners),
# xorriso and squashfs-tools; WORK needs ~3 GB.
#
#   assets/image/compare.sh DIR_A DIR_B WORK   (DIRs as build.sh's OUTDIR)
set -u
A=$1; B=$2; W=$3
rm -rf "$W"; mkdir -p "$W"/{a,b}
echo "== ISO"; sha256sum "$A/custodian-image.iso" "$B/custodian-image.iso"
ls -l "$A/custodian-image.iso" "$B/custodian-image.iso"
echo "differing bytes: $(cmp -l "$A/custodian-image.iso" "$B/custodian-image.iso" 2>/dev/null | wc -l)"
for s in a b; do d=$A; [ $s = b ] && d=$B
  xorriso -osirrox on -indev "$d/custodian-image.iso" -extract / "$W/$s/iso" >/dev/null 2>&1
  chmod -R u+w "$W/$s/iso"
done
echo "== files in the ISO (sha256 differs):"
(cd "$W/a/iso" && find . -type f | LC_ALL=C sort | xargs sha256sum) > "$W/a.iso.sums"
(cd "$W/b/iso" && find . -type f | LC_ALL=C sort | xargs sha256sum) > "$W/b.iso.sums"
diff "$W/a.iso.sums" "$W/b.iso.sums" | grep '^[<>]'
echo "== squashfs listing (perm owner size mtime name) differences:"
unsquashfs -lls "$W/a/iso/live/filesystem.squashfs" | sed 1,3d > "$W/a.lls"
unsquashfs -lls "$W/b/iso/live/filesystem.squashfs" | sed 1,3d > "$W/b.lls"
diff "$W/a.lls" "$W/b.lls" | grep '^[<>]' | head -40
echo "listing lines: $(wc -l < "$W/a.lls") vs $(wc -l < "$W/b.lls")"
echo "== squashfs file contents that differ:"
unsquashfs -q -n -d "$W/a/root" "$W/a/iso/live/filesystem.squashfs" >/dev/null 2>&1
unsquashfs -q -n -d "$W/b/root" "$W/b/iso/live/filesystem.squashfs" >/dev/null 2>&1
(cd "$W/a/root" && find . -type f | LC_ALL=C sort | xargs -d '\n' sha256sum) > "$W/a.root.sums"
(cd "$W/b/root" && find . -type f | LC_ALL=C sort | xargs -d '\n' sha256sum) > "$W/b.root.sums"
diff "$W/a.root.sums" "$W/b.root.sums" | grep '^[<>]' | awk '{print $1, $3}' | sort -k2 | head -80
echo "files: $(wc -l < "$W/a.root.sums") vs $(wc -l < "$W/b.root.sums")"
