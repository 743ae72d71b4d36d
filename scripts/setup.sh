#!/usr/bin/env bash
# Set-up command 1 of README.md: installs what is missing, builds webx86 (release), checks the
# CPU on the test386 conformance ROM, then boots the default guest, Debian bookworm i386 from
# its disk image, to a root shell (`webx86 boot`, which builds the image with
# images/build-debian.sh the first time). Ctrl-A x quits; `poweroff` in the guest ends it too.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-tools.sh
ensure_tools

cargo build --release
test386=../shared/conformance/test386
python3 "$test386/check-test386.py" --rom "$test386/test386.bin" \
  --emu "target/release/webx86 rom {rom}" --timeout 120

exec target/release/webx86 boot
