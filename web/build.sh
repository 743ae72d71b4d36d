#!/usr/bin/env bash
# Builds the static site into web/dist/: the release WebAssembly module (profile release-wasm,
# thin LTO) through the pinned wasm-bindgen CLI (--target web), the page and its worker
# (web/site/), and xterm.js from web/node_modules. Installs what is missing first.
#
#   bash web/build.sh            (or: cd web && npm run build)
#
# dist/ is self-contained and uses relative URLs only, so any static host serves it under any
# path prefix. The page's default image is dist/image/: the build links it to
# target/guest/debian when that exists (copy with `cp -rL` to deploy, or replace the link).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-tools.sh
ensure_tools
ensure_web_tools

cargo build -p webx86-web --target wasm32-unknown-unknown --profile release-wasm

dist=web/dist
rm -rf "$dist"
mkdir -p "$dist/pkg" "$dist/vendor"
wasm-bindgen --target web --no-typescript --out-dir "$dist/pkg" \
  target/wasm32-unknown-unknown/release-wasm/webx86_web.wasm
cp web/site/*.html web/site/*.js web/site/*.css "$dist/"
cp web/node_modules/@xterm/xterm/lib/xterm.mjs web/node_modules/@xterm/xterm/css/xterm.css \
  web/node_modules/@xterm/addon-fit/lib/addon-fit.mjs "$dist/vendor/"
for license in web/node_modules/@xterm/xterm/LICENSE; do
  cp "$license" "$dist/vendor/xterm.LICENSE.txt"
done
image=${WEBX86_GUEST_DIR:-target/guest}/debian
if [ -f "$image/manifest.json" ]; then
  ln -s "$(cd "$image" && pwd)" "$dist/image"
fi
echo "built $dist ($(du -sh --apparent-size "$dist/pkg" | cut -f1) of WebAssembly and glue)"
