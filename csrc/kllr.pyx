# cython: language_level=3
# distutils: extra_compile_args = -fno-math-errno -fno-trapping-math
"""KLLR photo-z kernel, portable build (x86-64 baseline / any CPU).  Code: csrc/kllr_core.pxi."""
include "kllr_core.pxi"

ISA = "generic"
