#!/usr/bin/env bash
# Set-up command 2 of README.md, and what CI runs (.ci/run): installs what is missing, then runs
# every check. Each step runs even if an earlier one failed; the summary at the end lists the
# failures and the exit status is nonzero if there was any.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-tools.sh
ensure_tools || exit 1

test386=../shared/conformance/test386
passed=0
failed=0
failures=()

step() {
  local name=$1
  shift
  echo
  echo "=== $name: $*"
  local started=$SECONDS
  if "$@" </dev/null; then
    passed=$((passed + 1))
    echo "=== $name: ok ($((SECONDS - started)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== $name: FAILED ($((SECONDS - started)) s)"
  fi
}

step format cargo fmt --all -- --check
step clippy cargo clippy --workspace --all-targets -- -D warnings
step unit-and-integration-tests cargo test --workspace
step release-build cargo build --release
step test386-native python3 "$test386/check-test386.py" --rom "$test386/test386.bin" \
  --emu "target/release/webx86 rom {rom}" --timeout 120
step test386-in-process cargo test --release --test test386
# Debian's own 686 kernel with a busybox initramfs (both fetched with apt), booted to a shell.
step guest-busybox bash images/busybox-initramfs.sh
step boot-busybox cargo test --release --test boot_busybox
# The Debian guest from its disk image (issue 6), in the smaller CI variant of the default image
# (same userland, fewer kernel modules): built with mmdebstrap, booted from the chunked layout to
# the root shell with every console check, then the overlay kept across power-off and SIGKILL.
step guest-debian-small bash images/build-debian.sh --small
step debian-console-check python3 images/console-check.py --transcript target/guest/debian-small.console.log \
  -- target/release/webx86 boot --image target/guest/debian-small --deterministic
step debian-persistence python3 images/persistence-check.py --deterministic \
  --transcript-dir target/guest target/guest/debian-small
step robustness cargo test --release -p webx86-cpu --test robustness -- --nocapture
# The whole workspace for wasm32, which also produces web's release .wasm.
step wasm-build cargo build --workspace --target wasm32-unknown-unknown --profile release-wasm
# The static site in web/dist (wasm-bindgen glue, page, worker, xterm.js); installs the web tools.
step web-build bash web/build.sh
step test386-wasm node web/node/smoke-test386.mjs
step web-unit node --test web/tests/
# The page in headless Chromium: boot Debian, keep a file across a reload, reset to the image;
# a missing image and a corrupt chunk. The small image (built above) boots the same kernel,
# initrd and userland as the default one, without building a second image in CI.
step web-e2e node web/tests/e2e.mjs --image target/guest/debian-small

echo
if [ "$failed" -ne 0 ]; then
  echo "failed steps: ${failures[*]}"
fi
echo "test.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
