#!/usr/bin/env bash
# Makes what bench/v86.py needs for v86 present, idempotently: Debian's SeaBIOS (apt package
# `seabios`, for /usr/share/seabios/bios.bin and the VGA BIOS) and the npm `v86` package at
# the version package-lock.json pins (npm ci, only when node_modules does not already hold it).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

if [[ ! -s /usr/share/seabios/bios.bin || ! -s /usr/share/seabios/vgabios-stdvga.bin ]]; then
    sudo=
    if [[ $(id -u) != 0 ]]; then
        command -v sudo >/dev/null 2>&1 || {
            echo "bench/v86/setup.sh: /usr/share/seabios/bios.bin is missing" \
                "and we are not root to apt-get install seabios" >&2
            exit 1
        }
        sudo=sudo
    fi
    install_seabios() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q seabios </dev/null; }
    install_seabios || { $sudo apt-get update -q && install_seabios; }
fi

locked=$(node -e \
    'process.stdout.write(require(process.argv[1]).packages["node_modules/v86"].version)' \
    "$here/package-lock.json")
installed=
if [[ -f $here/node_modules/v86/package.json ]]; then
    installed=$(node -e 'process.stdout.write(require(process.argv[1]).version)' \
        "$here/node_modules/v86/package.json")
fi
# The published package.json carries a build suffix (0.5.462+g5f9a90f) the lock file does not.
if [[ ${installed%%+*} != "$locked" || ! -s $here/node_modules/v86/build/v86.wasm ]]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
