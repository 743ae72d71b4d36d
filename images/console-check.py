#!/usr/bin/env python3
"""Drive a booting guest's serial console and check the Debian image works.

Usage: console-check.py [--boot-timeout S] [--transcript FILE] [--quick] -- COMMAND [ARG...]

COMMAND is an emulator whose stdin/stdout is the guest console (ttyS0), e.g.
`qemu-system-i386 ... -serial stdio` or `webx86 boot ...`. The script waits for the autologin
root shell, then runs commands and checks their output:
  python3 -c 'print(6*7)'                 prints 42
  systemctl is-system-running --wait      running (degraded: the failed units are listed)
  apt list --installed | wc -l, ls -R /usr, dd 32 MiB + sync     complete (acceptance 1)
  hostname, root device, machine-id, getty on hvc0
then powers the guest off and waits for the kernel's "Power down" line. It prints what it saw and
"boot-to-shell: S seconds" (emulator start to the first shell prompt), the figure the benchmark
compares. --quick runs only the python3 check before powering off. Exit status 0 when all pass.
"""

import argparse
import os
import re
import select
import subprocess
import sys
import time

PROMPT = re.compile(rb"root@webx86:[^\r\n]*# ")


class Console:
    """An expect-like view of the emulator's stdout, with everything kept for the transcript."""

    def __init__(self, process: subprocess.Popen, transcript):
        self.process = process
        self.buffer = b""
        self.transcript = transcript
        os.set_blocking(process.stdout.fileno(), False)

    def _read_some(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        ready, _, _ = select.select([self.process.stdout], [], [], min(remaining, 1.0))
        if not ready:
            if self.process.poll() is not None:
                raise EOFError(f"the emulator exited with status {self.process.returncode}")
            return
        data = self.process.stdout.read(65536)
        if not data:
            self.process.wait()
            raise EOFError(f"the emulator exited with status {self.process.returncode}")
        self.buffer += data
        if self.transcript:
            self.transcript.write(data)
            self.transcript.flush()

    def expect(self, pattern: re.Pattern, timeout: float) -> re.Match:
        """Waits for `pattern`; consumes the buffer up to the end of the match."""
        deadline = time.monotonic() + timeout
        while True:
            match = pattern.search(self.buffer)
            if match:
                self.buffer = self.buffer[match.end() :]
                return match
            self._read_some(deadline)

    def send(self, text: str) -> None:
        self.process.stdin.write(text.encode())
        self.process.stdin.flush()

    def run(self, command: str, timeout: float = 120) -> str:
        """Runs a shell command; returns its output (stdout and stderr) without the echo.

        The markers are printed by the guest (`printf`), so the echoed command line, which spells
        them differently, never matches them.
        """
        self.send(f"printf '\\n@@%s\\n' BEGIN; {command}; printf '\\n@@%s %s\\n' END $?\r")
        self.expect(re.compile(rb"\n@@BEGIN\r?\n"), timeout)
        match = self.expect(re.compile(rb"(.*?)\r?\n@@END (\d+)\r?\n", re.S), timeout)
        self.last_status = int(match.group(2))
        output = match.group(1).decode(errors="replace").replace("\r\n", "\n")
        # Drop terminal control sequences (bracketed paste, colours) the shell may emit.
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output).strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boot-timeout", type=float, default=600)
    parser.add_argument("--transcript", help="write everything the console printed here")
    parser.add_argument("--quick", action="store_true", help="only the python3 check")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no emulator command given")

    transcript = open(args.transcript, "wb") if args.transcript else None
    started = time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    console = Console(process, transcript)
    failures = []

    def check(name: str, ok: bool, detail: str) -> None:
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
        if not ok:
            failures.append(name)

    try:
        console.expect(PROMPT, args.boot_timeout)
        boot_to_shell = time.monotonic() - started
        print(f"boot-to-shell: {boot_to_shell:.1f} seconds", flush=True)
        # No line editing surprises: plain prompt handling, no pager, wide lines.
        console.run("export PAGER=cat SYSTEMD_PAGER=cat TERM=dumb; stty cols 200; dmesg -n 1")

        out = console.run("python3 -c 'print(6*7)'")
        check("python3", out == "42", repr(out))
        if not args.quick:
            state = console.run("systemctl is-system-running --wait", timeout=600)
            failed = console.run("systemctl list-units --failed --no-legend --plain")
            check("systemctl is-system-running", state == "running", f"{state}; failed units: {failed or 'none'}")
            if failed:
                for unit in failed.split("\n"):
                    name = unit.split()[0]
                    print(console.run(f"systemctl status --no-pager --lines=8 {name} 2>&1 | head -20"))
            installed = console.run("apt list --installed 2>/dev/null | wc -l")
            check("apt list --installed | wc -l", installed.isdigit() and int(installed) > 100, installed)
            console.run("ls -R /usr > /dev/null", timeout=300)
            check("ls -R /usr", console.last_status == 0, f"exit status {console.last_status}")
            out = console.run("dd if=/dev/zero of=/root/f bs=1M count=32 2>&1 && sync && ls -l /root/f", timeout=300)
            check("dd 32 MiB + sync", console.last_status == 0 and "33554432" in out, out.splitlines()[-1] if out else "")
            out = console.run("hostname; findmnt -no SOURCE,FSTYPE,OPTIONS /")
            check("hostname and root", out.startswith("webx86\n/dev/vda ext2"), out.replace("\n", " | "))
            out = console.run("cat /etc/machine-id")
            check("machine-id generated at first boot", re.fullmatch(r"[0-9a-f]{32}", out) is not None, out)
            out = console.run("systemctl is-active serial-getty@hvc0.service serial-getty@ttyS0.service")
            check("gettys on hvc0 and ttyS0", out.split() == ["active", "active"], out.replace("\n", " "))
            print(console.run("uname -a; cat /proc/cmdline; systemd-analyze time 2>&1 | head -3"))
            print("slowest units:\n" + console.run("systemd-analyze blame 2>&1 | head -8"))
        # With acpi=off the kernel has no way to switch the machine off: it prints "Power down"
        # and halts. That line is the end of a clean shutdown; an emulator may exit then or not.
        console.send("systemctl poweroff\r")
        console.expect(re.compile(rb"reboot: (Power down|System halted)"), 300)
        check("power off", True, f"clean shutdown after {time.monotonic() - started:.1f} seconds")
    except (TimeoutError, EOFError, subprocess.TimeoutExpired) as error:
        tail = console.buffer[-2000:].decode(errors="replace")
        check("console session", False, f"{type(error).__name__}: {error}\n--- last console output ---\n{tail}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if transcript:
            transcript.close()
    print(f"total: {time.monotonic() - started:.1f} seconds; {len(failures)} failed" + (f": {', '.join(failures)}" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
