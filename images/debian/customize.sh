#!/usr/bin/env bash
# mmdebstrap customize hook for the webx86 Debian guest: runs on the build host after all packages
# are installed, with the new root file system as $1. Called by images/build-debian.sh.
set -euo pipefail

root=${1:?usage: customize.sh ROOTDIR}
here=$(cd "$(dirname "$0")" && pwd)

# Configuration files (hostname, hosts, fstab, getty autologin, journald, initramfs-tools): the
# tree under files/ is copied over the root as root-owned files.
cp -r --no-preserve=ownership,timestamps "$here/files/." "$root/"
(cd "$here/files" && find . -mindepth 1) | while read -r path; do
    chown -h 0:0 "$root/$path"
    if [[ -d $root/$path ]]; then chmod 755 "$root/$path"; else chmod 644 "$root/$path"; fi
done

# Units that must not run in this guest:
# - apt-daily*.timer: download package lists and upgrades once a day; the guest has no network.
# - systemd-firstboot.service: an interactive wizard (locale, time zone, root password) that would
#   hold the console waiting for answers. It runs only on a "first boot" (no /etc/machine-id, or
#   one reading "uninitialized"), which the empty file below is not; masked in case a user
#   deletes the file.
# - modprobe@{drm,dm_mod,loop,fuse,efi_pstore,configfs}.service: load modules at boot in case
#   they are wanted (a graphics seat, device mapper, loop devices, FUSE, EFI pstore, configfs).
#   None is on this machine's boot path, and every module load costs the guest an RSA signature
#   check (module signing: a sixth of a boot's instructions for ~27 modules). Each still loads
#   on first use (opening /dev/loop-control, /dev/fuse, /dev/mapper/control; mount -t configfs).
chroot "$root" systemctl mask --quiet apt-daily.timer apt-daily-upgrade.timer \
    systemd-firstboot.service modprobe@drm.service modprobe@dm_mod.service \
    modprobe@loop.service modprobe@fuse.service modprobe@efi_pstore.service \
    modprobe@configfs.service

# /etc/machine-id stays EMPTY: every instance of the shared image then gets its own ID, which
# systemd generates at the instance's first boot and, the root being mounted rw, writes into the
# file at once (so it lands in that instance's overlay). An empty file is not a systemd "first
# boot": no preset-all, no firstboot wizard. mmdebstrap leaves it empty already; the dbus copy
# must not hold a fixed ID either.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"

# The kernel's postinst built the initrd before files/ was copied: build it again with the
# virtio module list. mkinitramfs honours SOURCE_DATE_EPOCH (fixed file times, single-threaded
# zstd), so the same package set gives the same initrd.
chroot "$root" update-initramfs -u -k all

# Left over from the build: package caches (mmdebstrap cleans most) and logs with build times.
rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old
find "$root/var/log" -type f -delete
