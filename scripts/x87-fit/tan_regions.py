"""Where the FPTAN model stops following the host's rounding noise: a measurement, writes nothing.

For a region [c, c(1 + 2^-16)] it takes 1200 random arguments. Their tangents fall at random
positions between 64-bit neighbours, unlike consecutive arguments, whose tangents keep nearly
the same position when x is small. It then fits the host's rounding threshold against a
reference value, as probe.threshold does. The fit gives:

* e, the smooth error of the host against the reference, in ulps; and
* misfits, the in-band arguments no single threshold explains. This is per-argument rounding
  noise that the reference does not reproduce.

Reference "model" is the emulator's rational (tan_structure.model with the coefficients of
cpu/src/fpu/fit/tan.rs). Reference "exact" is the true tangent.

Measured on the AMD EPYC host (misfits of ~480 in-band arguments):

| c         | 0.0005 .. 0.0017 | 0.00199 | 0.0023 | 0.0027 | 0.0037 .. 0.05 |
|-----------|------------------|---------|--------|--------|----------------|
| model     | 1 .. 6           | 13      | 28     | 52     | 17 .. 55       |
| exact     | 15 .. 42         |         |        | 33     | 20 .. 42       |

So below ~2^-9.2 the model reproduces the host's noise as well as the sampling resolves.
From 2^-9 it stops doing so within half a binade, and it ends up no better than the exact
value. These do not explain that onset (each leaves the misfits where they are):

* z = x^2 rounded to 44..68 bits, to nearest or down;
* shifting p1 (with q1) by 1e-15 to 1e-9;
* forming the result as x + (tan x - x) rounded;
* P or Q left unrounded, or each formed as its constant plus a separately rounded tail.
  Below 2^-9 all of these fit worse than the model (13 to 20 misfits against 2 to 7).

What does help is moving the higher coefficients of P and Q together, along the direction
that leaves P/Q and so the error curve unchanged. That direction is invisible to the curve fit
behind tan.rs, but not to the 68-bit roundings of P and Q. On 8 regions from 0.0013 to 0.006
(800 arguments each, misfits summed):

* the fitted coefficients give 180 (the exact tangent 173);
* p2 and q2 both + 1e-10 give 2 at 0.0027 and 4 at 1.2 * 2^-9, but 23 at 0.97 * 2^-9;
* p2, q2 both - 2e-11 with p3, q3 both + 1.75e-5 give 78 (0 at 0.97 * 2^-9).

The best shift grows with x, so p3 and then p4 take part. The coefficients above p1 are
therefore off along that direction, and they can be pinned region by region, as exp2.py's
narrow() pins F2XM1's. That is not done yet.

Within one region z hardly changes, so a tied shift of p2..p4 with q2..q4 acts there as one
shift delta added to both P and Q. `--delta` scans delta per region, in 1/16 of P's 68-bit
unit around a guess, and prints the values with the fewest misfits (0 to 3 of ~480 on the
host). Measured (units of P's ulp, 2^-67): 0.06, 0.75, 2.0, 5 (or 4.75/5.75), 19.4 (or 12.4),
39.6, 166.7, 495 (or 502), 1593.3 and 9930 at z = 3.6e-6 .. 2.25e-4. A cubic
4.8e-11 z^2 + 5.7e-6 z^3 (the guess) fits them to a few units, not to the ~0.1 each is
measured to. Pinning that curve is the next step.

Run: python3 scripts/x87-fit/tan_regions.py LOW HIGH N  (N regions spaced geometrically;
under a second a region), or add --delta (about 15 s a region).
"""

import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
import probe  # noqa: E402
import tan_structure  # noqa: E402
import mpmath as mp  # noqa: E402

mp.mp.prec = 200
FIT = os.path.join(probe.ROOT, "cpu", "src", "fpu", "fit", "tan.rs")


def fitted_coefficients():
    """P and Q as written to fit/tan.rs by tan.py (each one's 25-digit comment)."""
    text = open(FIT).read()
    p = [mp.mpf(v) for v in re.findall(r"// p\d: (\S+)", text)]
    q = [mp.mpf(v) for v in re.findall(r"// q\d: (\S+)", text)]
    return p, q


def region(c, reference, count=1200, seed=1):
    """(e, misfits, in-band points) of the host against `reference(x)` on [c, c(1 + 2^-16)]."""
    rng = random.Random(seed)
    se, sig = probe.from_float(c)
    xs = [(se, sig + rng.getrandbits(47)) for _ in range(count)]
    outs = probe.host([("fptan", x, (0x3FFF, 1 << 63), probe.NEAREST) for x in xs])
    points = []
    for x, out in zip(xs, outs):
        ulp, trunc, frac = probe.position(reference(probe.to_mpf(x)))
        if abs(frac - 0.5) <= 0.2:
            points.append((frac, probe.to_mpf(out[1]) > trunc * ulp))
    return probe.threshold(points, band=0.2)


def delta_scan(c, p, q, count=800, seed=1, half_width=10):
    """The shifts delta (in units of 2^-67) added to both P and Q that leave the fewest misfits
    on the region at c, searched around the cubic guess of the doc: (misfits, [delta])."""
    rng = random.Random(seed)
    se, sig = probe.from_float(c)
    xs = [(se, sig + rng.getrandbits(47)) for _ in range(count)]
    outs = probe.host([("fptan", x, (0x3FFF, 1 << 63), probe.NEAREST) for x in xs])
    r68 = tan_structure.r68
    rows = []
    for x, out in zip(xs, outs):
        xv = probe.to_mpf(x)
        z = r68(xv * xv)
        big_p = sum(k * z**i for i, k in enumerate(p))
        big_q = sum(k * z**i for i, k in enumerate(q))
        rows.append((xv, big_p, big_q, probe.to_mpf(out[1])))
    unit = mp.mpf(2) ** -67
    z = mp.mpf(c) ** 2
    guess = int(mp.nint((mp.mpf("4.8e-11") * z**2 + mp.mpf("5.7e-6") * z**3) / unit * 16))
    best, where = None, []
    for i in range(guess - 16 * half_width, guess + 16 * half_width + 1):
        delta = i * unit / 16
        points = []
        for xv, big_p, big_q, host in rows:
            v = r68(xv * r68(big_p + delta)) / r68(big_q + delta)
            ulp, trunc, frac = probe.position(v)
            if abs(frac - 0.5) <= 0.2:
                points.append((frac, host > trunc * ulp))
        e, misfits, _ = probe.threshold(points, band=0.2)
        if abs(e) >= 0.1:
            continue  # a shift that moves the curve, not a fit
        if best is None or misfits < best:
            best, where = misfits, [i / 16]
        elif misfits == best:
            where.append(i / 16)
    return best, where


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--delta"]
    if len(args) != 3:
        sys.exit("usage: tan_regions.py LOW HIGH N [--delta]   (e.g. 0.0005 0.05 30)")
    low, high, n = float(args[0]), float(args[1]), int(args[2])
    probe.build_probe()
    p, q = fitted_coefficients()
    if "--delta" in sys.argv:
        for i in range(n):
            c = low * (high / low) ** (i / n)
            misfits, where = delta_scan(c, p, q)
            print(f"c = {c:.7f}  z = {c * c:.3e}  fewest misfits {misfits} at delta/2^-67 in "
                  f"{where[:6]}", flush=True)
        sys.exit(0)

    def model(x):
        return tan_structure.model(x, p, q)

    for i in range(n):
        c = low * (high / low) ** (i / n)
        m = region(c, model)
        x = region(c, mp.tan)
        print(f"c = {c:.7f}  model: e {m[0]:+.4f} misfits {m[1]:3}/{m[2]}   "
              f"exact: e {x[0]:+.4f} misfits {x[1]:3}/{x[2]}", flush=True)
