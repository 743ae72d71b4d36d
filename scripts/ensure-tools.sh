# Sourced by scripts/setup.sh and scripts/test.sh: makes sure the tools webx86 builds and tests
# with are installed, installing what is missing. Safe to run any number of times.
#   - Rust (cargo, rustfmt, clippy) with the wasm32-unknown-unknown target (through rustup)
#   - python3 (runs check-test386.py and the bench scripts)
#   - node (runs the WebAssembly build)
# and, through ensure_web_tools (the web build and its end-to-end test):
#   - npm and web/'s npm packages (npm ci), wasm-bindgen-cli at wasm-bindgen's pinned version,
#     Debian's chromium (driven headless by playwright-core)

apt_updated=
apt_install() {
  local sudo=
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "error: $* missing and not root to apt-get install it" >&2; return 1; }
    sudo=sudo
  fi
  if [ -z "$apt_updated" ]; then
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
    apt_updated=1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" </dev/null
}

ensure_tools() {
  if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
  fi
  if ! command -v cargo >/dev/null 2>&1 || ! command -v rustup >/dev/null 2>&1; then
    echo "error: webx86 needs a Rust toolchain installed with rustup (cargo and rustup on PATH)" >&2
    return 1
  fi
  local installed
  installed=$(rustup component list --installed 2>/dev/null)
  for component in rustfmt clippy; do
    grep -q "^$component" <<<"$installed" || rustup component add "$component"
  done
  rustup target list --installed | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown
  command -v python3 >/dev/null 2>&1 || apt_install python3
  command -v node >/dev/null 2>&1 || apt_install nodejs
  if [ ! -f ../shared/conformance/test386/test386.bin ]; then
    echo "error: ../shared/conformance/test386/test386.bin not found: webx86's tests expect" \
      "the shared folder beside this checkout ($(cd .. && pwd)/shared)" >&2
    return 1
  fi
}

# wasm-bindgen's JavaScript glue must come from the CLI of exactly the crate's version.
WASM_BINDGEN_VERSION=0.2.130

ensure_web_tools() {
  command -v npm >/dev/null 2>&1 || apt_install npm
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
    # --locked first (the versions the CLI was released with); the registry may lack one of
    # them (webpki-roots 1.0.11 was missing here), then let cargo resolve within the CLI's ranges.
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked \
      || cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
  # npm ci only when web/package-lock.json changed since the last install.
  if [ ! -f web/node_modules/.package-lock.json ] \
    || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
    (cd web && npm ci --no-audit --no-fund)
  fi
  command -v chromium >/dev/null 2>&1 || apt_install chromium
}
