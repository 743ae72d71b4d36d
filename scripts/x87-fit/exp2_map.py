"""F2XM1 on the reference host beyond the modelled range: a measurement, writes nothing.

`exp2.py` models |x| < 2^-31 as t / D: t = x*A rounded to 68 bits, Q = t/expm1(B t) + t/2
and D = Q - t/2 each rounded to 68 bits. It is exact below 2^-33 and stops fitting from there.
This script shows what changes. In each neighbourhood of 1200 consecutive arguments the host
is reproduced exactly (0 or 1 misfits) by the same rational with two per-neighbourhood
constants:

* tau, the point where t rounds up (in 68-bit units of x*A's fraction; 1/2 below 2^-33); and
* eps, a smooth offset of the result in ulps (D's own rounding, or a missing term).

So the numerator becomes x*A plus a slowly varying addend, rounded once to 68 bits, instead of
rounded x*A. tau(x) is a sawtooth. In the 2^-29 binade of x*A it falls by ~0.35 over ~0.1 of
the significand, then jumps up by 0.39 at 1.04, 0.32 at 1.14, 0.29 at 1.24, 0.22 at 1.32 and
0.13 at 1.41. The falls steepen about 4x per binade, as a t^3 term would. The jumps mean the
addend contains a quantity rounded on a grid coarser than the numerator's.

That quantity is not identified. These fail: a cubic term c*(x*A)^3, a rounded
P = 1/2 + k*2^-68, and a P exact in t^2 (each with D = Q - tP).

Run: python3 scripts/x87-fit/exp2_map.py E N  (N neighbourhoods across the binade 2^E of x;
about 10 s for 16).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import probe  # noqa: E402
import exp2_structure as structure  # noqa: E402
import mpmath as mp  # noqa: E402

mp.mp.prec = 200
A, B, rnd68 = structure.A, structure.B, structure.rnd68


def neighbourhood_fit(x0, count=1200):
    """(misfits, tau, eps) of the best per-neighbourhood rational around x0, and x0*A's
    significand."""
    xs = probe.neighbours(x0, count)
    outs = probe.host([("f2xm1", x, (0x3FFF, 1 << 63), probe.NEAREST) for x in xs])
    u_mid = probe.to_mpf(xs[len(xs) // 2]) * A
    q = rnd68(u_mid / mp.expm1(B * u_mid) + u_mid / 2)
    rows = []
    for x, out in zip(xs, outs):
        u = probe.to_mpf(x) * A
        m, e = mp.frexp(u)
        scaled = m * mp.mpf(2) ** 68
        n = mp.floor(scaled)
        placed = {}
        for side, t in (("down", mp.ldexp(n, e - 68)), ("up", mp.ldexp(n + 1, e - 68))):
            ulp, trunc, frac = probe.position(t / rnd68(q - t / 2))
            placed[side] = (frac, abs(probe.to_mpf(out[0])) > trunc * ulp)
        rows.append((float(scaled - n), placed))
    best = None
    for i in range(200):
        tau = i / 200
        pts = [p["up" if f > tau else "down"] for f, p in rows]
        eps, misfits, _ = probe.threshold(pts, band=0.5)
        if best is None or misfits < best[0]:
            best = (misfits, tau, eps)
    return best, float(u_mid / mp.mpf(2) ** mp.floor(mp.log(u_mid, 2)))


def map_neighbourhoods(exponent, count):
    """tau and eps across the binade 2^exponent of x, `count` neighbourhoods."""
    for i in range(count):
        sig = (1 << 63) + (i << 63) // count + 0x123456789
        (misfits, tau, eps), u_sig = neighbourhood_fit((0x3FFF + exponent, sig))
        print(f"x = {sig / 2**63:.4f} * 2^{exponent}  x*A significand {u_sig:.4f}  "
              f"tau {tau:.3f}  eps {eps:+.4f}  misfits {misfits}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: exp2_map.py EXPONENT NEIGHBOURHOODS   (e.g. -30 16)")
    probe.build_probe()
    map_neighbourhoods(int(sys.argv[1]), int(sys.argv[2]))
