#!/bin/sh
# Runs inside the image's root file system (chroot) while it is built.
set -eu
src=/tmp/rootfs

# The ceremony user: unprivileged, no password (console autologin only),
# in the groups that reach token readers and printers.
useradd --create-home --shell /bin/bash --groups plugdev,lp custodian
passwd --lock custodian
passwd --lock root

# Kiosk: tty1 logs the user in, whose login starts X with Custodian as
# the only client; when Custodian exits, X exits and the login restarts it.
mkdir -p /etc/systemd/system/getty@tty1.service.d
install -m 0644 $src/autologin.conf /etc/systemd/system/getty@tty1.service.d/autologin.conf
install -m 0644 -o custodian -g custodian $src/bash_profile /home/custodian/.bash_profile
printf 'allowed_users=console\nneeds_root_rights=auto\n' > /etc/X11/Xwrapper.config

# The self-test (kernel parameter custodian.selftest): version and air-gap
# check on the serial console, as the ceremony user, then power off.
install -m 0755 $src/custodian-selftest /usr/local/bin/custodian-selftest
install -m 0755 $src/custodian-kiosk-check /usr/local/bin/custodian-kiosk-check
install -m 0644 $src/custodian-selftest.service /etc/systemd/system/custodian-selftest.service
mkdir -p /etc/systemd/system/serial-getty@ttyS0.service.d
install -m 0644 $src/serial-getty-selftest.conf /etc/systemd/system/serial-getty@ttyS0.service.d/custodian-selftest.conf
systemctl enable custodian-selftest.service

# No network: remove the kernel's network drivers and protocol modules
# (loopback is built in), and rebuild the initramfs without them.
for k in /lib/modules/*; do
  rm -rf "$k/kernel/drivers/net" "$k/kernel/net" "$k/kernel/drivers/bluetooth" "$k/kernel/drivers/infiniband"
  depmod -a "$(basename "$k")"
done
printf '# Custodian ceremony image: no network.\n' > /etc/network-disabled
systemctl mask systemd-networkd.service systemd-networkd.socket systemd-resolved.service 2>/dev/null || true
systemctl mask swap.target
# The initramfs was generated with the custodian-no-net hook in place
# (build.sh installs it before the kernel); otherwise rebuild it now.
if [ ! -x /etc/initramfs-tools/hooks/custodian-no-net ]; then
  update-initramfs -u -k all
fi

# Nothing machine-specific or cached in the image. ssl-cert's postinst
# (pulled in by CUPS) generates a fresh "snakeoil" key pair on every build:
# a private key everyone who downloads the image would share, and the one
# file that made two builds differ by chance (found comparing builds).
# Nothing here serves TLS; make-ssl-cert regenerates them if ever needed.
rm -f /etc/ssl/private/ssl-cert-snakeoil.key /etc/ssl/certs/ssl-cert-snakeoil.pem
if [ -d /etc/ssl/certs ]; then find /etc/ssl/certs -xtype l -delete; fi
printf 'custodian\n' > /etc/hostname
printf '127.0.0.1\tlocalhost custodian\n' > /etc/hosts
: > /etc/machine-id
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/log/*.log
