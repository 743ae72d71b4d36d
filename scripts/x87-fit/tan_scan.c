// Helper of tan_pin.py: how well the FPTAN model reproduces the host's roundings in one region
// of arguments, for each of a list of shifts added to P(z) and Q(z) before they are rounded.
//
// stdin:  the P and Q coefficients ("count" then "sign hi lo exp" per coefficient, value
//         (hi·2^64 + lo)·2^exp), "n band", n lines "x_sig x_exp host_sig host_exp" (the
//         argument and the host's tangent, value sig·2^exp), then "count" and that many
//         "dP dQ" lines (shifts in units of 2^-67).
// stdout: per shift "misfits e in_band": the in-band arguments (model fraction within `band`
//         of a tie) whose host rounding no single threshold explains, and the best threshold's
//         offset e = 0.5 - t in ulps (probe.threshold's definition).
//
// binary128 carries the model's 68-bit intermediates exactly; x·P (132 bits) is rounded to
// 113 bits before 68, which differs from one rounding only with probability ~2^-45.
#include <quadmath.h>
#include <stdio.h>
#include <stdlib.h>

typedef __float128 f128;

static f128 round_bits(f128 v, int bits) {
    if (v == 0) return v;
    int e = ilogbq(v);
    return ldexpq(rintq(ldexpq(v, bits - 1 - e)), e - (bits - 1));
}

static int read_coefficients(f128 *c) {
    int n;
    if (scanf("%d", &n) != 1 || n < 2 || n > 8) exit(2);
    for (int i = 0; i < n; i++) {
        int sign, ex;
        unsigned long long hi, lo;
        if (scanf("%d %llu %llu %d", &sign, &hi, &lo, &ex) != 4) exit(2);
        f128 v = ldexpq(ldexpq((f128)hi, 64) + (f128)lo, ex);
        c[i] = sign ? -v : v;
    }
    return n;
}

// The last Horner sum before its rounding: products rounded to 68 bits, inner sums exact.
static f128 horner_sum(const f128 *c, int n, f128 z) {
    f128 v = c[n - 1];
    for (int k = n - 2; k >= 1; k--) v = round_bits(v * z, 68) + c[k];
    return round_bits(v * z, 68) + c[0];
}

typedef struct { double frac; int up; } point;

static int by_fraction(const void *a, const void *b) {
    double x = ((const point *)a)->frac, y = ((const point *)b)->frac;
    return (x > y) - (x < y);
}

int main(void) {
    f128 p[8], q[8];
    int np = read_coefficients(p), nq = read_coefficients(q), n, count;
    double band;
    if (scanf("%d %lf", &n, &band) != 2 || n < 1) return 2;
    f128 *x = malloc(n * sizeof *x), *host = malloc(n * sizeof *host);
    f128 *sp = malloc(n * sizeof *sp), *sq = malloc(n * sizeof *sq);
    point *pts = malloc(n * sizeof *pts);
    if (!x || !host || !sp || !sq || !pts) return 3;
    for (int i = 0; i < n; i++) {
        unsigned long long xs, hs;
        int xe, he;
        if (scanf("%llu %d %llu %d", &xs, &xe, &hs, &he) != 4) return 2;
        x[i] = ldexpq((f128)xs, xe);
        host[i] = ldexpq((f128)hs, he);
        f128 z = round_bits(x[i] * x[i], 68);
        sp[i] = horner_sum(p, np, z);
        sq[i] = horner_sum(q, nq, z);
    }
    if (scanf("%d", &count) != 1) return 2;
    f128 unit = ldexpq(1, -67);
    for (int s = 0; s < count; s++) {
        double dp, dq;
        if (scanf("%lf %lf", &dp, &dq) != 2) return 2;
        int m = 0, ups = 0;
        for (int i = 0; i < n; i++) {
            f128 num = round_bits(x[i] * round_bits(sp[i] + dp * unit, 68), 68);
            f128 quotient = num / round_bits(sq[i] + dq * unit, 68);
            int e = ilogbq(quotient);
            f128 scaled = ldexpq(quotient, 63 - e), whole = floorq(scaled);
            double frac = (double)(scaled - whole);
            if (frac < 0.5 - band || frac > 0.5 + band) continue;
            pts[m].frac = frac;
            pts[m].up = host[i] > ldexpq(whole, e - 63);
            ups += pts[m].up;
            m++;
        }
        qsort(pts, m, sizeof *pts, by_fraction);
        int best = m + 1, ups_below = 0;
        double threshold = 0.5;
        for (int i = 0; i <= m; i++) {
            int errors = ups_below + (m - i) - (ups - ups_below);
            if (errors < best) {
                best = errors;
                threshold = i == 0 ? 0.5 - band
                            : i == m ? 0.5 + band
                                     : (pts[i - 1].frac + pts[i].frac) / 2;
            }
            if (i < m && pts[i].up) ups_below++;
        }
        printf("%d %.6f %d\n", best, 0.5 - threshold, m);
    }
    return 0;
}
