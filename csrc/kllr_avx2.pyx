# cython: language_level=3
# distutils: extra_compile_args = -fno-math-errno -fno-trapping-math -fassociative-math -fno-signed-zeros -mavx2 -mfma
"""KLLR photo-z kernel built for AVX2 + FMA; galfast imports it only where the CPU has both
(numpy's CPU feature detection).  Code: csrc/kllr_core.pxi."""
include "kllr_core.pxi"

ISA = "avx2+fma"
