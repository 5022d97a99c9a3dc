# cython: language_level=3
# distutils: extra_compile_args = -fno-math-errno -fno-trapping-math
"""KLLR photo-z kernel built for AVX2 + FMA; galfast imports it only where the CPU has both
(numpy's CPU feature detection).  Code: csrc/kllr_core.pxi.

The instruction set is chosen with ``#pragma GCC target`` (GCC on x86 only), not with -mavx2, so
that the package still builds with other compilers and on other architectures (there this module
is an ordinary portable build)."""

cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
    #pragma GCC target("avx2,fma")
    #define GALFAST_KLLR_ISA "avx2+fma"
    #define GALFAST_VLEN 4
    #else
    #define GALFAST_KLLR_ISA "generic"
    #endif
    """
    const char* GALFAST_KLLR_ISA

include "kllr_core.pxi"

ISA = GALFAST_KLLR_ISA.decode()
