#!/usr/bin/env python3
"""Interpreter throughput: guest instructions per second, natively and as WebAssembly in Node.

Usage: bench/run.py [--no-build] [--timeout SECONDS] [--outer R] [--inner M]

Builds the release binary and the release .wasm (unless --no-build), generates the loop ROM
(bench/make-loop-rom.py), then runs each workload once per engine, one after the other:
  native  target/release/webx86 rom --stats ROM
  node    node web/node/run-rom.mjs --stats ROM   (the release .wasm)
Workloads: test386 (../shared/conformance/test386) and the tight integer loop ROM. Each run's
port 0xE9 output is compared with what it must be, so a figure from a wrong run is marked.
Prints the figures as measured, side by side; asserts nothing about speed. Exit status 1 if a
run failed or printed the wrong output, else 0.
"""
import argparse
import os
import platform
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST386 = os.path.join(ROOT, '..', 'shared', 'conformance', 'test386')
STATS_RE = re.compile(r'(\d+) instructions retired in ([\d.]+) s, ([\d.]+) guest MIPS')


def sh(cmd):
    print('+ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    except OSError:
        return 'not found'


def cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def run(cmd, expected, predicted, timeout):
    """Runs one measurement; returns (instructions, seconds, MIPS or None, verdict).
    `predicted` is the exact instruction count, when known."""
    started = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, timeout, None, 'timed out after %d s' % timeout
    wall = time.monotonic() - started
    stats = STATS_RE.search(p.stderr.decode('utf-8', 'replace'))
    instructions, secs, mips = (None, wall, None)
    if stats:
        instructions, secs, mips = int(stats[1]), float(stats[2]), float(stats[3])
    if p.returncode != 0:
        last = p.stderr.decode('utf-8', 'replace').strip().splitlines()[-1:] or ['']
        verdict = 'exit %d: %s' % (p.returncode, last[0][:70])
    elif p.stdout != expected:
        verdict = 'WRONG OUTPUT'
    elif predicted is not None and instructions != predicted:
        verdict = 'output ok, but %s instructions were predicted' % '{:,}'.format(predicted)
    else:
        verdict = 'ok'
    return instructions, secs, mips, verdict


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    ap.add_argument('--no-build', action='store_true', help='use the binaries as built')
    ap.add_argument('--timeout', type=int, default=600, help='seconds per run (600)')
    ap.add_argument('--outer', type=int, default=50, help='loop ROM outer passes (50)')
    ap.add_argument('--inner', type=int, default=1_000_000,
                    help='loop ROM inner iterations per pass (1000000)')
    args = ap.parse_args()

    if not args.no_build:
        sh(['cargo', 'build', '--release', '--quiet'])
        sh(['cargo', 'build', '--quiet', '--profile', 'release-wasm',
            '--target', 'wasm32-unknown-unknown', '-p', 'webx86-web'])
    loop_rom = os.path.join(ROOT, 'target', 'bench', 'loop.bin')
    sh([sys.executable, 'bench/make-loop-rom.py', '--out', loop_rom,
        '--outer', str(args.outer), '--inner', str(args.inner)])

    workloads = []
    with open(os.path.join(TEST386, 'test386-EE-reference.txt'), 'rb') as f:
        workloads.append(('test386', os.path.join(TEST386, 'test386.bin'), f.read(), None))
    with open(loop_rom + '.expected', 'rb') as f, open(loop_rom + '.instructions') as n:
        workloads.append(('integer loop', loop_rom, f.read(), int(n.read())))
    engines = [
        ('native', ['target/release/webx86', 'rom', '--stats']),
        ('node (wasm)', ['node', 'web/node/run-rom.mjs', '--stats']),
    ]

    print()
    print('host: %s; %s; node %s' % (cpu_model(), version(['rustc', '--version']),
                                     version(['node', '--version'])))
    header = '%-13s %-12s %14s %9s %12s  %s' % ('workload', 'engine', 'instructions',
                                                'seconds', 'guest MIPS', 'output')
    print(header)
    print('-' * len(header))
    failed = False
    for name, rom, expected, predicted in workloads:
        for engine, cmd in engines:
            instructions, secs, mips, verdict = run(cmd + [rom], expected, predicted,
                                                    args.timeout)
            failed |= verdict != 'ok'
            print('%-13s %-12s %14s %9.2f %12s  %s' % (
                name, engine, '-' if instructions is None else '{:,}'.format(instructions),
                secs, '-' if mips is None else '%.1f' % mips, verdict), flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
