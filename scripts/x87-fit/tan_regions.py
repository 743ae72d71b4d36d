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

Run: python3 scripts/x87-fit/tan_regions.py LOW HIGH N  (N regions spaced geometrically;
under a second a region)
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


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: tan_regions.py LOW HIGH N   (e.g. 0.0005 0.05 30)")
    low, high, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    probe.build_probe()
    p, q = fitted_coefficients()

    def model(x):
        return tan_structure.model(x, p, q)

    for i in range(n):
        c = low * (high / low) ** (i / n)
        m = region(c, model)
        x = region(c, mp.tan)
        print(f"c = {c:.7f}  model: e {m[0]:+.4f} misfits {m[1]:3}/{m[2]}   "
              f"exact: e {x[0]:+.4f} misfits {x[1]:3}/{x[2]}", flush=True)
