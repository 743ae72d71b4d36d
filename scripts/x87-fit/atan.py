"""Measures the host's FPATAN and writes cpu/src/fpu/fit/atan.rs (run: python3 scripts/x87-fit/atan.py).

What the measurements show (AMD Zen):

* The host divides the smaller magnitude by the larger one and rounds the quotient u to 68 bits
  (nearest), then evaluates atan(u) to well beyond 68 bits: with x > 0 and |y| <= |x| the host's
  result is the final rounding of atan(RN68(u)) itself for every u below about 2^-7 (all of
  thousands of cases, C1 included), and within ~0.03 ulp above.
* Above 2^-7 that arctangent carries a relative error R(u) of about +-0.01 x 2^-64 that
  oscillates smoothly (zeros roughly every 0.08 in u up to u = 0.8, a step up near 0.82, a
  little rounding noise that grows with u). It is fitted as a Chebyshev series of degree 24 in
  2u - 1; the fit leaves 0.002 (u < 0.4) to 0.006 (u > 0.6) units of 2^-64.
* The other octants add or subtract that angle to pi or pi/2 rounded to 68 bits (nearest):
  pi68 - atan, pi68/2 - atan, pi68/2 + atan. For small u those reproduce the host exactly; the
  host's value is the exact sum (no rounding before the final one), except that
  pi68/2 - atan(u) below 1 (u > tan(pi/2 - 1)) is first rounded to 68 bits and then to 64 with
  ties to even, an exact second rounding still raising PE and reporting the direction of the
  first in C1.
* On top of that the three sums carry a smooth error E(u) of about +0.05 u units of 2^-64,
  fitted as c1 u + c2 u^2.

E is measured through C1: around a point u, for many neighbouring operand pairs, the host's C1
says on which side of its returned value its internal value lay; the model value minus the
returned value, in ulps, crosses the best threshold where the host's internal value equals the
returned one, which gives E there with no rounding noise (probe.threshold does the same for the
rounding direction).
"""

import os
import random
import sys

import mpmath as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probe  # noqa: E402

mp.mp.prec = 256
TWO64 = mp.mpf(2) ** 64
OUT = os.path.join(probe.ROOT, "cpu", "src", "fpu", "fit", "atan.rs")


def rn(v, bits):
    """v rounded to `bits` significant bits, to nearest (ties cannot occur for quotients)."""
    if v == 0:
        return v
    e = int(mp.floor(mp.log(abs(v), 2)))
    step = mp.mpf(2) ** (e - bits + 1)
    if abs(v) / step >= mp.mpf(2) ** bits:
        step *= 2
    return mp.nint(v / step) * step


PI68 = rn(mp.pi, 68)
OCTANTS = {
    # name: (x sign, |y| > |x|, base, sign of atan)
    "first": (0, False, mp.mpf(0), 1),
    "half_pi_minus": (0, True, PI68 / 2, -1),
    "pi_minus": (1, False, PI68, -1),
    "half_pi_plus": (1, True, PI68 / 2, 1),
}


KERNEL_DEGREE = 24


def chebyshev(coeffs, u):
    """sum c_k T_k(2u - 1)."""
    x = 2 * u - 1
    return sum(c * mp.chebyt(k, x) for k, c in enumerate(coeffs))


def kernel(u, coeffs):
    """The host's atan of the 68-bit ratio: atan u68 × (1 + R(u68) 2^-64), R a Chebyshev series
    (no error when `coeffs` is empty)."""
    u68 = rn(u, 68)
    return mp.atan(u68) + (u68 * chebyshev(coeffs, u68) / TWO64 if coeffs else 0)


def model(base, sign, u, coeffs):
    """The host's value without the octant's own smooth error, for the reduced ratio u."""
    return base + sign * kernel(u, coeffs)


def operands(u, xsign, swap, rng, spread=30):
    """An operand pair (ST(0), ST(1)) with reduced ratio u (to 2^-34 relative)."""
    xs = rng.getrandbits(64) | 1 << 63
    big = mp.mpf(xs) / 2**63
    small = probe.from_float(big * u * (1 + mp.mpf(rng.getrandbits(spread)) / TWO64))
    if swap:
        return (small[0] | xsign << 15, small[1]), (0x3FFF, xs)
    return (0x3FFF | xsign << 15, xs), small


def threshold_below(points):
    """Best split of [(d, internal_below_returned)]: internal < returned exactly when d < t.
    Returns (t, misfits, n)."""
    pts = sorted(points)
    errors = sum(1 for p in pts if p[1])  # split before everything: all "below" misfit
    best = (errors, pts[0][0] - 1e-3 if pts else 0.0)
    for i, (d, below) in enumerate(pts):
        errors += -1 if below else 1
        nxt = pts[i + 1][0] if i + 1 < len(pts) else d + 2e-3
        if errors < best[0]:
            best = (errors, (d + nxt) / 2)
    return best[1], best[0], len(pts)


def measure(name, us, count, seed, coeffs):
    """E(u) in units of 2^-64 at each u: [(u, E, misfits, points)]."""
    xsign, swap, base, sign = OCTANTS[name]
    rng = random.Random(seed)
    groups = [[operands(mp.mpf(u), xsign, swap, rng) for _ in range(count)] for u in us]
    cases = [("fpatan", x, y, probe.NEAREST) for g in groups for x, y in g]
    outs = iter(probe.host(cases))
    res = []
    for u, g in zip(us, groups):
        pts = []
        ulp = None
        for x, y in g:
            st0, _, status = next(outs)
            xv, yv = probe.to_mpf(x), probe.to_mpf(y)
            m = model(base, sign, abs(xv / yv) if swap else abs(yv / xv), coeffs)
            ulp, _, _ = probe.position(m)
            d = float((m - abs(probe.to_mpf(st0))) / ulp)
            if abs(d) < 0.45:
                pts.append((d, status >> 9 & 1 == 1))
        # C1 set: the host's value m + E lay below the returned one, i.e. d < -E.
        t, misfits, n = threshold_below(pts)
        res.append((u, -t * ulp * TWO64, misfits, n))
    return res


def fit(points):
    """Least-squares c1, c2 of E(u) = c1 u + c2 u^2; returns (c1, c2, rms residual)."""
    s = [[mp.mpf(0)] * 2 for _ in range(2)]
    r = [mp.mpf(0)] * 2
    for u, e, _, _ in points:
        basis = (mp.mpf(u), mp.mpf(u) ** 2)
        for i in range(2):
            r[i] += basis[i] * e
            for j in range(2):
                s[i][j] += basis[i] * basis[j]
    c1, c2 = mp.lu_solve(mp.matrix(s), mp.matrix(r))
    rms = mp.sqrt(sum((c1 * u + c2 * u * u - e) ** 2 for u, e, _, _ in points) / len(points))
    return c1, c2, rms


def wide(v):
    """A Rust `Wide` literal (m × 2^(exp − 127), m normalized) for v, with its decimal value."""
    if v == 0:
        return "Wide::ZERO"
    neg = v < 0
    a = abs(v)
    e = int(mp.floor(mp.log(a, 2)))
    m = int(mp.nint(a * mp.mpf(2) ** (127 - e)))
    if m >= 1 << 128:
        e += 1
        m = int(mp.nint(a * mp.mpf(2) ** (127 - e)))
    assert 1 << 127 <= m < 1 << 128
    digits = f"{m:032X}"
    groups = "_".join(digits[i : i + 4] for i in range(0, 32, 4))
    return (
        f"// {mp.nstr(v, 20)}\n"
        f"    Wide {{\n"
        f"        neg: {'true' if neg else 'false'},\n"
        f"        exp: {e},\n"
        f"        m: 0x{groups},\n"
        f"    }}"
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


def fit_kernel(points):
    """Least-squares Chebyshev coefficients of R(u) = E(u) / u; returns (coeffs, rms)."""
    rows = [[mp.chebyt(k, 2 * mp.mpf(u) - 1) for k in range(KERNEL_DEGREE + 1)] for u, *_ in points]
    rel = [e / u for u, e, _, _ in points]
    coeffs, _ = mp.qr_solve(mp.matrix(rows), mp.matrix(rel))
    coeffs = [coeffs[k] for k in range(KERNEL_DEGREE + 1)]
    rms = mp.sqrt(sum((chebyshev(coeffs, u) - r) ** 2 for (u, *_), r in zip(points, rel)) / len(rel))
    return coeffs, rms


def main():
    probe.build_probe()
    # The first octant: the kernel's own error, relative, in units of 2^-64.
    n = 400
    us = [(i + mp.mpf("0.5")) / n for i in range(n)]
    points = measure("first", us, 800, 1, [])
    coeffs, rms = fit_kernel(points)
    raw = mp.sqrt(sum((e / u) ** 2 for u, e, _, _ in points) / n)
    print(
        f"first octant: relative error rms {mp.nstr(raw, 3)} (2^-64), "
        f"{mp.nstr(rms, 3)} after the degree-{KERNEL_DEGREE} fit; "
        f"misfits {sum(p[2] for p in points)}/{sum(p[3] for p in points)}"
    )
    # pi68/2 - atan(u) is re-rounded below 1 (u > 0.557); measure where it is not.
    ranges = {"half_pi_minus": 0.55, "pi_minus": 1.0, "half_pi_plus": 1.0}
    fits = {}
    for seed, (name, top) in enumerate(ranges.items()):
        n = 40
        us = [mp.mpf(top) * (i + mp.mpf("0.5")) / n for i in range(n)]
        points = measure(name, us, 400, seed + 2, coeffs)
        c1, c2, rms = fit(points)
        misfits = sum(p[2] for p in points)
        total = sum(p[3] for p in points)
        print(
            f"{name}: E(u) = {mp.nstr(c1, 4)} u + {mp.nstr(c2, 4)} u^2 (units of 2^-64); "
            f"rms residual {mp.nstr(rms, 3)}, misfits {misfits}/{total}"
        )
        fits[name] = (c1, c2)
    lines = [
        f"//! Generated by scripts/x87-fit/atan.py on {cpu_model()}; do not edit.",
        "//!",
        "//! The reference hardware's FPATAN error, fitted from measurements of the host (u = the",
        "//! smaller magnitude over the larger, rounded to 68 bits): the arctangent's relative error",
        "//! R(u) as a Chebyshev series in 2u − 1, and for the octants that add the angle to π or",
        "//! π/2 their own error c1·u + c2·u². Exact values (not scaled by 2^-64).",
        "",
        "use super::super::wide::Wide;",
        "",
        "/// Chebyshev coefficients of R(u), from T_0 up.",
        f"pub const KERNEL: [Wide; {KERNEL_DEGREE + 1}] = [",
    ]
    for c in coeffs:
        lines.append(f"    {wide(c / TWO64)},")
    lines.append("];")
    docs = {
        "half_pi_minus": "x > 0, |y| > |x|: π/2 − atan u.",
        "pi_minus": "x < 0, |y| ≤ |x|: π − atan u.",
        "half_pi_plus": "x < 0, |y| > |x|: π/2 + atan u.",
    }
    for name, (c1, c2) in fits.items():
        lines.append(f"/// {docs[name]}")
        lines.append(f"pub const {name.upper()}: [Wide; 2] = [")
        for c in (c1, c2):
            lines.append(f"    {wide(c / TWO64)},")
        lines.append("];")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {os.path.relpath(OUT, probe.ROOT)}")


if __name__ == "__main__":
    main()
