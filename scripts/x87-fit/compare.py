"""Where the emulator's FPTAN, F2XM1, FSIN and FCOS still differ from the host: bit-exact
agreement per binade of the argument, under all four rounding controls
(`python3 scripts/x87-fit/compare.py [fptan|f2xm1|fsin|fcos] [cases per binade]`). Writes
nothing."""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(__file__))
import probe  # noqa: E402

CONTROLS = [0x037F | rc << 10 for rc in range(4)]


def compare(op, exponents, per_band, seed=5):
    rng = random.Random(seed)
    total_bad = total = 0
    for k in exponents:
        cases = [
            (op, ((rng.getrandbits(1) << 15) | (0x3FFF + k), rng.getrandbits(63) | 1 << 63),
             (0x3FFF, 1 << 63), rng.choice(CONTROLS))
            for _ in range(per_band)
        ]
        which = 1 if op == "fptan" else 0
        h = probe.host(cases)
        e = probe.host(cases, emulator=True)
        bad = sum(a[which] != b[which] for a, b in zip(h, e))
        total_bad += bad
        total += per_band
        print(f"2^{k:<4} {100 * (1 - bad / per_band):6.2f}%  ({bad} of {per_band})", flush=True)
    print(f"all    {100 * (1 - total_bad / total):6.2f}%")


if __name__ == "__main__":
    op = sys.argv[1] if len(sys.argv) > 1 else "fptan"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    probe.build_probe()
    if op in ("fptan", "fsin", "fcos"):
        compare(op, range(-12, 8), n)
    else:
        compare(op, range(-40, 0), n)
