#!/usr/bin/env bash
# Set-up command 1 of README.md: installs what is missing, builds webx86 (release), checks the
# CPU on the test386 conformance ROM, then boots Debian bookworm's stock i386 kernel
# (linux-image-686) with a busybox initramfs to a shell on the serial console (Ctrl-A x quits;
# `poweroff -f` in the guest ends it too). The full Debian disk image boots in a later issue.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-tools.sh
ensure_tools

cargo build --release
test386=../shared/conformance/test386
python3 "$test386/check-test386.py" --rom "$test386/test386.bin" \
  --emu "target/release/webx86 rom {rom}" --timeout 120

bash images/busybox-initramfs.sh
exec target/release/webx86 boot --kernel target/guest/vmlinuz \
  --initrd target/guest/busybox-initramfs.cpio.gz
