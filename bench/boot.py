#!/usr/bin/env python3
"""Boot-to-shell benchmark: boots Debian's 686 kernel with the busybox initramfs
(images/busybox-initramfs.sh) under `webx86 boot`, natively, and records

  * wall time from process start to the shell prompt on the serial console,
  * guest instructions retired (from --stats, at power-off right after the prompt),
  * guest MIPS and guest time,

for each clock mode asked for (deterministic and realtime by default), one run at a time.
Results are printed as a table and appended as JSON lines to target/bench/boot.jsonl.
Nothing asserts on speed; a run that does not reach the prompt is reported as failed.

  python3 bench/boot.py [--mode deterministic|realtime]... [--append CMDLINE] [--mem MIB]
                        [--no-build] [--timeout SECONDS]
"""

import argparse
import json
import os
import re
import select
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMPT = b"webx86:/# "
STATS = re.compile(
    r"webx86: (\d+) instructions in ([\d.]+) s \(([\d.]+) guest MIPS\), ([\d.]+) s of guest time"
)


def boot_once(binary, guest, mode, append, mem, timeout):
    args = [binary, "boot", "--kernel", os.path.join(guest, "vmlinuz"),
            "--initrd", os.path.join(guest, "busybox-initramfs.cpio.gz"),
            "--mem", str(mem), "--stats"]
    if mode == "deterministic":
        args.append("--deterministic")
    if append:
        args += ["--append", append]
    started = time.monotonic()
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    console = b""
    shell_at = None
    while shell_at is None:
        left = started + timeout - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if not ready:
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        console += chunk
        if PROMPT in console:
            shell_at = time.monotonic() - started
    result = {"mode": mode, "append": append, "mem_mib": mem, "shell_seconds": shell_at}
    if shell_at is None:
        proc.kill()
        proc.wait()
        result["error"] = "no shell prompt within %d s" % timeout
        result["console_tail"] = console[-2000:].decode("utf-8", "replace")
        return result
    try:
        _, stderr = proc.communicate(input=b"poweroff -f\n", timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
    result["exit_status"] = proc.returncode
    match = STATS.search(stderr.decode("utf-8", "replace"))
    if match:
        result["instructions"] = int(match.group(1))
        result["total_seconds"] = float(match.group(2))
        result["guest_mips"] = float(match.group(3))
        result["guest_seconds"] = float(match.group(4))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", action="append", choices=["deterministic", "realtime"])
    parser.add_argument("--append", help="kernel command line (default: webx86's)")
    parser.add_argument("--mem", type=int, default=256, help="guest RAM in MiB")
    parser.add_argument("--no-build", action="store_true", help="use what is built")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per boot")
    args = parser.parse_args()
    modes = args.mode or ["deterministic", "realtime"]

    guest = os.environ.get("WEBX86_GUEST_DIR", os.path.join(REPO, "target", "guest"))
    if not args.no_build:
        subprocess.run(["bash", os.path.join(REPO, "images", "busybox-initramfs.sh")],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["cargo", "build", "--release", "--quiet"], check=True, cwd=REPO)
    binary = os.path.join(REPO, "target", "release", "webx86")

    os.makedirs(os.path.join(REPO, "target", "bench"), exist_ok=True)
    log = os.path.join(REPO, "target", "bench", "boot.jsonl")
    failed = False
    print("%-14s %10s %14s %10s %10s  %s" % ("mode", "shell (s)", "instructions", "MIPS",
                                             "guest (s)", "exit"))
    for mode in modes:
        result = boot_once(binary, guest, mode, args.append, args.mem, args.timeout)
        result["when"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        with open(log, "a") as out:
            out.write(json.dumps(result) + "\n")
        if "error" in result:
            failed = True
            print("%-14s FAILED: %s\n%s" % (mode, result["error"], result["console_tail"]))
            continue
        print("%-14s %10.2f %14s %10.1f %10.2f  %s" % (
            mode, result["shell_seconds"], result.get("instructions", "?"),
            result.get("guest_mips", 0.0), result.get("guest_seconds", 0.0),
            result.get("exit_status")))
    print("results appended to", os.path.relpath(log, REPO))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
