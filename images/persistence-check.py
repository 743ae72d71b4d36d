#!/usr/bin/env python3
"""Check that the guest's writes persist in the copy-on-write overlay and the image never changes.

Usage: persistence-check.py [--webx86 BIN] [--boot-timeout S] [--transcript-dir DIR] IMAGE_DIR

Three boots of IMAGE_DIR (the chunked CDN layout) with one new overlay file:
  1. write /root/keep.txt, sync, power off cleanly;
  2. find keep.txt, write /root/killed.txt, sync, then kill the emulator with SIGKILL;
  3. find killed.txt (the initrd's e2fsck checks the unclean file system first).
Before and after, every object under IMAGE_DIR/sha256 is hashed: each must still match its name,
and manifest.json must be byte-identical. Exit status 0 when everything holds.
"""

import argparse
import hashlib
import importlib.util
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("console_check", HERE / "console-check.py")
console_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(console_check)
Console, PROMPT = console_check.Console, console_check.PROMPT


def image_state(image: Path) -> dict:
    """Path -> SHA-256 of every file of the image; raises if an object does not match its name."""
    state = {}
    for path in sorted(image.rglob("*")):
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if path.parent.name == "sha256" and path.name != digest:
                raise ValueError(f"{path} has SHA-256 {digest}, not its name")
            state[str(path.relative_to(image))] = digest
    return state


class Boot:
    """One emulator run with the console driven by `Console`."""

    def __init__(self, args, overlay: Path, number: int):
        transcript = None
        if args.transcript_dir:
            transcript = open(Path(args.transcript_dir) / f"boot{number}.log", "wb")
        command = [args.webx86, "boot", "--image", str(args.image), "--overlay", str(overlay)]
        if args.deterministic:
            command.append("--deterministic")
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.console = Console(self.process, transcript)
        self.transcript = transcript
        self.console.expect(PROMPT, args.boot_timeout)
        self.console.run("export TERM=dumb; stty cols 200; dmesg -n 1")

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.transcript:
            self.transcript.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("--webx86", default=str(HERE.parent / "target/release/webx86"))
    parser.add_argument("--boot-timeout", type=float, default=900)
    parser.add_argument("--transcript-dir", help="write each boot's console output here")
    parser.add_argument("--deterministic", action="store_true", help="boot with --deterministic")
    args = parser.parse_args()

    failures = []

    def check(name: str, ok: bool, detail: str) -> None:
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
        if not ok:
            failures.append(name)

    started = time.monotonic()
    before = image_state(args.image)
    keep, killed = secrets.token_hex(8), secrets.token_hex(8)
    with tempfile.TemporaryDirectory(prefix="webx86-overlay-") as tmp:
        overlay = Path(tmp) / "guest.overlay"
        boot = None
        try:
            boot = Boot(args, overlay, 1)
            out = boot.console.run(f"echo {keep} > /root/keep.txt && sync && cat /root/keep.txt")
            check("boot 1: write and sync keep.txt", out == keep, repr(out))
            boot.console.send("systemctl poweroff\r")
            boot.console.expect(re.compile(rb"reboot: (Power down|System halted)"), 300)
            status = boot.process.wait(timeout=60)
            check("boot 1: clean power-off", status == 0, f"exit status {status}")
            boot.close()

            boot = Boot(args, overlay, 2)
            out = boot.console.run("cat /root/keep.txt")
            check("boot 2: keep.txt survived the power-off", out == keep, repr(out))
            out = boot.console.run(f"echo {killed} > /root/killed.txt && sync && echo synced")
            check("boot 2: write and sync killed.txt", out == "synced", repr(out))
            boot.process.send_signal(signal.SIGKILL)
            boot.process.wait()
            check("boot 2: emulator killed after sync", boot.process.returncode == -signal.SIGKILL, f"status {boot.process.returncode}")
            boot.close()

            boot = Boot(args, overlay, 3)
            out = boot.console.run("cat /root/killed.txt /root/keep.txt")
            check("boot 3: killed.txt survived SIGKILL", out.split() == [killed, keep], repr(out))
            boot.console.send("systemctl poweroff\r")
            boot.console.expect(re.compile(rb"reboot: (Power down|System halted)"), 300)
            boot.close()
            check("overlay file kept the writes", overlay.stat().st_size > 0, f"{overlay.stat().st_size} bytes")
        except (TimeoutError, EOFError, subprocess.TimeoutExpired) as error:
            tail = boot.console.buffer[-2000:].decode(errors="replace") if boot else ""
            check("console session", False, f"{type(error).__name__}: {error}\n--- last console output ---\n{tail}")
        finally:
            if boot:
                boot.close()
    after = image_state(args.image)
    check("image unchanged", before == after, f"{len(after)} files hashed before and after")
    print(f"total: {time.monotonic() - started:.1f} seconds; {len(failures)} failed" + (f": {', '.join(failures)}" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
