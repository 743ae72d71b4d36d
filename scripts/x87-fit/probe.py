"""Shared helpers for the x87 transcendental fitters: run the host through
`cpu/examples/x87_probe.rs` and measure the host's error against an exact (mpmath) value.

The reference hardware evaluates each transcendental as an approximation whose error, relative
to the exact value, is a smooth function of the argument plus a little rounding noise. Seen
through the final rounding to 64 bits, the smooth part shows up as a shifted rounding
threshold: around an argument x, the host rounds up exactly when the exact value's position
between two representable numbers (its "fraction" in ulps) exceeds 0.5 - e(x). Sampling a few
thousand neighbours of x (consecutive significands, so e is constant among them) and finding
the best threshold measures e(x) to about 0.001 ulp.
"""

import os
import subprocess

import mpmath as mp

mp.mp.prec = 256

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROBE = os.path.join(ROOT, "target", "release", "examples", "x87_probe")
NEAREST = 0x037F  # all exceptions masked, 64-bit precision, round to nearest


def build_probe():
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "webx86-cpu", "--example", "x87_probe"],
        cwd=ROOT,
        check=True,
    )


def host(cases, emulator=False):
    """Runs [(op, (x_se, x_sig), (y_se, y_sig), control)] on the host (or, with `emulator`,
    FPTAN and F2XM1 on the emulator); returns [((st0_se, st0_sig), (st1_se, st1_sig), status)]."""
    lines = "".join(
        f"{op} {x[0]:04x} {x[1]:016x} {y[0]:04x} {y[1]:016x} {cw:04x}\n" for op, x, y, cw in cases
    )
    args = [PROBE, "--emulator"] if emulator else [PROBE]
    out = subprocess.run(args, input=lines, capture_output=True, text=True, check=True).stdout
    results = []
    for line in out.splitlines():
        a, b, c, d, s = line.split()
        results.append(((int(a, 16), int(b, 16)), (int(c, 16), int(d, 16)), int(s, 16)))
    return results


def to_mpf(f):
    """An F80 (se, sig) as an exact mpf (finite values only)."""
    se, sig = f
    e = max(se & 0x7FFF, 1) - 16383
    v = mp.mpf(sig) * mp.mpf(2) ** (e - 63)
    return -v if se & 0x8000 else v


def from_float(v):
    """The F80 nearest a Python float or mpf (normal range)."""
    v = mp.mpf(v)
    sign = 0x8000 if v < 0 else 0
    v = abs(v)
    e = int(mp.floor(mp.log(v, 2)))
    sig = int(mp.nint(v / mp.mpf(2) ** (e - 63)))
    if sig >= 1 << 64:
        sig >>= 1
        e += 1
    if sig < 1 << 63:
        sig <<= 1
        e -= 1
    return (sign | (e + 16383), sig)


def position(exact):
    """(ulp, truncated significand, fraction in ulps) of |exact| in 64-bit precision."""
    a = abs(exact)
    e = int(mp.floor(mp.log(a, 2)))
    ulp = mp.mpf(2) ** (e - 63)
    q = a / ulp
    if q >= mp.mpf(2) ** 64:  # log rounding at a binade edge
        e += 1
        ulp *= 2
        q /= 2
    t = int(mp.floor(q))
    return ulp, t, float(q - t)


def threshold(points, band=0.15):
    """Best rounding threshold for [(fraction, rounded_up)]: (e = 0.5 - t, misfits, n)."""
    pts = sorted(p for p in points if abs(p[0] - 0.5) <= band)
    ups_total = sum(1 for p in pts if p[1])
    best = (0.5, len(pts) + 1)
    ups_below = 0
    for i in range(len(pts) + 1):
        downs_above = (len(pts) - i) - (ups_total - ups_below)
        err = ups_below + downs_above
        if err < best[1]:
            if i == 0:
                t = 0.5 - band
            elif i == len(pts):
                t = 0.5 + band
            else:
                t = (pts[i - 1][0] + pts[i][0]) / 2
            best = (t, err)
        if i < len(pts) and pts[i][1]:
            ups_below += 1
    return 0.5 - best[0], best[1], len(pts)


def neighbours(f, count, stride=1):
    """`count` F80s from f upwards by `stride` units of the significand (same exponent)."""
    se, sig = f
    out = []
    for i in range(count):
        s = sig + i * stride
        if s >= 1 << 64:
            break
        out.append((se, s))
    return out


def error_at(op, exact_fn, x, y=None, count=2000, vary="x", result=0):
    """The host's smooth error e (ulps of the result, positive = above the exact value) near
    (x, y), varying one operand over `count` neighbours; `exact_fn(xv, yv)` gives the exact
    result as an mpf. Returns (e, misfits, points in the band)."""
    y = y if y is not None else (0x3FFF, 1 << 63)
    if vary == "x":
        cases = [(op, xi, y, NEAREST) for xi in neighbours(x, count)]
    else:
        cases = [(op, x, yi, NEAREST) for yi in neighbours(y, count)]
    outs = host(cases)
    pts = []
    for (_, xi, yi, _), out in zip(cases, outs):
        exact = exact_fn(to_mpf(xi), to_mpf(yi))
        if exact == 0:
            continue
        ulp, t, frac = position(exact)
        if abs(frac - 0.5) > 0.15:
            continue
        got = out[0] if result == 0 else out[1]
        if (got[0] & 0x8000 != 0) != (exact < 0):
            continue
        pts.append((frac, abs(to_mpf(got)) > t * ulp))
    return threshold(pts)


def cpu_model():
    """The host CPU's model name, for the header of generated files."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def wide(v):
    """(neg, exp, m) of the `Wide` nearest v: v = m * 2^(exp - 127), m with bit 127 set."""
    neg = v < 0
    v = abs(v)
    e = int(mp.floor(mp.log(v, 2)))
    m = int(mp.nint(v * mp.mpf(2) ** (127 - e)))
    if m >> 128:
        m >>= 1
        e += 1
    return neg, e, m


def wide_literal(v, indent=""):
    """A `Wide` struct literal for v as rustfmt lays it out, at `indent`."""
    neg, e, m = wide(v)
    h = f"{m:032X}"
    groups = "_".join(h[i : i + 4] for i in range(0, 32, 4))
    return (
        f"Wide {{\n{indent}    neg: {str(neg).lower()},\n{indent}    exp: {e},\n"
        f"{indent}    m: 0x{groups},\n{indent}}}"
    )
