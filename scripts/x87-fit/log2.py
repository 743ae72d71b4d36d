"""Fits the reference hardware's log2 (FYL2X, FYL2XP1) and writes cpu/src/fpu/fit/log2.rs.

What the measurements show (host: AMD Zen):
- The result is round(y * L) in the control word's rounding mode, where L is log2(x) (or
  log2(1 + x)) held with 68 significant bits: with x fixed and many y, every result is
  consistent with one such L, and L always lies on the 68-bit grid. L does not depend on y.
- L is computed as follows, every step rounded to nearest at 68 bits (written rn):
  x = 2^k * m with m in [sqrt(2)/2, sqrt(2)), s = rn((m - 1) / (m + 1));
  for FYL2XP1, k = 0 and s = rn(x / rn(2 + x));
  p = rn(s * 2C) with C = log2(e) rounded to 68 bits (x * C alone is seen for tiny x);
  corr = rn(s^3 * R(s^2)), the rest of 2 atanh(s) / ln 2 by a polynomial R of degree 9;
  L = rn(rn(k + p) + corr) (rn(p + corr) when k = 0).
- The polynomial's error (relative to the exact rest) is a smooth odd curve of up to
  ~3 * 2^-72 at |s| = 0.17. This script measures it: near each s it runs ~100 neighbouring
  arguments, recovers each one's L from 200 values of y, and intersects the intervals the
  model allows for corr. R is then the least-squares fit of the measured corr.

Rerun: python3 scripts/x87-fit/log2.py (builds the probe; about two minutes).
"""

import os
import random
import subprocess
from fractions import Fraction

import mpmath as mp

import probe

mp.mp.prec = 300
BITS = 68
DEGREE = 9
OUT = os.path.join(probe.ROOT, "cpu", "src", "fpu", "fit", "log2.rs")


def rn(v, bits=BITS):
    """v rounded to nearest (even) with `bits` significant bits."""
    if v == 0:
        return v
    e = int(mp.floor(mp.log(abs(v), 2)))
    u = mp.mpf(2) ** (e - bits + 1)
    q = v / u
    if abs(q) >= mp.mpf(2) ** bits:
        u *= 2
        q = v / u
    return mp.nint(q) * u


def frac(f):
    """An F80 (se, sig) as an exact Fraction."""
    se, sig = f
    v = Fraction(sig) * Fraction(2) ** (max(se & 0x7FFF, 1) - 16383 - 63)
    return -v if se & 0x8000 else v


def host_log(op, x, count=200, seed=1):
    """The host's internal L for operand x: the point of the 68-bit grid consistent with
    round-to-nearest(y * L) for `count` random y in [1, 2), or None if the results do not
    pin one down."""
    rnd = random.Random(seed)
    ys = [(0x3FFF, rnd.getrandbits(63) | 1 << 63) for _ in range(count)]
    outs = probe.host([(op, x, y, probe.NEAREST) for y in ys])
    lo = hi = None
    for y, (r, _, _) in zip(ys, outs):
        if r[1] == 1 << 63:  # at a binade's bottom the ulp below is half: skip
            continue
        ulp = Fraction(2) ** (max(r[0] & 0x7FFF, 1) - 16383 - 63)
        a, b = (frac(r) - ulp / 2) / frac(y), (frac(r) + ulp / 2) / frac(y)
        a, b = min(a, b), max(a, b)
        lo = a if lo is None else max(lo, a)
        hi = b if hi is None else min(hi, b)
    mid = (lo + hi) / 2
    e = int(mp.floor(mp.log(abs(mp.mpf(mid.numerator) / mid.denominator), 2)))
    unit = Fraction(2) ** (e - BITS + 1)
    g = round(mid / unit) * unit
    if hi - lo > unit / 2 or not lo - unit / 8 <= g <= hi + unit / 8:
        return None
    return mp.mpf(g.numerator) / g.denominator


C = rn(1 / mp.log(2))


def split(op, xv):
    """(k, s) for an operand (mpf), as the hardware reduces it."""
    if op == "fyl2xp1":
        return 0, rn(xv / rn(2 + xv))
    k = int(mp.floor(mp.log(xv, 2)))
    m = xv / mp.mpf(2) ** k
    if m > mp.sqrt(2):
        m, k = m / 2, k + 1
    return k, rn((m - 1) / (m + 1))


def exact_rest(s):
    """2 atanh(s) / ln 2 - s * 2C: what corr approximates."""
    return 2 * mp.atanh(s) / mp.log(2) - s * 2 * C


def check_constant():
    """Tiny x: L = rn(x * C) exactly; returns the interval of C the host allows."""
    rnd = random.Random(11)
    lo, hi = -mp.inf, mp.inf
    for _ in range(40):
        x = (0x3FA0, rnd.getrandbits(63) | 1 << 63)
        g = host_log("fyl2xp1", x)
        if g is None:
            continue
        xv = probe.to_mpf(x)
        u = mp.mpf(2) ** (int(mp.floor(mp.log(g, 2))) - BITS + 1)
        lo, hi = max(lo, (g - u / 2) / xv), min(hi, (g + u / 2) / xv)
    return lo, hi


def rest_error_at(s_target, count=100, stride=1 << 24):
    """The host's corr minus the exact rest near s (FYL2X with k = 0), in units of 2^-72:
    the midpoint of the intersection of the intervals allowed by `count` neighbours."""
    x0 = probe.from_float((1 + mp.mpf(s_target)) / (1 - mp.mpf(s_target)))
    lo, hi = -mp.inf, mp.inf
    for i in range(count):
        x = (x0[0], x0[1] + i * stride)
        g = host_log("fyl2x", x)
        if g is None:
            continue
        k, s = split("fyl2x", probe.to_mpf(x))
        if k != 0:
            continue
        p = rn(s * 2 * C)
        u = mp.mpf(2) ** (int(mp.floor(mp.log(abs(g), 2))) - BITS + 1)
        rest = exact_rest(s)
        lo, hi = max(lo, g - u / 2 - p - rest), min(hi, g + u / 2 - p - rest)
    unit = mp.mpf(2) ** -72
    return lo / unit, hi / unit


def fit(points):
    """Least-squares R (degree DEGREE in z = s^2) with s^3 R(s^2) = exact rest + error."""
    unit = mp.mpf(2) ** -72
    rows, rhs = [], []
    for s, e in points:
        rows.append([s**3 * (s * s) ** j / unit for j in range(DEGREE + 1)])
        rhs.append((exact_rest(s) + e * unit) / unit)
    coef, _ = mp.qr_solve(mp.matrix(rows), mp.matrix(rhs))
    resid = [float((mp.matrix(rows) * coef)[i] - rhs[i]) for i in range(len(rows))]
    return [coef[j] for j in range(DEGREE + 1)], resid


def model(op, xv, r):
    k, s = split(op, xv)
    if s == 0:
        return mp.mpf(k)
    z = s * s
    acc = mp.mpf(0)
    for c in reversed(r):
        acc = acc * z + c
    p, corr = rn(s * 2 * C), rn(s**3 * acc)
    return rn(rn(k + p) + corr) if k != 0 else rn(p + corr)


def validate(r, n=3000):
    """Share of random (x, y, rounding control) cases where the model's result is the host's."""
    modes = {0: mp.nint, 1: mp.floor, 2: mp.ceil, 3: lambda q: mp.floor(q) if q > 0 else mp.ceil(q)}
    rnd = random.Random(21)
    rates = {}
    for op in ("fyl2x", "fyl2xp1"):
        cases = []
        for _ in range(n):
            sig = rnd.getrandbits(64) | 1 << 63
            if op == "fyl2x":
                x = (0x3FFF + rnd.randrange(200) - 100, sig)
            else:
                x = (rnd.randrange(2) << 15 | (0x3FFC - rnd.randrange(70)), sig)
            y = (rnd.randrange(2) << 15 | (0x3FFF + rnd.randrange(40) - 20), rnd.getrandbits(64) | 1 << 63)
            cases.append((x, y, rnd.randrange(4)))
        outs = probe.host([(op, x, y, 0x037F | rc << 10) for x, y, rc in cases])
        good = 0
        for (x, y, rc), out in zip(cases, outs):
            v = probe.to_mpf(y) * model(op, probe.to_mpf(x), r)
            e = int(mp.floor(mp.log(abs(v), 2)))
            u = mp.mpf(2) ** (e - 63)
            good += modes[rc](v / u) * u == probe.to_mpf(out[0])
        rates[op] = good / n
    return rates


def rust_wide(name, v, doc):
    return f"/// {doc}\npub const {name}: Wide = {probe.wide_literal(v)};\n"


def main():
    probe.build_probe()
    lo, hi = check_constant()
    span = mp.mpf(2) ** -68
    print(f"C (tiny x): log2(e) + [{float((lo - 1 / mp.log(2)) / span):+.3f}, "
          f"{float((hi - 1 / mp.log(2)) / span):+.3f}] x 2^-68; "
          f"rn68(log2 e) is at {float((C - 1 / mp.log(2)) / span):+.3f}")
    if not lo <= C <= hi:
        raise SystemExit("the host's constant is not log2(e) rounded to 68 bits")
    points = []
    for i in range(-34, 35):
        if i == 0:
            continue
        s = mp.mpf(i) / 200
        a, b = rest_error_at(s)
        if abs(a - b) > 0.5:  # too few neighbours pinned it down
            continue
        points.append((s, (a + b) / 2))
        print(f"s = {float(s):+.3f}: corr error {float((a + b) / 2):+.3f} x 2^-72 (+-{float(abs(a - b) / 2):.3f})", flush=True)
    r, resid = fit(points)
    rms = (sum(x * x for x in resid) / len(resid)) ** 0.5
    print(f"degree {DEGREE} fit: rms residual {rms:.4f}, max {max(map(abs, resid)):.4f} x 2^-72")
    rates = validate(r)
    print("model vs host, random cases, all rounding controls: "
          + ", ".join(f"{op} {100 * v:.2f}%" for op, v in rates.items()))
    text = [
        f"//! generated by scripts/x87-fit/log2.py on {probe.cpu_model()}; do not edit.\n",
        "//!\n//! The reference hardware's log2 for FYL2X and FYL2XP1 (see the script's doc): every\n",
        "//! step is rounded to nearest at [`INTERNAL_BITS`] bits; with s = (m − 1)/(m + 1),\n",
        "//! log2 = s·[`TWO_LOG2E`] + s³·R(s²), R's coefficients [`REST`] fitted to the host\n",
        f"//! (rms residual {rms:.3f} × 2^-72).\n\n",
        "use super::super::wide::Wide;\n\n",
        "/// Significant bits of the hardware's intermediate values.\n",
        f"pub const INTERNAL_BITS: u32 = {BITS};\n\n",
        rust_wide("TWO_LOG2E", 2 * C, f"2·log2(e) rounded to {BITS} bits: {mp.nstr(2 * C, 25)}."),
        f"\n/// R(z) = Σ REST[j]·z^j (degree {DEGREE}).\npub const REST: [Wide; {DEGREE + 1}] = [\n",
    ]
    for c in r:
        text.append(f"    // {mp.nstr(c, 25)}\n    {probe.wide_literal(c, '    ')},\n")
    text.append("];\n")
    with open(OUT, "w") as f:
        f.write("".join(text))
    subprocess.run(["rustfmt", "--edition", "2021", OUT], check=False)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
