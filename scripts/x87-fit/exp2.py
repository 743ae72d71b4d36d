"""Checks the reference hardware's F2XM1 model against the host and writes
cpu/src/fpu/fit/exp2.rs (`python3 scripts/x87-fit/exp2.py`; about a minute).

The host evaluates 2^x - 1 in the Cody-Waite form of e^y - 1: with O/E = tanh(x ln2 / 2),
O odd and E even in x,

    2^x - 1 = 2 O / (E - O).

What each step is, all measured on the host (each intermediate rounded to nearest at 68 bits):

    R = A/2 + R1 x^2 + R2 x^4, rounded (A from exp2_structure.py, 68 bits; A/2 is R at x = 0)
    O = x * R, rounded                 (for tiny x this is t/2, t = x * A rounded: the
                                        structure exp2_structure.py found first)
    E = C0 + (x * R_exact / tanh(x ln2 / 2) - A / ln2), rounded
                                       (C0 = 1/B rounded to 68 bits, B = ln2 / A; E on a
                                        2^-66 grid; R_exact is R before rounding)
    D = E - O, rounded
    2^x - 1 = 2 O / D, rounded once under the control word.

R1 and R2 are measured by `fit()`, binade by binade: each binade's host results pin R's
rounding steps, so a window of candidates is narrowed as the arguments grow: R1 to ~4e-14 by
2^-16, R2 (which shows only from there) to ~4% by 2^-14 (`python3 exp2.py --fit` reruns it in
~2 minutes and prints R1 = 0.0141900590179213, R2 = 3.95e-5).
E is the function that makes O/E exactly tanh(x ln2/2) for this R, with the constant term
C0 (the host's; A/ln2 misses ~0.1 of E's grid and fits worse). This holds to the host's last bit for |x| < 2^-13 (`check()` prints the
mismatches per binade against those of the correctly rounded value); SMALL_LIMIT records the
boundary. Beyond it R2's exact value, R's next coefficient and E's own polynomial (its
deviation from the tanh-consistent function) are not measured yet: from 2^-13 the misses
return towards the ~3% of the correctly rounded value (R2 narrowed further, on its own, does
not bring 2^-13 below ~1.5%).

How R showed itself: with R taken as A/2 (so O = t/2), neighbourhoods of consecutive
arguments above 2^-33 fit the host exactly only if t rounds up at a threshold other than 1/2,
a threshold that falls steadily with x and jumps back each time R's rounding steps up by one
unit (x * (R - A/2) is the addend that moves it). The spacing of those jumps gave R1's size.
"""

import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import probe  # noqa: E402
import exp2_structure as structure  # noqa: E402
import mpmath as mp  # noqa: E402

mp.mp.prec = 300
A, B, LN2 = structure.A, structure.B, structure.LN2
C0 = structure.rnd68(1 / B)
A_OVER_LN2 = A / LN2
# R's coefficients of x^2 and x^4, as fit() measures them.
R1 = mp.mpf("0.0141900590179213")
R2 = mp.mpf("3.95e-5")
# The model holds for |x| < 2^SMALL_LIMIT.
SMALL_LIMIT = -13
OUT = os.path.join(probe.ROOT, "cpu", "src", "fpu", "fit", "exp2.rs")


def model(x, r1=None, r2=None):
    """The host's value of 2^x - 1 before the final rounding, for |x| < 2^SMALL_LIMIT."""
    rnd68 = structure.rnd68
    w = x * x
    r_exact = A / 2 + (R1 if r1 is None else r1) * w + (R2 if r2 is None else r2) * w * w
    o = rnd68(x * rnd68(r_exact))
    e = rnd68(C0 + (x * r_exact / mp.tanh(x * LN2 / 2) - A_OVER_LN2))
    return 2 * o / rnd68(e - o)


def host_bands(ks, per_band, seed):
    """{k: [(x, host result)]}: random arguments of both signs in each binade 2^k."""
    rng = random.Random(seed)
    bands = {}
    for k in ks:
        xs = [
            ((rng.getrandbits(1) << 15) | (0x3FFF + k), rng.getrandbits(63) | 1 << 63)
            for _ in range(per_band)
        ]
        outs = probe.host([("f2xm1", x, (0x3FFF, 1 << 63), probe.NEAREST) for x in xs])
        bands[k] = [(probe.to_mpf(x), probe.to_mpf(o[0])) for x, o in zip(xs, outs)]
    return bands


def narrow(name, evaluate, bands, lo, hi, tops, coarse_until):
    """Narrows [lo, hi] for one coefficient binade by binade: at each top binade, keeps the
    candidates (41 across the window) with the fewest mismatches over it and the two below.
    `evaluate(x, c)` is the model with candidate c; steps up to `coarse_until` use 100 cases a
    binade, later ones all."""
    for top in tops:
        ks = [top - 2, top - 1, top]
        n = 100 if top < coarse_until else len(bands[top])
        grid = [lo + (hi - lo) * i / 40 for i in range(41)]
        scores = [
            (sum(structure.nearest(evaluate(x, c)) != got for k in ks for x, got in bands[k][:n]), c)
            for c in grid
        ]
        best = min(s for s, _ in scores)
        good = [c for s, c in scores if s == best]
        step = (hi - lo) / 40
        lo, hi = min(good) - step, max(good) + step
        print(f"binades 2^{top - 2}..2^{top}: {best} mismatches, {name} in "
              f"[{mp.nstr(lo, 15)}, {mp.nstr(hi, 15)}]", flush=True)
    return (lo + hi) / 2


def fit(per_band=600, seed=13):
    """R1 and R2 from the host. R1 shows from 2^-30: a coarse window there, narrowed up to
    2^-16 (R2 is invisible below 2^-16). R2 then shows in 2^-16..2^-14."""
    bands = host_bands(range(-31, SMALL_LIMIT), per_band, seed)
    r1 = narrow("R1", lambda x, c: model(x, c, 0), bands, mp.mpf(0), mp.mpf("0.03"),
                range(-29, -15), -22)
    r2 = narrow("R2", lambda x, c: model(x, r1, c), bands, mp.mpf(0), mp.mpf("1e-4"),
                range(-16, SMALL_LIMIT), -100)
    return r1, r2


def check(per_band=1000, seed=21):
    """Mismatches (round to nearest) of the model and of the exact value per binade."""
    rng = random.Random(seed)
    total = [0, 0, 0]
    for k in (14, 15, 16, 17, 18, 20, 22, 24, 26, 28, 30, 31, 32, 33, 34, 36, 40, 50, 70, 100):
        xs = [
            ((rng.getrandbits(1) << 15) | (0x3FFF - k), rng.getrandbits(63) | 1 << 63)
            for _ in range(per_band)
        ]
        outs = probe.host([("f2xm1", x, (0x3FFF, 1 << 63), probe.NEAREST) for x in xs])
        bad_model = bad_exact = 0
        for x, out in zip(xs, outs):
            xv = probe.to_mpf(x)
            got = probe.to_mpf(out[0])
            bad_model += structure.nearest(model(xv)) != got
            bad_exact += structure.nearest(mp.expm1(xv * LN2)) != got
        print(f"|x| in [2^-{k}, 2^-{k - 1}): model {bad_model:3}  exact {bad_exact:3}  / {per_band}")
        total[0] += bad_model
        total[1] += bad_exact
        total[2] += per_band
    return total


def wide(v):
    """(neg, exp, m) of the Wide nearest v: v = m * 2^(exp - 127), m with bit 127 set."""
    neg = v < 0
    v = abs(v)
    e = int(mp.floor(mp.log(v, 2)))
    m = int(mp.nint(v * mp.mpf(2) ** (127 - e)))
    if m >> 128:
        m >>= 1
        e += 1
    return neg, e, m


def rust_wide(name, v, doc):
    neg, e, m = wide(v)
    assert mp.mpf(m) * mp.mpf(2) ** (e - 127) == v or name in ("A_OVER_LN2", "R1", "R2"), name
    digits = f"{m:032X}"
    grouped = "_".join(digits[i : i + 4] for i in range(0, 32, 4))
    return (
        f"/// {doc}: {mp.nstr(v, 25)}.\npub const {name}: Wide = Wide {{\n"
        f"    neg: {str(neg).lower()},\n    exp: {e},\n    m: 0x{grouped},\n}};\n"
    )


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def write():
    text = [
        f"//! generated by scripts/x87-fit/exp2.py on {cpu_model()}; do not edit.\n",
        "//!\n",
        "//! The reference hardware's F2XM1 for |x| < 2^[`SMALL_LIMIT`] (see the script's doc):\n",
        "//! 2^x − 1 = 2·O/(E − O) with, each rounded to nearest at [`INTERNAL_BITS`] bits,\n",
        "//! R = [`A`]/2 + [`R1`]·x² + [`R2`]·x⁴, O = x·R and\n",
        "//! E = [`C0`] + x·R/tanh(x·ln2/2) − [`A_OVER_LN2`]\n",
        "//! (R unrounded there), then D = E − O; the quotient is rounded once.\n\n",
        "use super::super::wide::Wide;\n\n",
        "/// Significant bits of the hardware's intermediate values.\n",
        "pub const INTERNAL_BITS: u32 = 68;\n\n",
        "/// The model holds for |x| < 2^SMALL_LIMIT.\n",
        f"pub const SMALL_LIMIT: i32 = {SMALL_LIMIT};\n\n",
        rust_wide("A", A, "The scale of the argument, 68 bits (A·B ≈ ln 2)"),
        "\n",
        rust_wide("R1", R1, "R's coefficient of x², measured"),
        "\n",
        rust_wide("R2", R2, "R's coefficient of x⁴, measured"),
        "\n",
        rust_wide("C0", C0, "1/B rounded to 68 bits, B = ln2/A: E's constant term"),
        "\n",
        rust_wide("A_OVER_LN2", A_OVER_LN2, "A/ln 2, E's constant term were it exact"),
    ]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write("".join(text))
    subprocess.run(["rustfmt", "--edition", "2021", OUT], check=True)


if __name__ == "__main__":
    try:
        probe.build_probe()
    except subprocess.CalledProcessError:
        # The crate may not build against a stale generated file; the probe only runs the host.
        if not os.path.exists(probe.PROBE):
            raise
        print("cargo build failed; using the existing x87_probe")
    if "--fit" in sys.argv:
        r1, r2 = fit()
        print(f"R1 = {mp.nstr(r1, 15)}, R2 = {mp.nstr(r2, 6)}")
        sys.exit(0)
    bad_model, bad_exact, n = check()
    print(f"all: model {bad_model}, exact {bad_exact} mismatches in {n}")
    if bad_model * 4 > bad_exact:
        sys.exit("the model no longer fits the host better than the exact value; not writing")
    write()
    print(f"wrote {OUT}")
