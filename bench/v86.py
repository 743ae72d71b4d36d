#!/usr/bin/env python3
"""Boot race against v86: boots Debian's 686 kernel with the busybox initramfs
(images/busybox-initramfs.sh) to the shell prompt in webx86 and in the npm `v86` package, with
v86's JIT on and off, back to back on this machine, and prints median times and their ratios.

Every contestant is a child process with the guest's COM1 on its stdout; the time measured is
wall time from spawning it to the prompt `webx86:/# ` appearing there (so each side pays its own
start-up: process, wasm compilation, file loading, and for v86 SeaBIOS). After the prompt the
shell is asked for `echo $((6*7))` and must answer 42, so a run only counts if the guest works.
Runs alternate between contestants, the order rotating each round. Results are printed as a
table and appended as JSON lines to target/bench/v86.jsonl. Nothing asserts on speed.

  python3 bench/v86.py [--runs N] [--ours NAME[=COMMAND]]... [--v86 jit,interp]
                       [--append CMDLINE] [--mem MIB] [--no-build] [--timeout SECONDS]

Our side is pluggable: `--ours native` (target/release/webx86 boot --guest-decompress),
`--ours native-host-unpack` (the same without --guest-decompress), `--ours wasm` and
`--ours wasm-host-unpack` (node web/cli.mjs with the same options: the same machine as
WebAssembly), or `--ours NAME='COMMAND'` with {webx86} {kernel} {initrd} {append} {mem} in
COMMAND replaced. By default: the native pair, plus the wasm pair when `node web/cli.mjs
--help` lists --kernel, --initrd, --append and --guest-decompress. bench/README.md says what differs
between the two emulators.
"""

import argparse
import json
import os
import select
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMPT = b"webx86:/# "
DEFAULT_APPEND = "console=ttyS0 acpi=off nolapic pci=nomsi cryptomgr.notests noisapnp"

# `native` and `wasm` let the bzImage's own decompressor unpack the kernel in the guest, as v86
# (and any PC) does, so the guest work to the prompt is the same on both sides (it is about
# 2.3 G of the 2.7 G instructions to the prompt). `native-host-unpack` is what `webx86 boot`
# does by default: the host unpacks the kernel and the guest starts at its 32-bit entry.
OURS_PRESETS = {
    "native": "{webx86} boot --kernel {kernel} --initrd {initrd} --append {append} --mem {mem}"
              " --guest-decompress",
    "native-host-unpack": "{webx86} boot --kernel {kernel} --initrd {initrd} --append {append}"
                          " --mem {mem}",
    "wasm": "node web/cli.mjs --kernel {kernel} --initrd {initrd} --append {append} --mem {mem}"
            " --guest-decompress",
    "wasm-host-unpack": "node web/cli.mjs --kernel {kernel} --initrd {initrd} --append {append}"
                        " --mem {mem}",
}
WASM_CLI = os.path.join(REPO, "web", "cli.mjs")
V86_RUNNER = os.path.join(REPO, "bench", "v86", "boot-v86.mjs")


def command_for(template, values):
    """Splits a command template into words and fills the placeholders of each word, so a
    value with spaces (the kernel command line) stays one argument."""
    return [word.format(**values) for word in shlex.split(template)]


def read_until(proc, console, needle, deadline):
    """Reads the child's stdout into `console` (a bytearray) until `needle` appears after the
    bytes already there or the deadline passes; returns the time of the first byte read (or
    None) and whether the needle was seen."""
    start = len(console)
    first_at = None
    while needle not in console[max(0, start - len(needle)):]:
        left = deadline - time.monotonic()
        if left <= 0:
            return first_at, False
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if not ready:
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            return first_at, False
        if first_at is None:
            first_at = time.monotonic()
        console += chunk
    return first_at, True


def cpu_seconds(pid):
    """User + system CPU time of a running process, all its threads (Linux /proc), or None:
    a figure the other users of a shared machine disturb less than wall time."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def boot_once(name, argv, timeout):
    """One boot to the prompt; a dict with the seconds to the first console byte and to the
    prompt, or an error and the end of the console."""
    result = {"contestant": name, "argv": argv}
    with tempfile.TemporaryFile() as stderr:
        started = time.monotonic()
        proc = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=stderr)
        console = bytearray()
        try:
            first_at, seen = read_until(proc, console, PROMPT, started + timeout)
            prompt_at = time.monotonic()
            cpu = cpu_seconds(proc.pid)
            if cpu is not None:
                result["cpu_seconds"] = cpu
            if first_at is not None:
                result["first_byte_seconds"] = first_at - started
            if not seen:
                result["error"] = "no shell prompt within %d s" % timeout
            else:
                result["shell_seconds"] = prompt_at - started
                proc.stdin.write(b"echo $((6*7))\n")
                proc.stdin.flush()
                _, answered = read_until(proc, console, b"\n42", time.monotonic() + 60)
                if not answered:
                    result["error"] = "the shell did not answer echo $((6*7)) with 42"
        except OSError as err:
            result["error"] = "console I/O failed: %s" % err
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if "error" in result:
            stderr.seek(0)
            result["console_tail"] = bytes(console[-1500:]).decode("utf-8", "replace")
            result["stderr_tail"] = stderr.read()[-1500:].decode("utf-8", "replace")
    return result


def build(ours_names):
    subprocess.run(["bash", os.path.join(REPO, "images", "busybox-initramfs.sh")], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["bash", os.path.join(REPO, "bench", "v86", "setup.sh")], check=True)
    if any(name.startswith("native") for name in ours_names):
        subprocess.run(["cargo", "build", "--release", "--quiet"], check=True, cwd=REPO)


def wasm_cli_missing():
    """Why web/cli.mjs cannot be a contestant (it must boot a kernel and initrd given as files,
    with the guest unpacking the kernel), or None if it can."""
    if not os.path.exists(WASM_CLI):
        return "web/cli.mjs does not exist"
    try:
        usage = subprocess.run(["node", WASM_CLI, "--help"], capture_output=True, timeout=60,
                               text=True).stdout
    except (OSError, subprocess.TimeoutExpired) as err:
        return "node web/cli.mjs --help failed: %s" % err
    lacking = [flag for flag in ("--kernel", "--initrd", "--append", "--guest-decompress")
               if flag not in usage]
    if lacking:
        return "node web/cli.mjs --help does not list %s" % ", ".join(lacking)
    return None


def parse_ours(specs):
    """NAME or NAME=COMMAND pairs, in order."""
    if not specs:
        specs = ["native", "native-host-unpack"]
        missing = wasm_cli_missing()
        if missing:
            print("not racing the wasm build: %s" % missing)
        else:
            specs += ["wasm", "wasm-host-unpack"]
    ours = []
    for spec in specs:
        name, sep, template = spec.partition("=")
        if not sep:
            if name not in OURS_PRESETS:
                sys.exit("bench/v86.py: --ours %s is not one of %s and has no =COMMAND"
                         % (name, ", ".join(OURS_PRESETS)))
            template = OURS_PRESETS[name]
        ours.append((name, template))
    return ours


def summarize(ours, names, rounds):
    """Medians per contestant, then ours/v86 ratios three ways: of the wall-time medians, the
    median of each round's ratio (runs of one round are minutes apart, so a load that drifts
    over the whole benchmark moves both sides of a round's ratio alike), and of CPU medians."""
    def values(name, key):
        return [r[name][key] for r in rounds if name in r and key in r[name]]

    # The first console byte comes when the kernel's serial console registers: before it lie
    # the BIOS (v86 only), the kernel's decompression (unless the host did it) and early
    # setup, all CPU-bound; after it device probing and init, partly waits on the guest clock.
    print("\n%-19s %8s %8s %9s %12s  %s" % ("median of", "prompt", "CPU", "1st byte",
                                              "1st->prompt", "runs to prompt (s)"))
    for name in names:
        walls = values(name, "shell_seconds")
        if not walls:
            continue
        rest = [r[name]["shell_seconds"] - r[name]["first_byte_seconds"]
                for r in rounds if name in r]
        cpus = values(name, "cpu_seconds")
        print("%-19s %8.2f %8.2f %9.2f %12.2f  %s" % (
            name, statistics.median(walls), statistics.median(cpus) if cpus else float("nan"),
            statistics.median(values(name, "first_byte_seconds")), statistics.median(rest),
            " ".join("%.2f" % t for t in walls)))

    print("\nratios ours / v86 (below 1: webx86 reaches the prompt sooner)")
    print("%-34s %12s %12s %12s" % ("", "of medians", "per round", "CPU"))
    for name in ours:
        for other in (n for n in names if n.startswith("v86-")):
            walls, others = values(name, "shell_seconds"), values(other, "shell_seconds")
            if not walls or not others:
                continue
            per_round = [r[name]["shell_seconds"] / r[other]["shell_seconds"]
                         for r in rounds if name in r and other in r]
            cpus, other_cpus = values(name, "cpu_seconds"), values(other, "cpu_seconds")
            print("%-34s %12.3f %12.3f %12.3f" % (
                name + " / " + other, statistics.median(walls) / statistics.median(others),
                statistics.median(per_round) if per_round else float("nan"),
                statistics.median(cpus) / statistics.median(other_cpus)
                if cpus and other_cpus else float("nan")))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="boots per contestant")
    parser.add_argument("--ours", action="append", metavar="NAME[=COMMAND]",
                        help="a webx86 contestant (native, wasm, or NAME=COMMAND); repeatable")
    parser.add_argument("--v86", default="jit,interp",
                        help="v86 contestants: jit, interp or both (default jit,interp)")
    parser.add_argument("--append", default=DEFAULT_APPEND, help="kernel command line")
    parser.add_argument("--mem", type=int, default=256, help="guest RAM in MiB")
    parser.add_argument("--no-build", action="store_true", help="use what is built/installed")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per boot")
    args = parser.parse_args()

    ours = parse_ours(args.ours)
    v86_modes = [m for m in args.v86.split(",") if m]
    for mode in v86_modes:
        if mode not in ("jit", "interp"):
            sys.exit("bench/v86.py: --v86 %s is not jit or interp" % mode)
    if not args.no_build:
        build([name for name, _ in ours])

    guest = os.environ.get("WEBX86_GUEST_DIR", os.path.join(REPO, "target", "guest"))
    values = {
        "webx86": os.path.join(REPO, "target", "release", "webx86"),
        "kernel": os.path.join(guest, "vmlinuz"),
        "initrd": os.path.join(guest, "busybox-initramfs.cpio.gz"),
        "append": args.append,
        "mem": str(args.mem),
    }
    contestants = [(name, command_for(template, values)) for name, template in ours]
    for mode in v86_modes:
        argv = ["node", V86_RUNNER, "--kernel", values["kernel"], "--initrd", values["initrd"],
                "--append", args.append, "--mem", values["mem"]]
        contestants.append(("v86-" + mode, argv + (["--no-jit"] if mode == "interp" else [])))

    os.makedirs(os.path.join(REPO, "target", "bench"), exist_ok=True)
    log = os.path.join(REPO, "target", "bench", "v86.jsonl")
    rounds = []
    failed = False
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    print("%-5s %-19s %12s %12s %12s" % ("round", "contestant", "prompt (s)", "1st byte (s)",
                                         "CPU (s)"))
    for run in range(args.runs):
        rounds.append({})
        shift = run % len(contestants)
        for name, argv in contestants[shift:] + contestants[:shift]:
            result = boot_once(name, argv, args.timeout)
            result.update(round=run, append=args.append, mem_mib=args.mem,
                          when=time.strftime("%Y-%m-%dT%H:%M:%S"), loadavg=os.getloadavg())
            with open(log, "a") as out:
                out.write(json.dumps(result) + "\n")
            if "error" in result:
                failed = True
                print("%-5d %-19s FAILED: %s\n--- console ---\n%s\n--- stderr ---\n%s" % (
                    run, name, result["error"], result["console_tail"], result["stderr_tail"]))
                continue
            rounds[run][name] = result
            print("%-5d %-19s %12.2f %12.2f %12.2f" % (
                run, name, result["shell_seconds"], result["first_byte_seconds"],
                result.get("cpu_seconds", float("nan"))), flush=True)
    print("load average at end:   %.2f %.2f %.2f" % os.getloadavg())
    summarize([name for name, _ in ours], [name for name, _ in contestants], rounds)
    print("results appended to", os.path.relpath(log, REPO))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
