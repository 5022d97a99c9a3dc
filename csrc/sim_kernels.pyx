# cython: language_level=3
"""Simulator hot loop: from unattenuated rest-frame spectra to bagpipes photometry [µJy].

Per galaxy g (rows of ``spec``, rest-frame wavelengths ``wav``), exactly as
``bagpipes.model_galaxy`` does it:

1. diffuse-ISM attenuation ``spec *= trans`` (trans = 10^{-A_V A_λ/2.5}, given), with the
   absorbed luminosity L_dust = ∫ (S − S·trans) dλ (trapezoid weights ``tw``) [L☉];
2. energy balance: + L_dust × dust-emission template (one shared row, or one row per galaxy);
3. IGM transmission, linear in redshift between grid rows ``igm_i0[g]`` and ``igm_i0[g] + 1``
   with weight ``igm_f[g]``; flux scale ``scale[g]`` = L☉ / (4π d_L² (1+z));
4. bagpipes' filter integration: the curves ``filt`` (on the same grid, observed frame) are
   blueshifted by 1+z with ``np.interp`` semantics and photometry = Σ S c T / Σ c T × ``mujy``,
   c = bin width × λ.  Only the wavelengths whose redshifted position meets a filter are visited
   (a merge walk, no search).

``spec`` is overwritten (attenuated).  Runs without the GIL over galaxies in ``n_threads``
(per-thread scratch is malloc'd; a failed allocation raises MemoryError after the parallel
region).  ``igm_i0`` is int64 (``long long``: 64-bit on every platform, unlike C ``long``).
"""
from cython.parallel cimport prange, parallel
from libc.stdlib cimport malloc, free

import numpy as np


def finish_photometry(double[:, ::1] spec, const double[:, ::1] trans, const double[:, ::1] dust,
                      const double[::1] scale, const double[::1] zp1,
                      const long long[::1] igm_i0, const double[::1] igm_f, const double[:, ::1] igm_t,
                      const double[::1] wav, const double[::1] cw, const double[::1] tw,
                      const double[:, ::1] filt, const double[::1] mujy,
                      double[:, ::1] out_flux, double[::1] out_ldust,
                      int m_lo, int m_hi, int n_threads=1):
    """Fill ``out_flux`` (N, B) [µJy] and ``out_ldust`` (N,) [L☉]; see the module docstring."""
    cdef Py_ssize_t n = spec.shape[0], n_w = spec.shape[1], n_b = filt.shape[1]
    cdef Py_ssize_t g, j, k, b, d_row
    cdef double ld, a, x, f, s, w, t, i_lo, i_hi, zf, x_lo, x_hi
    cdef double* norm
    if trans.shape[0] != n or trans.shape[1] != n_w or filt.shape[0] != n_w or wav.shape[0] != n_w:
        raise ValueError("finish_photometry: inconsistent array shapes")
    if dust.shape[0] != 1 and dust.shape[0] != n:
        raise ValueError("finish_photometry: dust template needs 1 or N rows")
    if out_flux.shape[0] != n or out_flux.shape[1] != n_b or igm_t.shape[1] != n_w:
        raise ValueError("finish_photometry: inconsistent output / IGM shapes")
    if m_lo < 0 or m_hi >= n_w or m_lo > m_hi:
        raise ValueError("finish_photometry: bad filter support")
    x_lo = wav[m_lo]
    x_hi = wav[m_hi]
    fail = np.zeros(1, dtype=np.intc)
    cdef int[::1] failed = fail
    # every thread meets the one prange; one without scratch skips its galaxies and sets the flag
    with nogil, parallel(num_threads=n_threads if n_threads > 0 else 1):
        norm = <double*> malloc((n_b if n_b > 0 else 1) * sizeof(double))
        if norm == NULL:
            failed[0] = 1
        for g in prange(n, schedule="static"):
            if norm == NULL:
                continue
            # 1. attenuation and absorbed luminosity
            ld = 0.0
            for j in range(n_w):
                a = spec[g, j] * trans[g, j]
                ld = ld + (spec[g, j] - a) * tw[j]
                spec[g, j] = a
            out_ldust[g] = ld
            d_row = g if dust.shape[0] > 1 else 0
            zf = igm_f[g]
            for b in range(n_b):
                out_flux[g, b] = 0.0
                norm[b] = 0.0
            # 2-4. only rest wavelengths whose observed position meets a filter
            k = m_lo
            for j in range(n_w):
                x = wav[j] * zp1[g]
                if x < x_lo:
                    continue
                if x > x_hi:
                    break
                while k < n_w - 2 and wav[k + 1] <= x:
                    k = k + 1
                f = (x - wav[k]) / (wav[k + 1] - wav[k])
                s = (spec[g, j] + ld * dust[d_row, j]) * scale[g] * (
                    (1.0 - zf) * igm_t[igm_i0[g], j] + zf * igm_t[igm_i0[g] + 1, j])
                w = cw[j]
                for b in range(n_b):
                    t = filt[k, b] + f * (filt[k + 1, b] - filt[k, b])
                    out_flux[g, b] += s * w * t
                    norm[b] += w * t
            for b in range(n_b):
                if norm[b] > 0:
                    out_flux[g, b] = out_flux[g, b] / norm[b] * mujy[b]
                else:
                    out_flux[g, b] = 0.0
        free(norm)
    if fail[0]:
        raise MemoryError("finish_photometry: could not allocate per-thread scratch")
