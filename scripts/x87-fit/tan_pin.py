"""Measures tan_targets.json: the host's FPTAN P(z) and Q(z), pinned region by region.

tan r = rn68(r * P(z)) / rn68(Q(z)) (structure in tan.py). The smooth error curve of the host
only fixes the ratio P/Q: moving P and Q together along (1 + e1 z + e2 z^2 ...) leaves it
unchanged to far below an ulp, so curve fits (the old tan.py) got the roundings of P and Q
wrong from |r| ~ 2^-9 up. The roundings themselves pin P and Q separately:

* A region is 1600 random arguments in [c, c(1 + 2^-16)]. Within it P(z) and Q(z) are smooth,
  so any error of the model's coefficients acts as one shift dP of P and one dQ of Q before
  they are rounded. Each (dP, dQ) predicts which host results round up; the misfits count the
  in-band arguments no rounding threshold explains (tan_scan.c does this for a grid of shifts).
* The right shift leaves 0..6 misfits of ~1000 (a wrong one ~60). A shift of one whole unit
  of P or Q moves the ratio by 0.044 ulp, which the fitted threshold offset e shows, so e ~ 0
  fixes the integer parts too; the fractional parts are pinned to 1/16 of the 68-bit unit.
* Walking up in z, each region's P(z) + dP and Q(z) + dQ are recorded as targets and the
  coefficients refitted before the next region, so the shifts stay near zero.

The committed targets came from walking 3e-6 <= z <= 0.62 from the old curve-fitted
coefficients. The structure was confirmed on the way: with P and Q pinned (and no other
change) the free fit of q4 came out as 2^-19 to 20 digits, and tan.py now fixes it there;
the inner Horner sums had to be kept exact (rounding them to 68 bits adds misfits from z ~ 0.1);
z, the products, P, Q and the numerator are rounded at 68 bits (66 or 70 fit worse). Above
z ~ 0.4 some 2% of in-band arguments stay unexplained: an effect not modelled yet.

Run: python3 scripts/x87-fit/tan_pin.py --measure [--step 0.04]  (writes tan_targets.json,
about 10 minutes; needs gcc with libquadmath), then python3 scripts/x87-fit/tan.py.
"""

import argparse
import json
import math
import os
import random
import subprocess

import mpmath as mp

import probe
import tan

mp.mp.prec = 300
HELPER = os.path.join(probe.ROOT, "target", "x87-fit", "tan_scan")
ZLO, ZHI = 3e-6, 0.62


def build_helper():
    os.makedirs(os.path.dirname(HELPER), exist_ok=True)
    source = os.path.join(tan.HERE, "tan_scan.c")
    subprocess.run(["gcc", "-O2", "-o", HELPER, source, "-lquadmath"], check=True)


def region(z, count=1600, seed=1):
    """[(x, host tangent)] for `count` random arguments in [c, c(1 + 2^-16)], c = sqrt(z)."""
    rng = random.Random(seed)
    se, sig = probe.from_float(math.sqrt(z))
    xs = [(se, sig + rng.getrandbits(47)) for _ in range(count)]
    outs = probe.host([("fptan", x, (0x3FFF, 1 << 63), probe.NEAREST) for x in xs])
    return [(x, out[1]) for x, out in zip(xs, outs)]


def f80_int(f):
    """An F80 (se, sig) as (sig, exponent): value sig * 2^exponent."""
    se, sig = f
    return sig, (se & 0x7FFF) - 16383 - 63


def coefficient_lines(cs):
    lines = [str(len(cs))]
    for v in cs:
        e = int(mp.floor(mp.log(abs(v), 2))) - 67
        m = int(mp.nint(abs(v) / mp.mpf(2) ** e))
        lines.append(f"{int(v < 0)} {m >> 64} {m & (2**64 - 1)} {e}")
    return lines


def scan(p, q, data, shifts, band=0.2):
    """[(misfits, e, in_band)] per (dP, dQ) shift, in units of 2^-67."""
    lines = coefficient_lines(p) + coefficient_lines(q) + [f"{len(data)} {band}"]
    for x, h in data:
        lines.append("%d %d %d %d" % (f80_int(x) + f80_int(h)))
    lines.append(str(len(shifts)))
    lines += [f"{dp!r} {dq!r}" for dp, dq in shifts]
    out = subprocess.run([HELPER], input="\n".join(lines) + "\n", capture_output=True,
                         text=True, check=True).stdout.split()
    return [(int(out[i]), float(out[i + 1]), int(out[i + 2])) for i in range(0, len(out), 3)]


def pin(p, q, z, width=1.5):
    """The (dP, dQ, misfits, e) that explain region z best, or None if none is clean: among
    shifts with |e| < 0.005 and misfits within 2 of the fewest, the one nearest no shift; none
    if that leaves over 3% of the in-band arguments unexplained (a wrong shift leaves ~6%)."""
    grid = [(i / 16, (i + j) / 16) for i in range(int(-16 * width), int(16 * width) + 1)
            for j in range(-16, 17)]
    res = scan(p, q, region(z), grid)
    clean = [(r, s) for r, s in zip(res, grid) if abs(r[1]) < 0.005]
    if not clean:
        return None
    fewest = min(r[0] for r, _ in clean)
    (m, e, n), (dp, dq) = min(((r, s) for r, s in clean if r[0] <= fewest + 2),
                              key=lambda rs: (abs(rs[1][0]) + abs(rs[1][1]), rs[0][0]))
    if max(abs(dp), abs(dq)) > width - 0.25 or m > 0.03 * n:
        return None
    return dp, dq, m, e


def refit(start, targets, key, zmax):
    """start's coefficients 1..4 corrected to the targets' `key` values (least squares, each
    target 0.04 units; a faint pull towards `start` for coefficients the data do not reach)."""
    rows, rhs = [], []
    for t in targets:
        z = mp.mpf(t["z"])
        rows.append([z**j / 0.04 for j in range(1, 5)])
        rhs.append((mp.mpf(t[key]) - tan.poly(start, z)) / tan.UNIT / 0.04)
    for j in range(1, 5):
        rows.append([(2 * mp.mpf(zmax)) ** j / mp.mpf(1e9) if k == j else 0 for k in range(1, 5)])
        rhs.append(0)
    d = tan.solve(rows, rhs)
    return [start[0]] + [tan.r68(start[j] + d[j - 1] * tan.UNIT) for j in range(1, 5)]


def measure(step):
    build_helper()
    probe.build_probe()
    start_p, start_q, _ = tan.coefficients()
    p, q, targets, z = start_p, start_q, [], ZLO
    while z <= ZHI:
        found = pin(p, q, z)
        if found is None:
            print(f"z = {z:.5g}: no clean shift, skipped", flush=True)
        else:
            dp, dq, m, e = found
            targets.append({"z": z, "P": mp.nstr(tan.poly(p, z) + dp * tan.UNIT, 60),
                            "Q": mp.nstr(tan.poly(q, z) + dq * tan.UNIT, 60), "misfits": m})
            p = refit(start_p, targets, "P", z)
            q = refit(start_q, targets, "Q", z)
            print(f"z = {z:.5g}: dP {dp:+.4f} dQ {dq:+.4f} misfits {m} e {e:+.4f}", flush=True)
        z *= 1 + step
    with open(tan.TARGETS, "w") as f:
        json.dump(targets, f, indent=0)
    print(f"wrote {len(targets)} targets to {tan.TARGETS}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--measure", action="store_true", help="re-measure tan_targets.json")
    ap.add_argument("--step", type=float, default=0.04, help="relative step in z")
    args = ap.parse_args()
    if not args.measure:
        ap.error("nothing to do without --measure (tan.py writes tan.rs from the targets)")
    measure(args.step)
