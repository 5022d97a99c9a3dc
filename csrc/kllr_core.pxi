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

Everything runs without the GIL in a ``prange`` over targets; per-thread scratch is malloc'd
(a failed allocation raises MemoryError after the parallel region).  Training-row indices and
counts are 64-bit throughout (``Py_ssize_t`` / ``long long``): nothing narrows to a C int.
"""
from cython.parallel cimport prange, parallel
from libc.math cimport sqrt, fabs, exp, log, NAN, INFINITY
from libc.stdlib cimport malloc, calloc, free

import numpy as np

cdef enum:
    N_SUMMARY = 7
cdef double PDF_MIN_WIDTH = 1e-5

cdef enum:
    F_EXTRAP = 1
    F_ZMIN = 2
    F_REFIT = 4
    F_FAIL = 8
    F_MODE = 16

# The flag bits the kernel sets, taken from the C constants above (not retyped).
FLAG_EXTRAPOLATION = F_EXTRAP
FLAG_CLIPPED_AT_MIN = F_ZMIN
FLAG_REFIT = F_REFIT
FLAG_FAILED = F_FAIL
FLAG_MODE = F_MODE
#: name -> bit of every flag the kernel sets (names as in the package's flag registry)
KERNEL_FLAGS = {"extrapolation": F_EXTRAP, "clipped_at_min": F_ZMIN, "neighbours_clipped": F_REFIT,
                "no_estimate": F_FAIL, "mode_guard": F_MODE}


cdef extern from "kllr_linalg.h":
    double galfast_exp_neg(double x) noexcept nogil
    int GALFAST_VEC
    void galfast_kernel_matrix(const double* G, int d, int ld, int m, double gamma, double* K,
                               int ldk) noexcept nogil
    int galfast_chol_upper(double* U, int n, int lda, double* inv) noexcept nogil
    void galfast_chol_solve_upper(const double* U, int n, int lda, const double* inv,
                                  double* b) noexcept nogil
    void galfast_inv_diag_upper(const double* U, int n, int lda, const double* inv, double* W,
                                double* diag) noexcept nogil
    double galfast_dot(const double* a, const double* b, int n) noexcept nogil
    void galfast_residual_sym(const double* K, int ldk, int m, const double* x, const double* y,
                              double* r) noexcept nogil
    void galfast_knn_sorted(const double* XT, int d, long long n, const double* ps,
                            const long long* perm, const double* u, const double* q, int k,
                            double* h, long long* hix) noexcept nogil
    void galfast_mix_summary(const double* mu, const double* w, int n, double s, double odds_dz,
                             double* tmp, double* out) noexcept nogil


cdef inline double _sqdist(const double* a, const double* b, int d) noexcept nogil:
    cdef double s = 0.0, t
    cdef int i
    for i in range(d):
        t = a[i] - b[i]
        s += t * t
    return s


cdef int _fit(const double* Km, int ld, const int* sel, int m, const double* yc, double lam,
              double* A, double* inv, double* alpha) noexcept nogil:
    """Build A = K + λI over the neighbours ``sel[:m]`` (upper triangle, from the kernel matrix
    Km; A and Km have leading dimension ld; A's rows zero elsewhere), factor it (A ← U, A = UᵀU)
    and solve α = A⁻¹ yc[sel] (alpha: ld entries, zero beyond m)."""
    cdef int i, j, tries
    cdef const double* kr
    cdef double* ar
    cdef double jitter = 0.0
    for tries in range(4):
        for i in range(m):
            kr = &Km[<Py_ssize_t> sel[i] * ld]
            ar = &A[<Py_ssize_t> i * ld]
            for j in range(i):
                ar[j] = 0.0
            for j in range(i, m):
                ar[j] = kr[sel[j]]
            for j in range(m, ld):
                ar[j] = 0.0
            ar[i] += lam + jitter
        if galfast_chol_upper(A, m, ld, inv) == 0:
            for i in range(m):
                alpha[i] = yc[sel[i]]
            for i in range(m, ld):
                alpha[i] = 0.0
            galfast_chol_solve_upper(A, m, ld, inv, alpha)
            return 0
        jitter = 1e-10 if jitter == 0.0 else jitter * 1e3
    return -1


cdef inline double _kij(const double* Km, int kv, int i, int j) noexcept nogil:
    """K_ij of the symmetric kernel matrix of which only the upper triangle is stored."""
    if i <= j:
        return Km[<Py_ssize_t> i * kv + j]
    return Km[<Py_ssize_t> j * kv + i]


cdef void _pdf_fail(int kk, double* p_mu, double* p_w, double* p_s, double* p_sum) noexcept nogil:
    cdef int i
    for i in range(kk):
        p_mu[i] = NAN
        p_w[i] = 0.0
    p_s[0] = NAN
    for i in range(N_SUMMARY):
        p_sum[i] = NAN


cdef void _one(const double[:, ::1] X, const double[::1] y, const double* q,
               const Py_ssize_t* nb, int kk, Py_ssize_t n_train, int d, double lam, double gamma,
               double clip, bint center, double z_min, double tau, bint errors, double* ws,
               double* z_out, double* e_out, int* f_out, int* n_out, bint pdf, double odds_dz,
               double* p_mu, double* p_w, double* p_s, double* p_sum) noexcept nogil:
    """Predict one target; ``ws`` is per-thread scratch of size _ws_size(kk, d).  With ``pdf``
    also its p(z) mixture (p_mu, p_w: kk slots, p_s: the width) and summaries (p_sum)."""
    cdef int i, j, m, l, flags = 0
    cdef int kv = _padded(kk)             # leading dimension of Km and G (whole vectors)
    cdef Py_ssize_t idx
    cdef double* G = ws                   # d*kv neighbour features, transposed (zeroed at start)
    cdef double* Km = G + <Py_ssize_t> d * kv     # kk*kv kernel between neighbours
    cdef double* A = Km + <Py_ssize_t> kk * kv    # kk*kv system / Cholesky factor
    cdef double* W = A + <Py_ssize_t> kk * kv     # kk*kv scratch (U⁻¹)
    cdef double* inv = W + <Py_ssize_t> kk * kv   # kk: 1/U_ii
    cdef double* yc = inv + kk            # kk centred labels
    cdef double* kap = yc + kk            # kk target-neighbour kernel
    cdef double* alpha = kap + kk         # kv weights
    cdef double* res = alpha + kv         # kk residuals / LOO
    cdef double* dg = res + kk            # kk diag of A⁻¹
    cdef Py_ssize_t* rows = <Py_ssize_t*> (dg + kk)  # kk training rows (64-bit)
    cdef int* sel = <int*> (rows + kk)    # kk selected neighbour slots
    cdef double* cmu = <double*> (sel + 2 * kk)   # kk p(z) component centres (2kk ints = kk doubles)
    cdef double* cw = cmu + kk            # kk their weights
    cdef double* dy = cw + kk             # kk y of the neighbours the mode guard dropped
    cdef double* dk = dy + kk             # kk their κ
    cdef double* tmp = dk + kk            # 3 kk scratch of the mixture summaries
    cdef double c = 0.0, s, delta, zz, lo, hi, v, wt, cum, zmed
    cdef double sw, sw2, swo2, neff, b, shrink, width
    cdef int nd = 0, nc, p
    cdef bint outside

    # valid neighbours (cKDTree pads with index n_train when it finds fewer)
    m = 0
    for i in range(kk):
        idx = nb[i]
        if idx >= 0 and idx < n_train:
            rows[m] = idx
            m += 1
    if m == 0:
        z_out[0] = NAN
        e_out[0] = NAN
        f_out[0] = F_FAIL
        n_out[0] = 0
        if pdf:
            _pdf_fail(kk, p_mu, p_w, p_s, p_sum)
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
        kap[i] = galfast_exp_neg(-gamma * _sqdist(q, &X[rows[i], 0], d))
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
            else:
                dy[nd] = y[rows[i]]
                dk[nd] = kap[i]
                nd += 1
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
        sel[i] = i
        for j in range(d):
            G[<Py_ssize_t> j * kv + i] = X[rows[i], j]
    galfast_kernel_matrix(G, d, kv, m, gamma, Km, kv)

    if _fit(Km, kv, sel, m, yc, lam, A, inv, alpha) != 0:
        z_out[0] = NAN
        e_out[0] = NAN
        f_out[0] = flags | F_FAIL
        n_out[0] = 0
        if pdf:
            _pdf_fail(kk, p_mu, p_w, p_s, p_sum)
        return
    # residuals of the neighbours: r = yc − K α
    galfast_residual_sym(Km, kv, m, alpha, yc, res)
    delta = sqrt(galfast_dot(res, res, m) / m)
    l = 0
    for i in range(m):
        if fabs(res[i]) <= clip * delta:
            sel[l] = i
            l += 1
    if l < m and l > 0:
        flags |= F_REFIT
        if _fit(Km, kv, sel, l, yc, lam, A, inv, alpha) != 0:
            z_out[0] = NAN
            e_out[0] = NAN
            f_out[0] = flags | F_FAIL
            n_out[0] = 0
            if pdf:
                _pdf_fail(kk, p_mu, p_w, p_s, p_sum)
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
    if errors or pdf:
        # leave-one-out residuals of the final fit: e_i = α_i / (A⁻¹)_ii
        galfast_inv_diag_upper(A, l, kv, inv, W, dg)
        s = 0.0
        for i in range(l):
            v = alpha[i] / dg[i]
            s += v * v
        e_out[0] = sqrt(s / l) if errors else NAN
    else:
        e_out[0] = NAN
    f_out[0] = flags
    n_out[0] = l
    if not pdf:
        return
    # p(z): a variance-preserving kernel density estimate of the κ-weighted leave-one-out
    # residuals of the fitted neighbours around z, plus the neighbours the clip or the mode guard
    # dropped at their own out-of-sample offsets (the tails); see the module docstring.
    sw = 0.0
    sw2 = 0.0
    swo2 = 0.0
    for i in range(l):
        v = alpha[i] / dg[i]
        cmu[i] = v
        cw[i] = kap[sel[i]]
        sw += cw[i]
        sw2 += cw[i] * cw[i]
        swo2 += cw[i] * v * v
    if not (sw > 0.0):                     # κ underflowed everywhere: equal weights
        for i in range(l):
            cw[i] = 1.0
        sw = l
        sw2 = l
        swo2 = 0.0
        for i in range(l):
            swo2 += cmu[i] * cmu[i]
    neff = sw * sw / sw2
    b = 1.06 * exp(-0.2 * log(neff)) if neff > 1.0 else 1.0
    if b > 1.0:
        b = 1.0
    shrink = sqrt(1.0 - b * b)
    width = b * sqrt(swo2 / sw)
    if not (width > PDF_MIN_WIDTH * (1.0 + fabs(zz))):
        width = PDF_MIN_WIDTH * (1.0 + fabs(zz))
    for i in range(l):
        cmu[i] = zz + shrink * cmu[i]
    nc = l
    if l < m:                              # clipped neighbours: residual of the final fit at x_j
        p = 0
        for j in range(m):
            if p < l and sel[p] == j:
                p += 1
                continue
            v = yc[j]
            for i in range(l):
                v -= _kij(Km, kv, j, sel[i]) * alpha[i]
            cmu[nc] = zz + v
            cw[nc] = kap[j] if sw > 0.0 else 1.0
            nc += 1
    for i in range(nd):                    # mode-guard drops: at their own redshift
        cmu[nc] = dy[i]
        cw[nc] = dk[i]
        nc += 1
    wt = 0.0
    for i in range(nc):
        wt += cw[i]
    if not (wt > 0.0):
        for i in range(nc):
            cw[i] = 1.0
        wt = nc
    for i in range(nc):
        cw[i] = cw[i] / wt
    galfast_mix_summary(cmu, cw, nc, width, odds_dz, tmp, p_sum)
    for i in range(N_SUMMARY - 1):
        if p_sum[i] < z_min:
            p_sum[i] = z_min
    for i in range(nc):
        p_mu[i] = cmu[i]
        p_w[i] = cw[i]
    for i in range(nc, kk):
        p_mu[i] = zz
        p_w[i] = 0.0
    p_s[0] = width


cdef inline int _padded(int kk) noexcept nogil:
    return (kk + GALFAST_VEC - 1) // GALFAST_VEC * GALFAST_VEC


cdef inline Py_ssize_t _ws_size(int kk, int d) noexcept nogil:
    # doubles: G d*kv, Km, A and W kk*kv, alpha kv, 5 vectors of kk, then the kk Py_ssize_t rows
    # and kk int slots (at most 2*kk doubles; 4*kk reserved), then 4 p(z) vectors of kk
    cdef Py_ssize_t kv = _padded(kk)
    return d * kv + 3 * kk * kv + kv + 16 * <Py_ssize_t> kk


def fast_exp(const double[::1] x):
    """The kernel's exp (for tests): array of exp(x) for x ≤ 0 (csrc/kllr_linalg.h)."""
    out = np.empty(x.shape[0])
    cdef double[::1] o = out
    cdef Py_ssize_t i
    for i in range(x.shape[0]):
        o[i] = galfast_exp_neg(x[i])
    return out


def kllr_predict(const double[:, ::1] X, const double[::1] y, const double[:, ::1] Q,
                 const Py_ssize_t[:, ::1] nbr, int k, double lam, double gamma,
                 double clip=3.0, bint center=False, double z_min=-INFINITY, double tau=0.0,
                 int num_threads=1, bint errors=True, bint pdf=False, double odds_dz=0.06):
    """Predict every row of ``Q`` from its first ``k`` neighbours ``nbr[t, :k]`` (indices into
    ``X``/``y``; indices outside [0, len(X)) are ignored).

    tau > 0 turns on the mode guard (see the module docstring); ``errors=False`` skips the
    leave-one-out error (z_err NaN; saves the k³/3 of diag((K+λI)⁻¹)).
    Returns (z, z_err, flags int32, n_used int32): flags bit 0 extrapolation, 1 clipped at z_min,
    2 neighbours dropped by the clip, 3 failed (NaN), 4 neighbours dropped by the mode guard.
    With ``pdf`` also (mu (n, k), w (n, k), sigma (n,), summary (n, 7)): each target's p(z), the
    Gaussian mixture sum_i w_i N(mu_i, sigma²) (used components first; unused slots w = 0), and
    its mode, median, 16/84 % and 2.5/97.5 % quantiles (clipped below at z_min) and the odds
    (mass within ±odds_dz (1 + mode) of the mode); NaN / w = 0 where there is no estimate.
    """
    cdef Py_ssize_t n_t = Q.shape[0], t
    cdef Py_ssize_t n_train = X.shape[0]
    cdef int d = X.shape[1]
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
    cdef Py_ssize_t wsz = _ws_size(k, d)
    cdef Py_ssize_t kp = k if pdf else 1
    pmu = np.empty((n_t if pdf else 1, kp), dtype=np.float64)
    pw = np.empty((n_t if pdf else 1, kp), dtype=np.float64)
    ps = np.empty(n_t if pdf else 1, dtype=np.float64)
    psum = np.empty((n_t if pdf else 1, N_SUMMARY), dtype=np.float64)
    cdef double[:, ::1] pmu_v = pmu, pw_v = pw, psum_v = psum
    cdef double[::1] ps_v = ps
    cdef Py_ssize_t tp
    if n_t == 0:
        return (z, e, f, nu, pmu, pw, ps, psum) if pdf else (z, e, f, nu)
    fail = np.zeros(1, dtype=np.intc)
    cdef int[::1] failed = fail
    # Every thread of the team meets the same prange (an OpenMP work-sharing loop must be met by
    # all threads or none); a thread without scratch only skips its iterations and sets the flag.
    with nogil, parallel(num_threads=num_threads):
        ws = <double*> calloc(wsz, sizeof(double))  # zeroed: G's padding columns stay finite
        if ws == NULL:
            failed[0] = 1
        for t in prange(n_t, schedule="static", chunksize=64):
            if ws != NULL:
                tp = t if pdf else 0
                _one(X, y, &Q[t, 0], &nbr[t, 0], k, n_train, d, lam, gamma, clip, center, z_min,
                     tau, errors, ws, &zv[t], &ev[t], &fv[t], &nv[t], pdf, odds_dz,
                     &pmu_v[tp, 0], &pw_v[tp, 0], &ps_v[tp], &psum_v[tp, 0])
        free(ws)
    if fail[0]:
        raise MemoryError(f"kllr_predict: could not allocate {wsz * sizeof(double)} bytes of "
                          f"per-thread scratch (k={k}, {d} features)")
    return (z, e, f, nu, pmu, pw, ps, psum) if pdf else (z, e, f, nu)


def projection_sort(const double[:, ::1] XT):
    """The training set prepared for :func:`knn_sorted`: ``(XTs, ps, perm, u)`` — u the first
    principal axis of the rows of XTᵀ (unit vector), perm the row order by projection on u
    (stable), XTs = XT[:, perm] (contiguous), ps the sorted projections."""
    X = np.asarray(XT).T
    Xc = X - X.mean(axis=0)
    u = np.ascontiguousarray(np.linalg.eigh(Xc.T @ Xc)[1][:, -1], dtype=np.float64)
    p = X @ u
    perm = np.argsort(p, kind="stable")
    return (np.ascontiguousarray(np.asarray(XT)[:, perm]), np.ascontiguousarray(p[perm]),
            perm.astype(np.int64), u)


def knn_brute(const double[:, ::1] XT, const double[:, ::1] Q, int k, int num_threads=1):
    """The exact k nearest training rows of every row of ``Q`` (XT: (d, n) training features,
    transposed): :func:`knn_sorted` on :func:`projection_sort` of XT (prepare once with
    ``projection_sort`` and call ``knn_sorted`` to query a fixed training set many times)."""
    XTs, ps, perm, u = projection_sort(XT)
    return knn_sorted(XTs, ps, perm, u, Q, k, num_threads)


def knn_sorted(const double[:, ::1] XTs, const double[::1] ps, const long long[::1] perm,
               const double[::1] u, const double[:, ::1] Q, int k, int num_threads=1):
    """The exact k nearest training rows of every row of ``Q`` by squared Euclidean distance,
    from a training set prepared by :func:`projection_sort`.

    Returns (m, k) intp training-row indices, nearest first, ties by lower index — the same as an
    exhaustive search, but each target scans the training set sorted by its first principal axis
    outwards from its own projection and stops where the projection gap exceeds its k-th distance
    (galfast_knn_sorted in csrc/kllr_linalg.h).  For the few thousand training galaxies of a
    spectroscopic sample this beats a KD-tree in 10-d several times over (a tree prunes little in
    10 dimensions).
    """
    cdef int d = XTs.shape[0], j
    cdef Py_ssize_t n = XTs.shape[1]
    cdef Py_ssize_t m = Q.shape[0], t
    if Q.shape[1] != d:
        raise ValueError(f"targets have {Q.shape[1]} features, training set {d}")
    if k < 1 or k > n:
        raise ValueError(f"k={k} outside 1..{n} (training rows)")
    if ps.shape[0] != n or perm.shape[0] != n or u.shape[0] != d:
        raise ValueError("ps, perm and u must come from projection_sort of the same training set")
    if num_threads < 1:
        num_threads = 1
    out = np.empty((m, k), dtype=np.intp)
    if m == 0:
        return out
    cdef Py_ssize_t[:, ::1] ov = out
    cdef double* hd
    cdef long long* hi
    fail = np.zeros(1, dtype=np.intc)
    cdef int[::1] failed = fail
    # as in kllr_predict: one prange met by every thread, failures flagged and raised after it
    with nogil, parallel(num_threads=num_threads):
        hd = <double*> malloc(k * sizeof(double))
        hi = <long long*> malloc(k * sizeof(long long))
        if hd == NULL or hi == NULL:
            failed[0] = 1
        for t in prange(m, schedule="static", chunksize=32):
            if hd != NULL and hi != NULL:
                galfast_knn_sorted(&XTs[0, 0], d, n, &ps[0], &perm[0], &u[0], &Q[t, 0], k, hd, hi)
                for j in range(k):
                    ov[t, j] = <Py_ssize_t> hi[j]
        free(hd)
        free(hi)
    if fail[0]:
        raise MemoryError("knn_sorted: could not allocate per-thread scratch")
    return out
