"""How the host's FPTAN rational was probably designed: a measurement, writes nothing.

The host's tan x = x * P(z) / Q(z) (z = x^2, degree (4,4), P(0) = Q(0) = a; see
tan_structure.py) is close to the Pade approximant of tan(sqrt z)/sqrt z (p1/a differs by
2.5e-4) and closer still to the minimax rational of relative error on an interval [0, zmax].
This script computes that minimax (a rational Remez exchange in mpmath) and solves for zmax in
two independent ways:

* by the host's p1/a, measured from directed roundings of small arguments (tan.py); and
* by assuming Q is normalized so that q4 = 2^-19 exactly (the fitted q4 is 2^-19 * (1 - 1.2e-6))
  and P(0) = Q(0) = a is the scale that normalization leaves.

Both give zmax ~ 0.62158 (x up to ~0.7884, just past pi/4), agreeing to 6.5e-6 relative but
not exactly, so the host's design is a near-minimax on about [0, 0.788] but not exactly this
one (another weight, a discrete point set, or coefficients re-optimized after rounding). As a
model the minimax with the p1-derived zmax reproduces the host no better than the correctly
rounded tangent from 2^-9 up, and its error curve sits ~0.01 ulp below the host's at
x ~ 0.6-0.77. The finding narrows the search (interval, normalization), it does not end it.

Run: python3 scripts/x87-fit/tan_design.py  (about a minute; mpmath only, no host probing)
"""

import mpmath as mp

mp.mp.dps = 60
A = mp.mpf(0x2E7C9697BBDF1E68B) / mp.mpf(2) ** 65  # tan_structure.A_M
P1 = mp.mpf("-0.199440822624786231")  # tan.py's refined p1
DEGREE = 4


def tan_over_x(z):
    if z == 0:
        return mp.mpf(1)
    s = mp.sqrt(z)
    return mp.tan(s) / s


def taylor(k):
    """The coefficient of x^(2k+1) in tan x."""
    b = mp.bernoulli(2 * k + 2)
    return (-1) ** k * 2 ** (2 * k + 2) * (2 ** (2 * k + 2) - 1) * b / mp.factorial(2 * k + 2)


def minimax(zmax, iterations=8):
    """The (4,4) rational P/Q with P(0) = Q(0) = 1 minimizing max |P/(Q T) - 1| on (0, zmax]:
    (p, q, levelled error)."""
    n = DEGREE
    points = [zmax * (1 - mp.cos(mp.pi * (i + 1) / (2 * n + 1))) / 2 for i in range(2 * n + 1)]
    pade_p, pade_q = mp.pade([taylor(k) for k in range(12)], n, n)
    guess = [c / pade_p[0] for c in pade_p[1:]] + [c / pade_q[0] for c in pade_q[1:]] + [mp.mpf(0)]

    def split(v):
        return [mp.mpf(1)] + list(v[:n]), [mp.mpf(1)] + list(v[n : 2 * n])

    def error(p, q, z):
        return mp.polyval(p[::-1], z) / (mp.polyval(q[::-1], z) * tan_over_x(z)) - 1

    for _ in range(iterations):
        def equations(*v):
            p, q = split(v[:-1])
            return [error(p, q, z) - (-1) ** i * v[-1] for i, z in enumerate(points)]

        guess = list(mp.findroot(equations, guess, tol=mp.mpf(10) ** -50, maxsteps=50))
        p, q = split(guess[:-1])
        grid = [zmax * i / 2000 for i in range(1, 2001)]
        errs = [error(p, q, z) for z in grid]
        extrema = [
            grid[i]
            for i in range(len(grid))
            if abs(errs[i]) > abs(guess[-1]) / 2
            and (i + 1 == len(grid) or (errs[i] - errs[i - 1]) * (errs[i + 1] - errs[i]) <= 0)
        ]
        if len(extrema) == len(points):
            points = extrema
    return p, q, guess[-1]


def solve(criterion, lo=mp.mpf("0.615"), hi=mp.mpf("0.63"), steps=5):
    """zmax where criterion(p, q) crosses zero (secant)."""
    flo, fhi = criterion(*minimax(lo)[:2]), criterion(*minimax(hi)[:2])
    for _ in range(steps):
        mid = lo - flo * (hi - lo) / (fhi - flo)
        lo, flo, hi, fhi = hi, fhi, mid, criterion(*minimax(mid)[:2])
    return hi


if __name__ == "__main__":
    by_p1 = solve(lambda p, q: p[1] - P1 / A)
    by_q4 = solve(lambda p, q: mp.mpf(2) ** -19 / q[DEGREE] - A)
    print(f"zmax from the host's p1:        {mp.nstr(by_p1, 15)} (x up to {mp.nstr(mp.sqrt(by_p1), 10)})")
    print(f"zmax from q4 = 2^-19 and a:     {mp.nstr(by_q4, 15)} (x up to {mp.nstr(mp.sqrt(by_q4), 10)})")
    print(f"(pi/4)^2 for comparison:        {mp.nstr((mp.pi / 4) ** 2, 15)}")
    p, q, e = minimax(by_p1)
    print(f"levelled relative error there: {mp.nstr(e, 5)}")
    print("scaled by a:  p =", [mp.nstr(c * A, 18) for c in p])
    print("              q =", [mp.nstr(c * A, 18) for c in q])
