#!/usr/bin/env bash
# Builds the cached Debian 12 base tree for the VM test: debootstrap plus a kernel, systemd,
# openssh-server, nginx, cloud-init (NoCloud, no network) and sudo. Nothing of amiprep is in
# it: run.sh copies it per run and adds amiprep and the test's units to the copy.
#
#   tests/vm/build-base.sh DIR        builds DIR (about 3 minutes; needs the Debian mirror)
set -euo pipefail
dir=${1:?usage: build-base.sh DIR}
# The mirror this machine's own apt uses for bookworm (so nothing here names a host).
mirror=${DEBIAN_MIRROR:-$(apt-cache policy | awk '$3 == "bookworm/main" && $4 == "amd64" {print $2; exit}')}
[ -n "$mirror" ] || { echo "no bookworm/main source in this machine's apt configuration (apt-get update?)" >&2; exit 1; }
tmp="$dir.tmp"
rm -rf "$tmp"
mkdir -p "$(dirname "$dir")"

echo "==> debootstrap bookworm into $tmp"
debootstrap --variant=minbase --include=systemd,systemd-sysv,udev,dbus bookworm "$tmp" "$mirror" >"$tmp.log" 2>&1 \
  || { tail -30 "$tmp.log"; exit 1; }

cleanup() { for m in dev/pts dev proc sys; do umount "$tmp/$m" 2>/dev/null || true; done; }
trap cleanup EXIT
mount -t proc proc "$tmp/proc"
mount -t sysfs sys "$tmp/sys"
mount --bind /dev "$tmp/dev"
mount --bind /dev/pts "$tmp/dev/pts"
# Packages must not start daemons inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
chmod 755 "$tmp/usr/sbin/policy-rc.d"
cat >"$tmp/etc/apt/sources.list" <<SRC
deb $mirror bookworm main
deb $mirror bookworm-updates main
SRC
echo "==> apt-get install kernel, sshd, nginx, cloud-init, sudo"
chroot "$tmp" apt-get update -qq
DEBIAN_FRONTEND=noninteractive chroot "$tmp" apt-get install -y -qq --no-install-recommends \
  linux-image-amd64 openssh-server nginx cloud-init sudo curl ca-certificates procps iproute2 ifupdown \
  >>"$tmp.log" 2>&1 || { tail -30 "$tmp.log"; exit 1; }
chroot "$tmp" apt-get clean
rm -f "$tmp/usr/sbin/policy-rc.d"
cleanup
trap - EXIT

echo "==> configure"
echo "/dev/vda / ext4 defaults,errors=remount-ro 0 1" >"$tmp/etc/fstab"
echo builder >"$tmp/etc/hostname"
# The packages' own host keys were made in the chroot: a real base image would carry them too.
# cloud-init: NoCloud from the kernel command line only (ds=nocloud;i=ID), no network. Its ssh
# module deletes old host keys but makes none, so amiprep's first-boot service makes them: the
# path this test is here to prove. (With cloud-init making keys, amiprep leaves them to it;
# the integration tests cover that decision.)
cat >"$tmp/etc/cloud/cloud.cfg.d/90-amiprep-vm.cfg" <<'CFG'
datasource_list: [ NoCloud, None ]
network: {config: disabled}
ssh_genkeytypes: []
CFG
# nginx was enabled by its package; the builder provisioning must enable it through amiprep.
chroot "$tmp" systemctl disable nginx.service >/dev/null 2>&1 || rm -f "$tmp/etc/systemd/system/multi-user.target.wants/nginx.service"
rm -rf "$dir"
mv "$tmp" "$dir"
date -u +%FT%TZ >"$dir.stamp"
echo "==> base ready: $dir"
