"""Compiled kernels built from ``csrc/*.pyx`` (one extension module per file)."""
