#!/usr/bin/env bash
# Set-up command 1 of README.md: installs what is missing, builds webx86 (release) and runs its
# main job. For now that is the test386 conformance ROM on `webx86 rom`, judged by
# check-test386.py; booting Debian comes with later issues.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-tools.sh
ensure_tools

cargo build --release
test386=../shared/conformance/test386
python3 "$test386/check-test386.py" --rom "$test386/test386.bin" \
  --emu "target/release/webx86 rom {rom}" --timeout 120
