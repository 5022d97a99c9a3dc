# The kernelised local linear regression kernel, included by csrc/kllr.pyx (portable build) and
# csrc/kllr_avx2.pyx (AVX2 + FMA build, chosen at run time on CPUs that have them).
"""Kernelised local linear regression (KLLR) photo-z: the per-target compiled kernel.

For every target t (rows of ``Q``) with neighbour indices ``nbr[t, :k]`` into the training set:

0. mode guard (``tau`` > 0): the κ-weighted median z_med of the neighbours' y is found and the
   neighbours with |y − z_med|/(1 + |z_med|) > tau are dropped (a colour-degenerate neighbourhood
   mixes two redshift modes; the fit then follows the dominant one instead of landing between);
1. K_ij = exp(−γ‖x_i − x_j‖²) over the k neighbours, κ_i = exp(−γ‖x_t − x_i‖²);
2. α = (K + λI)⁻¹ (y − c) by Cholesky (c = mean of the neighbours' y when ``center``, else 0);
3. residuals r = y − c − Kα, δ = sqrt(mean r²); neighbours with |r| > clip·δ are dropped and
   α is solved again on the rest;
4. z = c + κ·α, clipped below at ``z_min``;
5. error: RMS of the kept neighbours' leave-one-out residuals α_i / (A⁻¹)_ii (exact for kernel
   ridge);
6. flags: bit 0 extrapolation (target outside its neighbours' bounding box in some feature),
   bit 1 z clipped at z_min, bit 2 neighbours dropped by the clip, bit 3 no estimate
   (Cholesky failed / no valid neighbour), bit 4 neighbours dropped by the mode guard.

Everything runs without the GIL in a ``prange`` over targets; per-thread scratch is malloc'd.
"""
from cython.parallel cimport prange, parallel
from libc.math cimport exp, sqrt, fabs, NAN, INFINITY
from libc.stdlib cimport malloc, free

import numpy as np

FLAG_EXTRAPOLATION = 1
FLAG_CLIPPED_AT_MIN = 2
FLAG_REFIT = 4
FLAG_FAILED = 8
FLAG_MODE = 16

cdef enum:
    F_EXTRAP = 1
    F_ZMIN = 2
    F_REFIT = 4
    F_FAIL = 8
    F_MODE = 16


cdef inline double _exp(double x) noexcept nogil:
    """exp(x) for x ≤ 0 (kernel arguments) to ~2 ulp: x = n ln2 + r, |r| ≤ ln2/2, degree-13 Taylor
    of e^r, times 2^n built in the exponent bits; 0 below −708.  Branch-light so loops vectorise
    (libm's exp is a call per element and dominated the kernel build)."""
    cdef double n, r, p
    cdef long long bits
    if x < -708.0:
        return 0.0
    n = <double> (<long long> (x * 1.4426950408889634 - 0.5))  # round toward −∞ for x ≤ 0
    r = x - n * 0.6931471803691238 - n * 1.9082149292705877e-10
    p = 1.0 + r * (1.0 + r * (0.5 + r * (1.6666666666666666e-01 + r * (4.1666666666666664e-02
        + r * (8.3333333333333332e-03 + r * (1.3888888888888889e-03 + r * (1.9841269841269841e-04
        + r * (2.4801587301587302e-05 + r * (2.7557319223985893e-06 + r * (2.7557319223985888e-07
        + r * (2.5052108385441720e-08 + r * (2.0876756987868100e-09 + r * 1.6059043836821613e-10))))))))))))
    bits = (<long long> n + 1023) << 52
    return p * (<double*> &bits)[0]


cdef inline double _dot(const double* a, const double* b, int n) noexcept nogil:
    # a plain loop: with -fassociative-math the compiler vectorises the reduction
    cdef double s = 0.0
    cdef int i
    for i in range(n):
        s += a[i] * b[i]
    return s


cdef inline double _sqdist(const double* a, const double* b, int d) noexcept nogil:
    cdef double s = 0.0, t
    cdef int i
    for i in range(d):
        t = a[i] - b[i]
        s += t * t
    return s


cdef int _cholesky(double* A, int n, double* inv) noexcept nogil:
    """In-place lower Cholesky of the row-major n×n SPD matrix A (lower triangle used);
    inv[j] = 1/L_jj (multiplications instead of divisions on the dependency chains)."""
    cdef int i, j
    cdef double s, r
    for j in range(n):
        s = A[j * n + j] - _dot(&A[j * n], &A[j * n], j)
        if not (s > 0.0):
            return -1
        s = sqrt(s)
        A[j * n + j] = s
        r = 1.0 / s
        inv[j] = r
        for i in range(j + 1, n):
            A[i * n + j] = (A[i * n + j] - _dot(&A[i * n], &A[j * n], j)) * r
    return 0


cdef void _chol_solve(const double* L, const double* inv, int n, double* b) noexcept nogil:
    """Solve (L Lᵀ) x = b in place."""
    cdef int i, p
    cdef double xi
    for i in range(n):
        b[i] = (b[i] - _dot(&L[i * n], b, i)) * inv[i]
    i = n - 1
    while i >= 0:
        xi = b[i] * inv[i]
        b[i] = xi
        for p in range(i):
            b[p] -= L[i * n + p] * xi
        i -= 1


cdef extern from *:
    """
    /* diag((L L^T)^-1) for row-major lower-triangular L (inv[i] = 1/L_ii).  W (n*n scratch)
       receives L^-1 row by row, row i = (e_i - sum_{p<i} L_ip W_p) / L_ii: contiguous axpys on
       distinct rows, declared restrict so the compiler vectorises them. */
    static void galfast_kllr_inv_diag(const double *restrict L, const double *restrict inv, int n,
                                      double *restrict W, double *restrict diag) {
        for (int j = 0; j < n; j++) diag[j] = 0.0;
        for (int i = 0; i < n; i++) {
            double *restrict wi = W + (size_t)i * n;
            for (int j = 0; j < i; j++) wi[j] = 0.0;
            for (int p = 0; p < i; p++) {
                const double a = L[(size_t)i * n + p];
                const double *restrict wp = W + (size_t)p * n;
                for (int j = 0; j <= p; j++) wi[j] -= a * wp[j];
            }
            wi[i] = 1.0;
            const double r = inv[i];
            for (int j = 0; j <= i; j++) {
                wi[j] *= r;
                diag[j] += wi[j] * wi[j];
            }
        }
    }
    """
    void galfast_kllr_inv_diag(const double* L, const double* inv, int n, double* W,
                               double* diag) noexcept nogil


cdef inline void _inv_diag(const double* L, const double* inv, int n, double* W, double* diag) noexcept nogil:
    """diag((L Lᵀ)⁻¹) through L⁻¹ (W: n×n scratch); see galfast_kllr_inv_diag."""
    galfast_kllr_inv_diag(L, inv, n, W, diag)


cdef int _fit(const double* Km, int ld, const int* sel, int m, const double* yc, double lam,
              double* A, double* inv, double* alpha) noexcept nogil:
    """Build A = K + λI over the neighbours ``sel[:m]`` (from the kernel matrix Km, leading
    dimension ld), factor it (A ← L) and solve α = A⁻¹ yc[sel]."""
    cdef int i, j, tries
    cdef double jitter = 0.0
    for tries in range(4):
        for i in range(m):
            for j in range(i + 1):
                A[i * m + j] = Km[sel[i] * ld + sel[j]]
            A[i * m + i] += lam + jitter
        if _cholesky(A, m, inv) == 0:
            for i in range(m):
                alpha[i] = yc[sel[i]]
            _chol_solve(A, inv, m, alpha)
            return 0
        jitter = 1e-10 if jitter == 0.0 else jitter * 1e3
    return -1


cdef void _one(const double[:, ::1] X, const double[::1] y, const double* q,
               const Py_ssize_t* nb, int kk, int n_train, int d, double lam, double gamma,
               double clip, bint center, double z_min, double tau, bint errors, double* ws,
               double* z_out, double* e_out, int* f_out, int* n_out) noexcept nogil:
    """Predict one target; ``ws`` is per-thread scratch of size _ws_size(kk, d)."""
    cdef int i, j, m, l, flags = 0
    cdef Py_ssize_t idx
    cdef double* Km = ws                  # kk*kk kernel between neighbours
    cdef double* A = Km + kk * kk         # kk*kk system / Cholesky factor
    cdef double* W = A + kk * kk          # kk*kk scratch (L⁻¹)
    cdef double* inv = W + kk * kk        # kk: 1/L_ii
    cdef double* yc = inv + kk            # kk centred labels
    cdef double* kap = yc + kk            # kk target-neighbour kernel
    cdef double* alpha = kap + kk         # kk weights
    cdef double* res = alpha + kk         # kk residuals / LOO
    cdef double* dg = res + kk            # kk diag of A⁻¹
    cdef int* sel = <int*> (dg + kk)      # kk selected neighbour slots
    cdef int* rows = sel + kk             # kk training rows
    cdef double c = 0.0, s, delta, zz, lo, hi, v, wt, cum, zmed
    cdef bint outside

    # valid neighbours (cKDTree pads with index n_train when it finds fewer)
    m = 0
    for i in range(kk):
        idx = nb[i]
        if idx >= 0 and idx < n_train:
            rows[m] = <int> idx
            m += 1
    if m == 0:
        z_out[0] = NAN
        e_out[0] = NAN
        f_out[0] = F_FAIL
        n_out[0] = 0
        return
    # extrapolation: outside the bounding box of the k neighbours in any feature
    outside = False
    for j in range(d):
        lo = INFINITY
        hi = -INFINITY
        for i in range(m):
            v = X[rows[i], j]
            if v < lo:
                lo = v
            if v > hi:
                hi = v
        if q[j] < lo or q[j] > hi:
            outside = True
    if outside:
        flags |= F_EXTRAP
    for i in range(m):
        kap[i] = _exp(-gamma * _sqdist(q, &X[rows[i], 0], d))
    if tau > 0.0 and m > 1:
        # κ-weighted median of y: insertion sort of (y, κ) in res/dg, first cum. weight ≥ 1/2
        wt = 0.0
        for i in range(m):
            wt += kap[i]
        for i in range(m):
            v = y[rows[i]]
            s = kap[i] if wt > 0.0 else 1.0
            j = i
            while j > 0 and res[j - 1] > v:
                res[j] = res[j - 1]
                dg[j] = dg[j - 1]
                j -= 1
            res[j] = v
            dg[j] = s
        if not (wt > 0.0):
            wt = m
        cum = 0.0
        zmed = res[m - 1]
        for i in range(m):
            cum += dg[i] / wt
            if cum >= 0.5:
                zmed = res[i]
                break
        l = 0
        for i in range(m):
            if fabs(y[rows[i]] - zmed) <= tau * (1.0 + fabs(zmed)):
                rows[l] = rows[i]
                kap[l] = kap[i]
                l += 1
        if l < m:
            flags |= F_MODE
            m = l
    if center:
        s = 0.0
        for i in range(m):
            s += y[rows[i]]
        c = s / m
    for i in range(m):
        yc[i] = y[rows[i]] - c
        for j in range(i):
            Km[i * kk + j] = -gamma * _sqdist(&X[rows[i], 0], &X[rows[j], 0], d)
        for j in range(i):
            Km[i * kk + j] = _exp(Km[i * kk + j])
        for j in range(i):
            Km[j * kk + i] = Km[i * kk + j]
        Km[i * kk + i] = 1.0
        sel[i] = i

    if _fit(Km, kk, sel, m, yc, lam, A, inv, alpha) != 0:
        z_out[0] = NAN
        e_out[0] = NAN
        f_out[0] = flags | F_FAIL
        n_out[0] = 0
        return
    # residuals of the neighbours: r = yc − K α
    s = 0.0
    for i in range(m):
        v = _dot(&Km[i * kk], alpha, m)
        res[i] = yc[i] - v
        s += res[i] * res[i]
    delta = sqrt(s / m)
    l = 0
    for i in range(m):
        if fabs(res[i]) <= clip * delta:
            sel[l] = i
            l += 1
    if l < m and l > 0:
        flags |= F_REFIT
        if _fit(Km, kk, sel, l, yc, lam, A, inv, alpha) != 0:
            z_out[0] = NAN
            e_out[0] = NAN
            f_out[0] = flags | F_FAIL
            n_out[0] = 0
            return
    else:
        l = m
    zz = c
    for i in range(l):
        zz += alpha[i] * kap[sel[i]]
    if zz < z_min:
        zz = z_min
        flags |= F_ZMIN
    z_out[0] = zz
    if errors:
        # leave-one-out residuals of the final fit: e_i = α_i / (A⁻¹)_ii
        _inv_diag(A, inv, l, W, dg)
        s = 0.0
        for i in range(l):
            v = alpha[i] / dg[i]
            s += v * v
        e_out[0] = sqrt(s / l)
    else:
        e_out[0] = NAN
    f_out[0] = flags
    n_out[0] = l


cdef inline Py_ssize_t _ws_size(int kk) noexcept nogil:
    return 3 * kk * kk + 8 * kk + 2 * kk  # doubles (the two int arrays fit in 2*kk doubles)


def fast_exp(const double[::1] x):
    """The kernel's exp (for tests): array of _exp(x) for x ≤ 0."""
    out = np.empty(x.shape[0])
    cdef double[::1] o = out
    cdef Py_ssize_t i
    for i in range(x.shape[0]):
        o[i] = _exp(x[i])
    return out


def kllr_predict(const double[:, ::1] X, const double[::1] y, const double[:, ::1] Q,
                 const Py_ssize_t[:, ::1] nbr, int k, double lam, double gamma,
                 double clip=3.0, bint center=False, double z_min=-INFINITY, double tau=0.0,
                 int num_threads=1, bint errors=True):
    """Predict every row of ``Q`` from its first ``k`` neighbours ``nbr[t, :k]`` (indices into
    ``X``/``y``; indices outside [0, len(X)) are ignored).

    tau > 0 turns on the mode guard (see the module docstring); ``errors=False`` skips the
    leave-one-out error (z_err NaN; saves the k³/3 of diag((K+λI)⁻¹)).
    Returns (z, z_err, flags int32, n_used int32): flags bit 0 extrapolation, 1 clipped at z_min,
    2 neighbours dropped by the clip, 3 failed (NaN), 4 neighbours dropped by the mode guard.
    """
    cdef Py_ssize_t n_t = Q.shape[0], t
    cdef int d = X.shape[1], n_train = X.shape[0]
    if Q.shape[1] != d:
        raise ValueError(f"targets have {Q.shape[1]} features, training set {d}")
    if y.shape[0] != n_train:
        raise ValueError(f"{y.shape[0]} labels for {n_train} training rows")
    if nbr.shape[0] != n_t:
        raise ValueError(f"{nbr.shape[0]} neighbour lists for {n_t} targets")
    if k < 1 or k > nbr.shape[1]:
        raise ValueError(f"k={k} outside 1..{nbr.shape[1]} (columns of the neighbour lists)")
    if not (lam >= 0.0) or not (gamma > 0.0):
        raise ValueError(f"need lam >= 0 and gamma > 0, got lam={lam}, gamma={gamma}")
    if num_threads < 1:
        num_threads = 1
    z = np.empty(n_t, dtype=np.float64)
    e = np.empty(n_t, dtype=np.float64)
    f = np.empty(n_t, dtype=np.int32)
    nu = np.empty(n_t, dtype=np.int32)
    cdef double[::1] zv = z, ev = e
    cdef int[::1] fv = f, nv = nu
    cdef double* ws
    cdef Py_ssize_t wsz = _ws_size(k)
    if n_t == 0:
        return z, e, f, nu
    with nogil, parallel(num_threads=num_threads):
        ws = <double*> malloc(wsz * sizeof(double))
        if ws != NULL:
            for t in prange(n_t, schedule="static", chunksize=64):
                _one(X, y, &Q[t, 0], &nbr[t, 0], k, n_train, d, lam, gamma, clip, center, z_min,
                     tau, errors, ws, &zv[t], &ev[t], &fv[t], &nv[t])
            free(ws)
        else:
            for t in prange(n_t, schedule="static", chunksize=64):
                fv[t] = -1
    if (f < 0).any():
        raise MemoryError("kllr_predict: could not allocate per-thread scratch")
    return z, e, f, nu


cdef inline void _insert(double* hd, Py_ssize_t* hi, int last, double v, Py_ssize_t j) noexcept nogil:
    """Insert (v, j) into the sorted hd[:last] (dropping slot ``last``'s old content)."""
    cdef int p = last
    while p > 0 and hd[p - 1] > v:
        hd[p] = hd[p - 1]
        hi[p] = hi[p - 1]
        p -= 1
    hd[p] = v
    hi[p] = j


def knn_brute(const double[:, ::1] XT, const double[:, ::1] Q, int k, int num_threads=1):
    """The k nearest training rows of every row of ``Q`` by exhaustive squared Euclidean distance.

    XT : (d, n) training features, transposed (the distance loop runs over training rows and
    vectorises); Q : (m, d).  Returns (m, k) intp indices, nearest first, ties by lower index
    (the k best are kept sorted; a row enters by insertion only when closer than the k-th).
    For the few thousand training galaxies of a spectroscopic sample this beats a KD-tree in 10-d
    several times over (a tree prunes little in 10 dimensions).
    """
    cdef int d = XT.shape[0], n = XT.shape[1], i, j, f, kk
    cdef Py_ssize_t m = Q.shape[0], t
    if Q.shape[1] != d:
        raise ValueError(f"targets have {Q.shape[1]} features, training set {d}")
    if k < 1 or k > n:
        raise ValueError(f"k={k} outside 1..{n} (training rows)")
    if num_threads < 1:
        num_threads = 1
    out = np.empty((m, k), dtype=np.intp)
    cdef Py_ssize_t[:, ::1] ov = out
    cdef double* D
    cdef double* hd
    cdef Py_ssize_t* hi
    cdef double qf, v
    fail = np.zeros(1, dtype=np.intc)
    cdef int[::1] failed = fail
    if m == 0:
        return out
    with nogil, parallel(num_threads=num_threads):
        D = <double*> malloc((n + k) * sizeof(double))
        hi = <Py_ssize_t*> malloc(k * sizeof(Py_ssize_t))
        if D == NULL or hi == NULL:
            failed[0] = 1
        else:
            hd = D + n
            for t in prange(m, schedule="static", chunksize=32):
                for j in range(n):
                    D[j] = 0.0
                for f in range(d):
                    qf = Q[t, f]
                    for j in range(n):
                        v = XT[f, j] - qf
                        D[j] = D[j] + v * v
                # keep the k best sorted by (distance, index): insertion from the back; a new
                # row only enters if strictly closer than the current k-th (ties: lower index)
                for j in range(k):
                    _insert(hd, hi, j, D[j], j)
                for j in range(k, n):
                    if D[j] < hd[k - 1]:
                        _insert(hd, hi, k - 1, D[j], j)
                for j in range(k):
                    ov[t, j] = hi[j]
        free(D)
        free(hi)
    if fail[0]:
        raise MemoryError("knn_brute: could not allocate per-thread scratch")
    return out
