#!/usr/bin/env python3
"""Boot-to-root-shell race: webx86 against QEMU TCG on the default Debian image.

Both boot the same kernel, initrd, command line and file system with virtio-blk, virtio-console
and virtio-rng: webx86 from the chunked CDN layout (target/guest/debian, a fresh in-memory
overlay each run), QEMU (`qemu-system-i386 -accel tcg`, Debian's package) from the raw
root.ext2 it was packed from (snapshot=on, so neither writes the image). Runs alternate
(webx86, QEMU, webx86, ...) so machine noise hits both alike. Each run is driven by
images/console-check.py --quick: wall time from process start to the autologin root prompt,
then `python3 -c 'print(6*7)'` and a clean power-off.

Prints each run, the medians and the ratio webx86/QEMU (above 1: webx86 is slower), and appends
the result as a JSON line to target/bench/boot-debian.jsonl. Nothing asserts on speed.

  python3 bench/boot-debian.py [--rounds N] [--small] [--deterministic] [--timeout S]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOT = re.compile(r"boot-to-shell: ([\d.]+) seconds")


def guest_dir() -> str:
    return os.environ.get("WEBX86_GUEST_DIR", os.path.join(REPO, "target/guest"))


def run_one(name: str, command: list, timeout: float) -> float:
    """Boots once under console-check.py; returns seconds to the root prompt."""
    check = [sys.executable, os.path.join(REPO, "images/console-check.py"), "--quick",
             "--boot-timeout", str(timeout), "--", *command]
    result = subprocess.run(check, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    match = BOOT.search(result.stdout)
    if result.returncode != 0 or not match:
        sys.exit(f"boot-debian.py: the {name} run failed:\n{result.stdout[-3000:]}")
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each emulator (default 3)")
    parser.add_argument("--small", action="store_true", help="the debian-small variant")
    parser.add_argument("--deterministic", action="store_true",
                        help="webx86 with --deterministic (default: realtime, like QEMU)")
    parser.add_argument("--timeout", type=float, default=1200, help="boot timeout per run, seconds")
    parser.add_argument("--mem", default="512", help="guest RAM in MiB for both (default 512)")
    args = parser.parse_args()

    variant = "debian-small" if args.small else "debian"
    image = os.path.join(guest_dir(), variant)
    build = os.path.join(guest_dir(), variant + ".build")
    webx86 = os.path.join(REPO, "target/release/webx86")
    for path in (os.path.join(image, "manifest.json"), webx86,
                 *(os.path.join(build, f) for f in ("vmlinuz", "initrd.img", "root.ext2", "cmdline"))):
        if not os.path.exists(path):
            sys.exit(f"boot-debian.py: {path} is missing (cargo build --release; images/build-debian.sh)")
    if not shutil.which("qemu-system-i386"):
        sys.exit("boot-debian.py: qemu-system-i386 is missing (apt-get install qemu-system-x86)")
    with open(os.path.join(build, "cmdline")) as f:
        cmdline = f.read().strip()

    ours = [webx86, "boot", "--image", image, "--mem", args.mem]
    if args.deterministic:
        ours.append("--deterministic")
    # The same devices as webx86's machine: virtio-blk, virtio-console (hvc0) and virtio-rng on
    # PCI, modern only; the serial console on stdio; a P6-class CPU without the APIC in use.
    qemu = [
        "qemu-system-i386", "-accel", "tcg", "-machine", "pc", "-cpu", "pentium3", "-m", args.mem,
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-kernel", os.path.join(build, "vmlinuz"), "-initrd", os.path.join(build, "initrd.img"),
        "-append", cmdline, "-serial", "stdio",
        "-drive", f"file={os.path.join(build, 'root.ext2')},format=raw,if=none,id=root,snapshot=on",
        "-device", "virtio-blk-pci,drive=root,disable-legacy=on",
        "-device", "virtio-serial-pci,disable-legacy=on",
        "-chardev", "null,id=hvc0", "-device", "virtconsole,chardev=hvc0",
        "-device", "virtio-rng-pci,disable-legacy=on",
    ]
    qemu_version = subprocess.run(["qemu-system-i386", "--version"], stdout=subprocess.PIPE,
                                  text=True).stdout.splitlines()[0]
    times = {"webx86": [], "qemu": []}
    for round_ in range(args.rounds):
        for name, command in (("webx86", ours), ("qemu", qemu)):
            seconds = run_one(name, command, args.timeout)
            times[name].append(seconds)
            print(f"round {round_ + 1}: {name:6} {seconds:7.1f} s to the root prompt", flush=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["webx86"] / medians["qemu"]
    print(f"median: webx86 {medians['webx86']:.1f} s, QEMU TCG {medians['qemu']:.1f} s "
          f"({qemu_version}); webx86/QEMU = {ratio:.2f}")
    os.makedirs(os.path.join(REPO, "target/bench"), exist_ok=True)
    with open(os.path.join(REPO, "target/bench/boot-debian.jsonl"), "a") as f:
        f.write(json.dumps({"time": time.time(), "variant": variant,
                            "deterministic": args.deterministic, "mem_mib": int(args.mem),
                            "webx86_s": times["webx86"], "qemu_s": times["qemu"],
                            "ratio": ratio, "qemu_version": qemu_version}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
