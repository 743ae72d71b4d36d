#!/usr/bin/env bash
# Builds the guest for boot tests from Debian bookworm's own i386 packages:
#   $OUT/vmlinuz                    the kernel of the current linux-image-686 package
#   $OUT/busybox-initramfs.cpio.gz  a newc initramfs: busybox-static and an /init that mounts
#                                   /proc /sys /dev and starts a shell on the console
# OUT defaults to target/guest under the repository. Idempotent: files already built are kept
# (delete them, or pass --force, to rebuild). Needs apt (as root, to add the i386 architecture
# once), dpkg-deb and python3; no loop mounts, no root-owned files.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
OUT=${WEBX86_GUEST_DIR:-$repo/target/guest}
force=0
[[ ${1:-} == --force ]] && force=1

kernel=$OUT/vmlinuz
initramfs=$OUT/busybox-initramfs.cpio.gz
if [[ $force == 0 && -s $kernel && -s $initramfs ]]; then
    echo "guest already built: $kernel $initramfs"
    exit 0
fi
mkdir -p "$OUT"
work=$(mktemp -d "$OUT/.build.XXXXXX")
chmod 755 "$work" # apt-get download hands the fetch to the _apt user
trap 'rm -rf "$work"' EXIT

as_root() {
    if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi
}

# The i386 package lists: add the architecture once, update when the lists lack it.
if ! dpkg --print-foreign-architectures | grep -qx i386; then
    as_root dpkg --add-architecture i386
fi
if ! apt-cache show linux-image-686:i386 >/dev/null 2>&1 ||
    ! apt-cache show busybox-static:i386 >/dev/null 2>&1; then
    # A mirror caught mid-sync fails one index; what the other lists hold may still do.
    as_root apt-get update -qq || echo "busybox-initramfs.sh: apt-get update reported errors; going on" >&2
fi

# linux-image-686 is a metapackage; its dependency names the versioned kernel package.
kpkg=$(apt-cache depends linux-image-686:i386 |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-686\)\(:i386\)\?$/\1/p' | head -n1)
if [[ -z $kpkg ]]; then
    echo "busybox-initramfs.sh: cannot resolve the kernel package of linux-image-686:i386" >&2
    exit 1
fi
echo "kernel package: $kpkg"

(cd "$work" && apt-get download -q "$kpkg:i386" busybox-static:i386 >/dev/null)
for deb in "$work"/*.deb; do
    dpkg-deb -x "$deb" "$work/root"
done

vmlinuz=$(ls "$work"/root/boot/vmlinuz-* | head -n1)
cp "$vmlinuz" "$kernel.tmp"
mv "$kernel.tmp" "$kernel"
basename "$vmlinuz" >"$OUT/vmlinuz.version"

cat >"$work/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /sbin /usr/bin /usr/sbin /tmp
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "webx86 busybox initramfs: $(uname -r)"
export PS1='webx86:\w# ' HOME=/ PATH=/bin:/sbin:/usr/bin:/usr/sbin
# cttyhack gives the shell the real console as its controlling terminal (job control, ^C).
exec setsid cttyhack sh
INIT

# A newc archive written directly (reproducible: fixed owner and mtime), so /dev/console can be
# a character device without root; the kernel opens it for init's stdin/stdout/stderr.
python3 - "$work/root/bin/busybox" "$work/init" "$initramfs.tmp" <<'PY'
import gzip, sys

busybox_path, init_path, out_path = sys.argv[1:]
entries = [  # (name, mode, data, rdev major, rdev minor)
    ("bin", 0o040755, b"", 0, 0),
    ("dev", 0o040755, b"", 0, 0),
    ("dev/console", 0o020600, b"", 5, 1),
    ("bin/busybox", 0o100755, open(busybox_path, "rb").read(), 0, 0),
    ("bin/sh", 0o120777, b"busybox", 0, 0),
    ("init", 0o100755, open(init_path, "rb").read(), 0, 0),
]
archive = bytearray()

def pad4():
    archive.extend(b"\0" * (-len(archive) % 4))

for ino, (name, mode, data, major, minor) in enumerate(entries + [("TRAILER!!!", 0, b"", 0, 0)], 1):
    name_bytes = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, major, minor, len(name_bytes), 0]
    archive.extend(b"070701" + b"".join(b"%08X" % f for f in fields))
    archive.extend(name_bytes)
    pad4()
    archive.extend(data)
    pad4()
with open(out_path, "wb") as out:
    out.write(gzip.compress(bytes(archive), compresslevel=9, mtime=0))
PY
mv "$initramfs.tmp" "$initramfs"
echo "guest built: $kernel ($(cat "$OUT/vmlinuz.version")) $initramfs"
