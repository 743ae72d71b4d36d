"""Survey of the host's FPTAN (no fit yet): prints the measurements behind the FPTAN notes in
the x87 work, so they can be re-checked on another host.

1. Noise: for |x| < pi/4 the host's result differs from the correctly rounded tangent in ~11%
   of cases whose exact value lies within 0.12 ulp of a rounding boundary, with misfits spread
   up to ~0.1 ulp from the boundary and no smooth error curve larger than ~0.02 ulp.
2. Tiny arguments: for |x| < 2^-34, where tan x = x to far beyond 64 bits, the host's
   pre-rounding value is above or below x by under one ulp depending only on x's significand
   (identical for every exponent), so directed roundings return x - 1 ulp or x + 1 ulp half
   of the time. Run: python3 scripts/x87-fit/tan_survey.py
"""

import collections
import random

import mpmath as mp

import probe

CHOP = 0x0F7F
UP = 0x0B7F


def noise(lo, hi, n=6000, band=0.12):
    rng = random.Random(1)
    cases = []
    for _ in range(n):
        f = probe.from_float(lo + (hi - lo) * rng.random())
        cases.append(("fptan", (f[0], f[1] ^ rng.getrandbits(40)), (0x3FFF, 1 << 63), probe.NEAREST))
    inband = misfit = 0
    spread = []
    for (_, x, _, _), out in zip(cases, probe.host(cases)):
        exact = mp.tan(probe.to_mpf(x))
        ulp, t, frac = probe.position(exact)
        if abs(frac - 0.5) > band:
            continue
        inband += 1
        up = probe.to_mpf(out[1]) > t * ulp
        if up != (frac > 0.5):
            misfit += 1
            spread.append(frac)
    return inband, misfit, (min(spread, default=0.5), max(spread, default=0.5))


def tiny_side(exponent, sigs):
    """-1, 0 or +1: the host's pre-rounding value below, at or above x = sig * 2^(exponent-63)."""
    side = {}
    for cw in (CHOP, UP):
        cases = [("fptan", (16383 + exponent, s), (0x3FFF, 1 << 63), cw) for s in sigs]
        side[cw] = [out[1][1] - s for s, out in zip(sigs, probe.host(cases))]
    return [-1 if c == -1 else (1 if u == 1 else 0) for c, u in zip(side[CHOP], side[UP])]


def main():
    probe.build_probe()
    for lo, hi in ((0.004, 0.016), (0.1, 0.4), (0.4, 0.78)):
        inband, misfit, spread = noise(lo, hi)
        print(f"x in [{lo}, {hi}]: {misfit}/{inband} near-boundary cases misrounded, "
              f"misfit fractions {spread[0]:.3f}..{spread[1]:.3f}")
    rng = random.Random(4)
    sigs = [rng.getrandbits(64) | 1 << 63 for _ in range(300)]
    ramp = [(1 << 63) + k for k in range(64)]
    base = tiny_side(-50, sigs)
    print("tiny x, sides below/at/above x:", collections.Counter(base))
    for e in (-58, -40, -36):
        same = sum(a == b for a, b in zip(base, tiny_side(e, sigs)))
        print(f"  exponent {e}: same side as at -50 for {same}/{len(sigs)} significands")
    print("  x = 2^63 + k, k = 0..63:", "".join("-=+"[s + 1] for s in tiny_side(-50, ramp)))


if __name__ == "__main__":
    main()
