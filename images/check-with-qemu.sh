#!/usr/bin/env bash
# Boots the image built by images/build-debian.sh in QEMU (TCG, no KVM) with the same devices the
# webx86 guest sees (virtio-blk and virtio-console on the modern virtio-pci transport, 16550
# serial, virtio-rng, no ACPI/APIC use) and checks it with images/console-check.py: autologin root
# shell, python3, systemctl is-system-running, a 32 MiB write, power off.
# This is also the QEMU side of the boot benchmark (issue 6, acceptance 4).
#
# Usage: images/check-with-qemu.sh [--small] [--quick] [BUILD_DIR]
#   BUILD_DIR  default: target/guest/debian.build (debian-small.build with --small)
# Environment: QEMU_CPU (default pentium3: a P6 like webx86's), QEMU_MEM (default 512M),
#   QEMU_EXTRA (more QEMU arguments), WEBX86_GUEST_DIR (as for build-debian.sh).
# The disk is opened with snapshot=on: the check never changes the image.
# Writes BUILD_DIR/qemu-console.log (ttyS0) and BUILD_DIR/qemu-hvc0.log (virtio console).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
die() {
    printf 'check-with-qemu.sh: error: %s\n' "$*" >&2
    exit 1
}

variant=debian quick=() build=
for arg in "$@"; do
    case $arg in
    --small) variant=debian-small ;;
    --quick) quick=(--quick) ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    -*) die "unknown option '$arg'" ;;
    *) build=$arg ;;
    esac
done
build=${build:-${WEBX86_GUEST_DIR:-$repo/target/guest}/$variant.build}

for file in vmlinuz initrd.img root.ext2 cmdline; do
    [[ -f $build/$file ]] || die "$build/$file is missing: run images/build-debian.sh first"
done
if ! command -v qemu-system-i386 >/dev/null 2>&1; then
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        die "qemu-system-i386 is missing (Debian package qemu-system-x86)"
    fi
    echo "check-with-qemu.sh: installing qemu-system-x86" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-system-x86 </dev/null >&2
fi

# shellcheck disable=SC2054 # the commas are QEMU's option syntax
qemu=(
    qemu-system-i386 -accel tcg -machine pc -cpu "${QEMU_CPU:-pentium3}" -m "${QEMU_MEM:-512M}"
    -nodefaults -no-user-config -display none -no-reboot
    -kernel "$build/vmlinuz" -initrd "$build/initrd.img" -append "$(cat "$build/cmdline")"
    -serial stdio
    -drive "file=$build/root.ext2,format=raw,if=none,id=root,snapshot=on"
    -device virtio-blk-pci,drive=root,disable-legacy=on
    -device virtio-serial-pci,disable-legacy=on
    -chardev "file,id=hvc0,path=$build/qemu-hvc0.log" -device virtconsole,chardev=hvc0
    -device virtio-rng-pci,disable-legacy=on
)
# shellcheck disable=SC2206 # QEMU_EXTRA is a list of words on purpose
[[ -n ${QEMU_EXTRA:-} ]] && qemu+=($QEMU_EXTRA)

echo "check-with-qemu.sh: booting $build with QEMU TCG ($(qemu-system-i386 --version | head -n1))" >&2
status=0
python3 "$repo/images/console-check.py" "${quick[@]}" --transcript "$build/qemu-console.log" -- "${qemu[@]}" || status=$?
if grep -q "automatic login" "$build/qemu-hvc0.log" 2>/dev/null; then
    echo "PASS hvc0: autologin on the virtio console ($(grep -c . "$build/qemu-hvc0.log") lines in qemu-hvc0.log)"
else
    echo "FAIL hvc0: no autologin seen on the virtio console (see $build/qemu-hvc0.log)"
    status=1
fi
exit "$status"
