#!/bin/sh
# Boots a Debian kernel in qemu (TCG; KVM when /dev/kvm is there) with an
# initramfs holding vminit, vivid and its modules, and the ceremony test
# binary, and runs TestQRScanThroughAV4L2Loopback inside. Test-only.
#   run-vm.sh WORKDIR   (WORKDIR gets the kernel package and the initramfs)
set -eu
work=${1:?usage: run-vm.sh WORKDIR}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../../.." && pwd)
mkdir -p "$work" && cd "$work"
if [ ! -d kernel ]; then
	pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
	apt-get download "$pkg"
	mkdir kernel && dpkg-deb -x linux-image-*.deb kernel
fi
kver=$(ls kernel/lib/modules)
rm -rf root && mkdir -p root/modules
# vivid and every module it needs, by the depends= of each .modinfo.
want="vivid"; seen=""
while [ -n "$want" ]; do
	set -- $want; m=$1; shift; want="$*"
	case " $seen " in *" $m "*) continue;; esac
	seen="$seen $m"
	ko=$(find kernel/lib/modules/$kver -name "$m.ko" -o -name "$(echo $m | tr _ -).ko" -o -name "$(echo $m | tr - _).ko" | head -1)
	[ -n "$ko" ] || { echo "module $m not found"; exit 1; }
	cp "$ko" root/modules/
	deps=$(strings "$ko" | sed -n 's/^depends=//p' | tr , ' ')
	want="$want $deps"
done
echo "modules:$seen"
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/root/init" ./internal/testinfra/v4l2loop/vminit)
(cd "$repo" && go test -c -o "$work/root/test.bin" ./ceremony/)
# The test binary is linked against libc (the PKCS#11 packages use cgo).
for lib in $(ldd root/test.bin | awk '/=>/{print $3} /ld-linux/{print $1}'); do
	mkdir -p "root$(dirname "$lib")" && cp -L "$lib" "root$lib"
done
echo "n_devs=1 node_types=0x101 num_inputs=1 input_types=0x3 num_outputs=1 output_types=0x1" > root/vivid.params
echo "-test.v -test.run TestQRScanThroughAV4L2Loopback -vivid /dev" > root/test.args
(cd "$repo" && go build -o "$work/mkcpio" ./internal/testinfra/v4l2loop/vminit/cpio)
(cd root && ../mkcpio) > initramfs.cpio
accel=tcg; [ -w /dev/kvm ] && accel=kvm
timeout 900 qemu-system-x86_64 -machine accel=$accel -m 1024 -smp 2 -nographic -no-reboot \
	-kernel kernel/boot/vmlinuz-$kver -initrd initramfs.cpio \
	-append "console=ttyS0 quiet panic=-1 rdinit=/init" | tee vm.log
grep -q "vminit: TEST EXIT 0" vm.log
