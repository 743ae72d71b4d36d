"""F2XM1 on the reference host: what has been measured of its structure so far, and a check of
the partial model against the host. Not yet a generator (no Rust is written): it documents the
findings behind the constants below and lets anyone re-verify them with
`python3 scripts/x87-fit/exp2_structure.py` (seconds; `--spectrum` adds the frequency scan).

Findings (AMD EPYC host; each is re-checked by `validate()` or `spectrum()`):

* The host's deviation from the exact 2^x - 1 is not a smooth curve plus independent noise:
  for |x| < 2^-20 its misfits are periodic in the argument's significand X (64-bit integer).
  `spectrum()` (a DFT of the signed misfits over consecutive X) shows peaks at
  0.0760059 and 0.0143490 cycles per step (plus shifts by multiples of 2 ln 2, the frequency
  of the final rounding itself). Tracking that peak with strides 2^6 ... 2^48 gives
  frac(16 A) to ~70 bits, and the significand where the pattern changes (X = 0x8AE3CC7C...,
  a binade crossing of X * A) gives A's leading bits; together:
      A = 0x1D7DB20FF9770B73B * 2^-64 = 1.8431873916628685909...
  (65 significant bits, so a 68-bit internal constant).
* For |x| <= 2^-70 the host returns round64(t * B) with
      t = x * A rounded to 68 bits, ties to even (relative to t's own binade),
      B = 0x604566D401E86817E2A67 * 2^-84 = 0.3760589854809112133... (+-60 * 2^-84),
  and t * B not rounded before the final rounding: 0 mismatches in 3200 cases near a
  rounding boundary at |x| ~ 2^-200.
  A * B = ln 2 * (1 - 4.8e-22).
* For 2^-70 < |x| <= 2^-40 the higher-order part enters through P(t), the factor multiplying t:
  P = B + G * round((P_exact(t) - B) / G), G = 1.1313628845 * 2^-69, where
  P_exact(t) = expm1(t B) / t. Equivalently P / G is rounded to 68 bits (P / G lies in
  [1/4, 1/2)); G is not a power of two, so the host's polynomial is evaluated on a scaled
  variable. This model matches the host in all but ~1 of 1500 random cases per band there
  (the exact value misses 2-3%).
* At |x| ~ 2^-30 the single-step grid no longer fits the measured P (residuals up to 0.4 of a
  step: G's low bits, or the polynomial's own coefficients, are still unknown), and for
  |x| >= 2^-7 the misfit frequencies change again (a reduction of x with a table of powers
  of two is likely). Not measured yet.
"""

import cmath
import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(__file__))
import probe  # noqa: E402
import mpmath as mp  # noqa: E402

mp.mp.prec = 300
LN2 = mp.log(2)
A = mp.mpf(0x1D7DB20FF9770B73B) / mp.mpf(2) ** 64
B = mp.mpf(0x604566D401E86817E2A67) / mp.mpf(2) ** 84
G = mp.mpf("1.1313628845") * mp.mpf(2) ** -69


def rnd68(v):
    """v rounded to 68 significant bits, ties to even."""
    if v == 0:
        return v
    sign = -1 if v < 0 else 1
    m, e = mp.frexp(abs(v))
    q = m * mp.mpf(2) ** 68
    n = mp.floor(q)
    if q - n > 0.5 or (q - n == 0.5 and int(n) & 1):
        n += 1
    return sign * mp.ldexp(n, e - 68)


def model(x):
    """The host's pre-rounding value of 2^x - 1 as far as measured (|x| <= 2^-40)."""
    t = rnd68(x * A)
    if t == 0:
        return t
    p_exact = mp.expm1(t * B) / t
    return t * (B + G * mp.nint((p_exact - B) / G))


def nearest(v):
    ulp, t, frac = probe.position(v)
    r = (t + 1 if frac > 0.5 else t) * ulp
    return -r if v < 0 else r


def validate(per_band=1500, seed=9):
    """Mismatches (round to nearest) of the model and of the exact value against the host."""
    rng = random.Random(seed)
    for k in (100, 70, 64, 60, 56, 52, 48, 44, 40, 30):
        xs = [
            ((rng.getrandbits(1) << 15) | (0x3FFF - k), rng.getrandbits(63) | 1 << 63)
            for _ in range(per_band)
        ]
        outs = probe.host([("f2xm1", x, (0x3FFF, 1 << 63), probe.NEAREST) for x in xs])
        bad_model = bad_exact = 0
        for x, out in zip(xs, outs):
            xv = probe.to_mpf(x)
            got = probe.to_mpf(out[0])
            bad_model += nearest(model(xv)) != got
            bad_exact += nearest(mp.expm1(xv * LN2)) != got
        print(f"|x| ~ 2^-{k:<3}  model {bad_model:4}  exact {bad_exact:4}  / {per_band}")


def spectrum(x_sig=0x8123456789ABCDEF, log2_count=17, exp=0x3FFF - 100, top=8):
    """Strongest frequencies (cycles per significand step) of the host's misfits against
    the exact value over consecutive significands at a tiny exponent."""
    n = 1 << log2_count
    xs = [(exp, x_sig + i) for i in range(n)]
    outs = []
    for i in range(0, n, 16384):
        outs += probe.host([("f2xm1", x, (0x3FFF, 1 << 63), probe.NEAREST) for x in xs[i : i + 16384]])
    # Signed: +1 where the host rounded above the exact value's nearest, -1 below.
    misfits = []
    for i, (x, out) in enumerate(zip(xs, outs)):
        want = nearest(mp.expm1(probe.to_mpf(x) * LN2))
        got = probe.to_mpf(out[0])
        if want != got:
            misfits.append((i, 1 if got > want else -1))

    def amplitude(w):
        return abs(sum(s * cmath.exp(-2j * math.pi * w * i) for i, s in misfits))

    coarse = sorted(((amplitude(k / n), k / n) for k in range(1, n // 2, 1)), reverse=True)
    print(f"{len(misfits)} misfits in {n}; rms amplitude {math.sqrt(len(misfits)):.1f}")
    for a, w in coarse[:top]:
        print(f"  {w:.6f}  amplitude {a:.1f}")


if __name__ == "__main__":
    probe.build_probe()
    validate()
    if "--spectrum" in sys.argv:
        spectrum(log2_count=14)
