/* The hot loops of the KLLR photo-z (csrc/kllr_core.pxi), in C with GCC/Clang vector extensions
 * so that they vectorise by construction: the exact neighbour search, the RBF kernel matrix with
 * a vectorised exp, and the Cholesky factor of K + λI with its solve and the diagonal of its
 * inverse (leave-one-out errors).
 *
 * Included once per build of the kernel module: csrc/kllr.pyx (portable: 2-double vectors) and
 * csrc/kllr_avx2.pyx, where a preceding `#pragma GCC target("avx2,fma")` applies to every function
 * below and GALFAST_VLEN is 4.  The modules build without -fassociative-math: every reduction
 * here has a fixed, written-out order, so results do not depend on the compiler's choices.
 *
 * Matrices are row-major.  The Cholesky factor is the upper triangle U with A = Uᵀ U, computed
 * right-looking in panels of 4 rows: contiguous rows throughout.
 */
#ifndef GALFAST_KLLR_LINALG_H
#define GALFAST_KLLR_LINALG_H

/* The rounding trick of galfast_exp_neg below (adding and subtracting 1.5·2^52) and the written-out
 * reduction orders are only correct under IEEE-754 semantics: refuse value-unsafe float modes. */
#if defined(__FAST_MATH__)
#error "galfast: csrc/kllr_linalg.h must not be compiled with -ffast-math (or -Ofast): it breaks the exact rounding trick of galfast_exp_neg (x + 1.5*2^52 - 1.5*2^52) and the fixed reduction order of the KLLR kernel. Remove -ffast-math/-Ofast from CFLAGS and rebuild."
#elif defined(__ASSOCIATIVE_MATH__)
#error "galfast: csrc/kllr_linalg.h must not be compiled with -fassociative-math (implied by -funsafe-math-optimizations): it folds away the rounding trick of galfast_exp_neg (x + 1.5*2^52 - 1.5*2^52). Remove the flag from CFLAGS and rebuild."
#elif defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__
#error "galfast: csrc/kllr_linalg.h must not be compiled with -ffinite-math-only: the KLLR kernel relies on NaN and infinity (missing estimates, unbounded z_min). Remove the flag from CFLAGS and rebuild."
#endif

#include <math.h>
#include <stdint.h>
#include <string.h>

/* exp(x) for x <= 0, relative error < 1e-14, branch-free so that loops over it vectorise:
 * x = n ln2 + r with n the nearest integer (adding and subtracting 1.5·2^52 rounds: this needs the
 * module built WITHOUT -fassociative-math, which would fold it away), |r| <= ln2/2, the
 * degree-11 Taylor polynomial of e^r (truncation < 7e-15) by Estrin's scheme (a dependency chain
 * of 5 instead of 11), times 2^n assembled in the exponent bits; 0 below -708. */
static inline double galfast_exp_neg(double x) {
    const double shift = 6755399441055744.0; /* 1.5 * 2^52 */
    double xc = x < -708.0 ? -708.0 : x;
    double t = xc * 1.4426950408889634 + shift;
    double n = t - shift;
    double r = xc - n * 0.6931471803691238 - n * 1.9082149292705877e-10;
    double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    double q0 = (1.0 + r) + (0.5 + 1.6666666666666666e-01 * r) * r2;
    double q1 = (4.1666666666666664e-02 + 8.3333333333333332e-03 * r)
              + (1.3888888888888889e-03 + 1.9841269841269841e-04 * r) * r2;
    double q2 = (2.4801587301587302e-05 + 2.7557319223985893e-06 * r)
              + (2.7557319223985888e-07 + 2.5052108385441720e-08 * r) * r2;
    double p = (q0 + q1 * r4) + q2 * r8;
    int64_t tb, sb, eb;
    double scale;
    memcpy(&tb, &t, sizeof tb);
    memcpy(&sb, &shift, sizeof sb);
    eb = (tb - sb + 1023) << 52;
    memcpy(&scale, &eb, sizeof scale);
    return x < -708.0 ? 0.0 : p * scale;
}

/* GALFAST_VLEN doubles as one value (GCC/Clang vector extension): 4 (AVX2 registers) where the
 * including module defines it so (csrc/kllr_avx2.pyx), else 2 (SSE2 / NEON registers).
 * aligned(8): loads from any double address are legal. */
#ifndef GALFAST_VLEN
#define GALFAST_VLEN 2
#endif
typedef double galfast_vd __attribute__((vector_size(8 * GALFAST_VLEN), aligned(8)));
#define GALFAST_VEC (2 * GALFAST_VLEN)  /* two vectors: the unit of the register-blocked loops */
#define GALFAST_LD(p) (*(const galfast_vd *)(p))
#define GALFAST_ST(p, v) (*(galfast_vd *)(p) = (v))

/* sum_i a[i] b[i] in a fixed order (partial sums in two vectors, then a scalar tail): the modules
 * build without -fassociative-math, so reductions are vectorised by hand. */
static inline double galfast_dot(const double *a, const double *b, int n) {
    galfast_vd s0 = {0.0}, s1 = {0.0};
    int i = 0;
    for (; i + GALFAST_VEC <= n; i += GALFAST_VEC) {
        s0 += GALFAST_LD(a + i) * GALFAST_LD(b + i);
        s1 += GALFAST_LD(a + i + GALFAST_VLEN) * GALFAST_LD(b + i + GALFAST_VLEN);
    }
    s0 += s1;
    double s = 0.0;
    for (int l = 0; l < GALFAST_VLEN; l++) s += s0[l];
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* r = y - K x for the symmetric m×m K of which only the upper triangle (j >= i) of each row is
 * read (leading dimension ldk): per row j, a dot product right of the diagonal and an axpy for the
 * mirrored lower part. */
static void galfast_residual_sym(const double *restrict K, int ldk, int m,
                                 const double *restrict x, const double *restrict y,
                                 double *restrict r) {
    for (int i = 0; i < m; i++) r[i] = y[i];
    for (int j = 0; j < m; j++) {
        const double *restrict kj = K + (size_t)j * ldk;
        const double a = x[j];
        r[j] -= galfast_dot(kj + j, x + j, m - j);
        for (int i = j + 1; i < m; i++) r[i] -= a * kj[i];
    }
}

/* Upper triangle of the kernel matrix of m points given transposed (G: d rows of stride ld,
 * point i = column i; ld >= m rounded up to GALFAST_VEC, columns beyond m finite):
 * K[i*ldk + j] = exp(-gamma * |g_i - g_j|^2) for j >= i (whole vectors from the one holding the
 * diagonal to m rounded up: entries outside j in [i, m) are junk the caller never reads).  The
 * squared distances are summed over features in order, in registers, then exponentiated in one
 * vectorised pass; the diagonal is exactly 1. */
static void galfast_kernel_matrix(const double *restrict G, int d, int ld, int m, double gamma,
                                  double *restrict K, int ldk) {
    const int mv = (m + GALFAST_VEC - 1) / GALFAST_VEC * GALFAST_VEC;
    for (int i = 0; i < m; i++) {
        double *restrict ki = K + (size_t)i * ldk;
        const int js = i / GALFAST_VEC * GALFAST_VEC;
        for (int j0 = js; j0 < mv; j0 += GALFAST_VEC) {
            galfast_vd a0 = {0.0}, a1 = {0.0};
            for (int f = 0; f < d; f++) {
                const double *g = G + (size_t)f * ld;
                const double gi = g[i];
                const galfast_vd t0 = GALFAST_LD(g + j0) - gi;
                const galfast_vd t1 = GALFAST_LD(g + j0 + GALFAST_VLEN) - gi;
                a0 += t0 * t0;
                a1 += t1 * t1;
            }
            GALFAST_ST(ki + j0, a0 * -gamma);
            GALFAST_ST(ki + j0 + GALFAST_VLEN, a1 * -gamma);
        }
        for (int j = js; j < mv; j++) ki[j] = galfast_exp_neg(ki[j]);
    }
}

/* ---- Cholesky of K + λI, its solve and the diagonal of its inverse ----------------------------
 * Matrices here are row-major with leading dimension lda (a multiple of GALFAST_VLEN), the active
 * size n <= lda, and every row zero in columns [n, roundup(n)).  Inner loops then run over whole
 * vectors from the vector holding their first column to roundup(n): no scalar tails.  Entries
 * left of the diagonal ("lower junk") may be overwritten with junk by these loops and are never
 * read, except where noted. */
#define GALFAST_FLOOR(j) ((j) / GALFAST_VLEN * GALFAST_VLEN)
#define GALFAST_CEIL(j) (((j) + GALFAST_VLEN - 1) / GALFAST_VLEN * GALFAST_VLEN)

/* One right-looking step at pivot k of the upper Cholesky: row k of U is scaled and rows
 * k+1 .. last-1 are updated by it. */
static inline int galfast_chol_pivot(double *restrict U, int n, int lda, int k, int last,
                                     double *restrict inv) {
    const int nv = GALFAST_CEIL(n);
    double *restrict uk = U + (size_t)k * lda;
    double s = uk[k];
    if (!(s > 0.0)) return -1;
    s = sqrt(s);
    const double r = 1.0 / s;
    inv[k] = r;
    for (int j = GALFAST_FLOOR(k); j < nv; j += GALFAST_VLEN)
        GALFAST_ST(uk + j, GALFAST_LD(uk + j) * r);
    uk[k] = s;
    for (int i = k + 1; i < last; i++) {
        const double a = uk[i];
        double *restrict ui = U + (size_t)i * lda;
        for (int j = GALFAST_FLOOR(i); j < nv; j += GALFAST_VLEN)
            GALFAST_ST(ui + j, GALFAST_LD(ui + j) - a * GALFAST_LD(uk + j));
    }
    return 0;
}

/* In-place upper Cholesky A = Uᵀ U of the n×n SPD matrix whose upper triangle is in U; inv[k] =
 * 1/U_kk.  Returns -1 if A is not positive definite.  Panels of 4 pivot rows: the panel is
 * factored row by row, then the trailing rows get the rank-4 update of the whole panel in one
 * pass (4 FMAs per load/store of U instead of 1). */
static int galfast_chol_upper(double *restrict U, int n, int lda, double *restrict inv) {
    const int nv = GALFAST_CEIL(n);
    int k = 0;
    for (; k + 4 <= n; k += 4) {
        for (int p = k; p < k + 4; p++)
            if (galfast_chol_pivot(U, n, lda, p, k + 4, inv) != 0) return -1;
        const double *restrict u0 = U + (size_t)k * lda;
        const double *restrict u1 = u0 + lda;
        const double *restrict u2 = u1 + lda;
        const double *restrict u3 = u2 + lda;
        for (int i = k + 4; i < n; i++) {
            const double a0 = u0[i], a1 = u1[i], a2 = u2[i], a3 = u3[i];
            double *restrict ui = U + (size_t)i * lda;
            for (int j = GALFAST_FLOOR(i); j < nv; j += GALFAST_VLEN)
                GALFAST_ST(ui + j, GALFAST_LD(ui + j) - (a0 * GALFAST_LD(u0 + j) + a1 * GALFAST_LD(u1 + j)
                                                         + a2 * GALFAST_LD(u2 + j) + a3 * GALFAST_LD(u3 + j)));
        }
    }
    for (; k < n; k++)
        if (galfast_chol_pivot(U, n, lda, k, n, inv) != 0) return -1;
    return 0;
}

/* Solve (Uᵀ U) x = b in place (b: roundup(n) entries, zero beyond n). */
static void galfast_chol_solve_upper(const double *restrict U, int n, int lda,
                                     const double *restrict inv, double *restrict b) {
    const int nv = GALFAST_CEIL(n);
    for (int p = 0; p < n; p++) {            /* Uᵀ z = b: column p of Uᵀ is row p of U */
        const double zp = b[p] * inv[p];
        const double *restrict up = U + (size_t)p * lda;
        b[p] = zp;
        int i = p + 1;
        for (; i < nv && i % GALFAST_VLEN; i++) b[i] -= up[i] * zp;
        for (; i < nv; i += GALFAST_VLEN) GALFAST_ST(b + i, GALFAST_LD(b + i) - zp * GALFAST_LD(up + i));
    }
    for (int i = n - 1; i >= 0; i--) {       /* U x = z */
        const double *restrict ui = U + (size_t)i * lda;
        double s = 0.0;
        int j = i + 1;
        for (; j < nv && j % GALFAST_VLEN; j++) s += ui[j] * b[j];
        b[i] = (b[i] - s - galfast_dot(ui + j, b + j, nv - j)) * inv[i];
    }
}

/* diag((Uᵀ U)^-1) = squared row norms of W = U^-1 (upper), built bottom-up:
 * row i of W = (e_i - sum_{p>i} U_ip W_p) / U_ii, the sum taken 4 rows of W at a time.  Rows of W
 * are zero left of their diagonal (kept so: each row starts as e_i and only takes multiples of
 * later rows), so the vector loops may start at any aligned column.  W: n*lda scratch. */
static void galfast_inv_diag_upper(const double *restrict U, int n, int lda,
                                   const double *restrict inv, double *restrict W,
                                   double *restrict diag) {
    const int nv = GALFAST_CEIL(n);
    for (int i = n - 1; i >= 0; i--) {
        double *restrict wi = W + (size_t)i * lda;
        const double *restrict ui = U + (size_t)i * lda;
        for (int j = 0; j < nv; j++) wi[j] = 0.0;
        wi[i] = 1.0;
        int p = i + 1;
        for (; p + 4 <= n; p += 4) {
            const double a0 = ui[p], a1 = ui[p + 1], a2 = ui[p + 2], a3 = ui[p + 3];
            const double *restrict w0 = W + (size_t)p * lda;
            const double *restrict w1 = w0 + lda;
            const double *restrict w2 = w1 + lda;
            const double *restrict w3 = w2 + lda;
            for (int j = GALFAST_FLOOR(p); j < nv; j += GALFAST_VLEN)
                GALFAST_ST(wi + j, GALFAST_LD(wi + j) - (a0 * GALFAST_LD(w0 + j) + a1 * GALFAST_LD(w1 + j)
                                                         + a2 * GALFAST_LD(w2 + j) + a3 * GALFAST_LD(w3 + j)));
        }
        for (; p < n; p++) {
            const double a = ui[p];
            const double *restrict wp = W + (size_t)p * lda;
            for (int j = GALFAST_FLOOR(p); j < nv; j += GALFAST_VLEN)
                GALFAST_ST(wi + j, GALFAST_LD(wi + j) - a * GALFAST_LD(wp + j));
        }
        const double r = inv[i];
        const int j0 = GALFAST_FLOOR(i);
        for (int j = j0; j < nv; j += GALFAST_VLEN) GALFAST_ST(wi + j, GALFAST_LD(wi + j) * r);
        diag[i] = galfast_dot(wi + j0, wi + j0, nv - j0);
    }
}

/* (da, ia) before (db, ib) in the neighbour order: distance, then training index. */
static inline int galfast_nn_less(double da, long long ia, double db, long long ib) {
    return da < db || (da == db && ia < ib);
}

/* Offer (v, idx) to the k best so far, kept sorted by (distance, index) in h/hix (*c entries):
 * insertion from the back (cheaper than a heap here: few newcomers, short shifts). */
static inline void galfast_nn_offer(double *restrict h, long long *restrict hix, int k, int *c,
                                    double v, long long idx) {
    int p;
    if (*c < k) p = (*c)++;
    else if (galfast_nn_less(v, idx, h[k - 1], hix[k - 1])) p = k - 1;
    else return;
    while (p > 0 && h[p - 1] > v) { h[p] = h[p - 1]; hix[p] = hix[p - 1]; p--; }
    while (p > 0 && h[p - 1] == v && hix[p - 1] > idx) { h[p] = h[p - 1]; hix[p] = hix[p - 1]; p--; }
    h[p] = v;
    hix[p] = idx;
}

/* Exact k nearest neighbours of one target q (d features) by squared Euclidean distance (summed
 * over features in order), ties broken by the lower training index.
 *
 * The n training points are given sorted by their projection on a unit vector u (the first
 * principal axis): XT holds them transposed (d rows of stride n) in that order, ps[j] their
 * projections (ascending), perm[j] their training indices.  The scan starts where the target's
 * projection pt falls and walks outwards a block of GALFAST_VEC rows at a time, always on the
 * side whose next row is nearer in projection, so the k-th best distance shrinks fast; since
 * |x - q|^2 >= ((x - q)·u)^2, a side is closed as soon as the projection gap of its next row
 * exceeds the current k-th distance (with a 1e-9 relative margin for rounding).  On galaxy colours
 * this skips about half the training set and most of the insertions an unordered scan makes.
 * Result: h[0..k-1] distances and hix[0..k-1] training indices, nearest first. */
static void galfast_knn_sorted(const double *restrict XT, int d, long long n,
                               const double *restrict ps,
                               const long long *restrict perm, const double *restrict u,
                               const double *restrict q, int k, double *restrict h,
                               long long *restrict hix) {
    double pt = 0.0;
    for (int f = 0; f < d; f++) pt += q[f] * u[f];
    long long lo = 0, hi = n;                /* first row with ps >= pt */
    while (lo < hi) {
        const long long mid = lo + ((hi - lo) >> 1);
        if (ps[mid] < pt) lo = mid + 1; else hi = mid;
    }
    long long R = lo, L = lo;
    int c = 0;
    int right_open = R < n, left_open = L > 0;
    double D[GALFAST_VEC];
    while (right_open || left_open) {
        const int take_right = right_open && (!left_open || ps[R] - pt <= pt - ps[L - 1]);
        long long j0;
        int jn;
        double gap;
        if (take_right) {
            j0 = R;
            jn = n - R < GALFAST_VEC ? (int)(n - R) : GALFAST_VEC;
            gap = ps[j0] - pt;
        } else {
            jn = L < GALFAST_VEC ? (int)L : GALFAST_VEC;
            j0 = L - jn;
            gap = pt - ps[j0 + jn - 1];
        }
        if (c == k && gap > 0.0 && gap * gap > h[k - 1] * (1.0 + 1e-9)) {
            if (take_right) right_open = 0; else left_open = 0;
            continue;
        }
        if (jn == GALFAST_VEC) {
            galfast_vd a0 = {0.0}, a1 = {0.0};
            for (int f = 0; f < d; f++) {
                const double *x = XT + (size_t)f * n + j0;
                const galfast_vd u0 = GALFAST_LD(x) - q[f];
                const galfast_vd u1 = GALFAST_LD(x + GALFAST_VLEN) - q[f];
                a0 += u0 * u0;
                a1 += u1 * u1;
            }
            for (int l = 0; l < GALFAST_VLEN; l++) {
                D[l] = a0[l];
                D[l + GALFAST_VLEN] = a1[l];
            }
        } else {
            for (int j = 0; j < jn; j++) {
                double a = 0.0;
                for (int f = 0; f < d; f++) {
                    const double t = XT[(size_t)f * n + j0 + j] - q[f];
                    a += t * t;
                }
                D[j] = a;
            }
        }
        for (int j = 0; j < jn; j++)
            if (c < k || D[j] <= h[k - 1]) galfast_nn_offer(h, hix, k, &c, D[j], perm[j0 + j]);
        if (take_right) { R += jn; right_open = R < n; }
        else { L -= jn; left_open = L > 0; }
    }
}

/* ---- p(z): summaries of a Gaussian mixture with one common width ------------------------------
 * The mixture is sum_i w[i] N(mu[i], s^2), sum w = 1 (csrc/kllr_core.pxi builds it from the
 * neighbours' leave-one-out residuals).  Φ by Abramowitz & Stegun 26.2.17 (absolute error
 * < 7.5e-8) with the exp above: per component one exp and one division, in branch-free
 * element-wise loops that vectorise, the sums taken by galfast_dot (fixed order).  tmp: scratch
 * of 3 * n doubles. */
static inline double galfast_norm_tail(double ax, double e) {
    /* 1 - Φ(ax) for ax >= 0, given e = exp(-ax^2/2) */
    const double t = 1.0 / (1.0 + 0.2316419 * ax);
    return 0.3989422804014327 * e * t * (0.319381530 + t * (-0.356563782 + t * (1.781477937
           + t * (-1.821255978 + t * 1.330274429))));
}

/* F(z) and the density f(z) of the mixture. */
static void galfast_mix_eval(const double *restrict mu, const double *restrict w, int n,
                             double s, double z, double *restrict tmp, double *F, double *f) {
    const double inv = 1.0 / s;
    double *restrict c = tmp, *restrict e = tmp + n;
    for (int i = 0; i < n; i++) {
        const double t = (z - mu[i]) * inv;
        const double ax = fabs(t);
        const double ex = galfast_exp_neg(-0.5 * ax * ax);
        const double q = galfast_norm_tail(ax, ex);
        c[i] = t >= 0.0 ? 1.0 - q : q;
        e[i] = ex;
    }
    *F = galfast_dot(w, c, n);
    *f = galfast_dot(w, e, n) * inv * 0.3989422804014327;
}

/* Φ⁻¹(p) for 0 < p < 1 (Acklam's rational approximation, relative error < 1.2e-9). */
static double galfast_norm_ppf(double p) {
    static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00};
    double q, r;
    if (p < 0.02425) {
        q = sqrt(-2.0 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
               / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    }
    if (p > 1.0 - 0.02425) {
        q = sqrt(-2.0 * log(1.0 - p));
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
               / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    }
    q = p - 0.5;
    r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
           / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
}

/* The q-quantile (u = Φ⁻¹(q)): Newton on g(z) = Φ⁻¹(F(z)), which is linear for a Gaussian and
 * nearly so for these mixtures (2-3 evaluations from the Gaussian start z0, also in the tails),
 * inside the bracket [lo, hi] (bisection where a step leaves it or F rounds to 0 or 1); stops
 * after a step below 0.02 s, taken (quadratic convergence: the error left is ~1e-3 s). */
static double galfast_mix_quantile(const double *restrict mu, const double *restrict w, int n,
                                   double s, double q, double u, double z0, double lo, double hi,
                                   double *restrict tmp) {
    double z = z0 > lo && z0 < hi ? z0 : 0.5 * (lo + hi), F, f, zn, g;
    for (int it = 0; it < 60; it++) {
        galfast_mix_eval(mu, w, n, s, z, tmp, &F, &f);
        if (F < q) lo = z; else hi = z;
        if (F > 0.0 && F < 1.0 && f > 0.0) {
            g = galfast_norm_ppf(F);
            zn = z + (u - g) * 0.3989422804014327 * galfast_exp_neg(-0.5 * g * g) / f;
        } else {
            zn = 0.5 * (lo + hi);
        }
        if (!(zn > lo && zn < hi)) zn = 0.5 * (lo + hi);
        if (fabs(zn - z) < 0.02 * s) { z = zn; break; }
        z = zn;
    }
    return z;
}

/* A mode: from x0, Newton steps on the density's derivative where the density is concave, else
 * mean-shift steps (x <- sum w φ mu / sum w φ, which climb the density monotonically). */
static double galfast_mix_mode(const double *restrict mu, const double *restrict w, int n,
                               double s, double x0, double *restrict tmp) {
    const double inv = 1.0 / s;
    double *restrict e0 = tmp, *restrict e1 = tmp + n, *restrict e2 = tmp + 2 * n;
    double x = x0;
    for (int it = 0; it < 60; it++) {
        for (int i = 0; i < n; i++) {
            const double t = (x - mu[i]) * inv;
            const double ex = galfast_exp_neg(-0.5 * t * t);
            e0[i] = ex;
            e1[i] = ex * t;
            e2[i] = ex * t * t;
        }
        const double S0 = galfast_dot(w, e0, n), S1 = galfast_dot(w, e1, n), S2 = galfast_dot(w, e2, n);
        if (!(S0 > 0.0)) break;
        double step = -s * S1 / S0;                       /* mean shift */
        if (S2 < S0) {                                    /* concave: Newton */
            const double nt = -s * S1 / (S0 - S2);
            if (fabs(nt) < 2.0 * s) step = nt;
        }
        x += step;
        if (fabs(step) < 1e-3 * s) break;
    }
    return x;
}

/* out[0..6] = mode, median, 15.87 %, 84.13 %, 2.5 %, 97.5 % quantiles and the odds, the mass
 * within ±odds_dz (1 + |mode|) of the mode.  Quantile searches start from the Gaussian with the
 * mixture's mean and variance. */
static void galfast_mix_summary(const double *restrict mu, const double *restrict w, int n,
                                double s, double odds_dz, double *restrict tmp,
                                double *restrict out) {
    double F1, F2, f, m1 = 0.0, m2 = 0.0, lo = mu[0], hi = mu[0];
    for (int i = 0; i < n; i++) {
        m1 += w[i] * mu[i];
        if (mu[i] < lo) lo = mu[i];
        if (mu[i] > hi) hi = mu[i];
    }
    for (int i = 0; i < n; i++) m2 += w[i] * (mu[i] - m1) * (mu[i] - m1);
    const double sd = sqrt(m2 + s * s);
    lo -= 10.0 * s;
    hi += 10.0 * s;
    const double med = galfast_mix_quantile(mu, w, n, s, 0.5, 0.0, m1, lo, hi, tmp);
    const double mode = galfast_mix_mode(mu, w, n, s, med, tmp);
    const double half = odds_dz * (1.0 + fabs(mode));
    out[0] = mode;
    out[1] = med;
    out[2] = galfast_mix_quantile(mu, w, n, s, 0.15865525393145707, -1.0, med - sd, lo, med, tmp);
    out[3] = galfast_mix_quantile(mu, w, n, s, 0.8413447460685429, 1.0, med + sd, med, hi, tmp);
    out[4] = galfast_mix_quantile(mu, w, n, s, 0.025, -1.959963984540054, med - 1.96 * sd, lo,
                                  out[2], tmp);
    out[5] = galfast_mix_quantile(mu, w, n, s, 0.975, 1.959963984540054, med + 1.96 * sd, out[3],
                                  hi, tmp);
    galfast_mix_eval(mu, w, n, s, mode - half, tmp, &F1, &f);
    galfast_mix_eval(mu, w, n, s, mode + half, tmp, &F2, &f);
    out[6] = F2 - F1;
}

#endif
