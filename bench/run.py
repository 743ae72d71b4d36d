#!/usr/bin/env python3
"""Interpreter throughput: guest instructions per second, natively and as WebAssembly in Node.

Usage: bench/run.py [--no-build] [--timeout SECONDS] [--only NAME,...] [--outer R] [--inner M]
                    [--dot-passes P] [--mandel-frames F]

Builds the release binary and the release .wasm (unless --no-build), generates the benchmark
ROMs (bench/make-loop-rom.py, bench/make-float-rom.py), then runs each workload once per
engine, one after the other:
  native  target/release/webx86 rom --stats ROM
  node    node web/node/run-rom.mjs --stats ROM   (the release .wasm)
Workloads: test386 (../shared/conformance/test386), the tight integer loop, and x87 and SSE2
versions of a dot product and a Mandelbrot loop. Each run's port 0xE9 output is compared with
what it must be (and the generated ROMs' instruction counts with the predicted ones), so a
figure from a wrong run is marked. Prints each run as it finishes, then guest MIPS natively and
in Node side by side; asserts nothing about speed. Exit status 1 if a run failed or printed the
wrong output, else 0.
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
FLOAT_WORKLOADS = ('x87-dot', 'sse2-dot', 'x87-mandel', 'sse2-mandel')
WORKLOADS = ('test386', 'integer-loop') + FLOAT_WORKLOADS
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
    ap.add_argument('--only', default=','.join(WORKLOADS),
                    help='comma-separated workloads to run (all: %s)' % ','.join(WORKLOADS))
    ap.add_argument('--outer', type=int, default=50, help='loop ROM outer passes (50)')
    ap.add_argument('--inner', type=int, default=1_000_000,
                    help='loop ROM inner iterations per pass (1000000)')
    ap.add_argument('--dot-passes', type=int,
                    help='dot product passes (make-float-rom.py\'s default)')
    ap.add_argument('--mandel-frames', type=int,
                    help='Mandelbrot frames (make-float-rom.py\'s default)')
    args = ap.parse_args()
    only = [name for name in args.only.split(',') if name]
    unknown = sorted(set(only) - set(WORKLOADS))
    if unknown:
        ap.error('unknown workload %s (known: %s)' % (', '.join(unknown), ', '.join(WORKLOADS)))

    if not args.no_build:
        sh(['cargo', 'build', '--release', '--quiet'])
        # The .wasm run-rom.mjs loads is the wasm-bindgen output in web/dist/pkg.
        sh(['bash', 'web/build.sh'])
    workloads = []
    for name in WORKLOADS:
        if name not in only:
            continue
        if name == 'test386':
            with open(os.path.join(TEST386, 'test386-EE-reference.txt'), 'rb') as f:
                workloads.append((name, os.path.join(TEST386, 'test386.bin'), f.read(), None))
            continue
        rom = os.path.join(ROOT, 'target', 'bench', name + '.bin')
        if name == 'integer-loop':
            sh([sys.executable, 'bench/make-loop-rom.py', '--out', rom,
                '--outer', str(args.outer), '--inner', str(args.inner)])
        else:
            repeat = args.dot_passes if name.endswith('dot') else args.mandel_frames
            sh([sys.executable, 'bench/make-float-rom.py', name, '--out', rom]
               + ([] if repeat is None else ['--repeat', str(repeat)]))
        with open(rom + '.expected', 'rb') as f, open(rom + '.instructions') as n:
            workloads.append((name, rom, f.read(), int(n.read())))
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
    summary = []
    for name, rom, expected, predicted in workloads:
        row = [name]
        for engine, cmd in engines:
            instructions, secs, mips, verdict = run(cmd + [rom], expected, predicted,
                                                    args.timeout)
            failed |= verdict != 'ok'
            print('%-13s %-12s %14s %9.2f %12s  %s' % (
                name, engine, '-' if instructions is None else '{:,}'.format(instructions),
                secs, '-' if mips is None else '%.1f' % mips, verdict), flush=True)
            figure = '-' if mips is None else '%.1f' % mips
            if verdict != 'ok':
                figure += ' (WRONG OUTPUT)' if verdict == 'WRONG OUTPUT' else ' (failed)'
            row.append(figure)
        summary.append(row)

    print()
    print('guest MIPS (million guest instructions per second; one run each, not averaged)')
    header = '%-13s %20s %20s' % ('workload', engines[0][0], engines[1][0])
    print(header)
    print('-' * len(header))
    for row in summary:
        print('%-13s %20s %20s' % tuple(row))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
