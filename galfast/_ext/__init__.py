"""Compiled kernels built from ``csrc/*.pyx`` (one extension module per file).

:func:`build_info` says how they were built (OpenMP or serial, compiler, flags), from the module
``_build_info`` that setup.py writes at build time.
"""

__all__ = ["build_info"]

#: keys of :func:`build_info`, with the value each has when the build left no record
_UNKNOWN = {"openmp": None, "openmp_reason": None, "compiler": None, "compiler_command": None,
            "cflags": None, "ldflags": None, "extra_compile_args": None, "cython_version": None,
            "numpy_version": None, "python_version": None, "platform": None}


def build_info() -> dict:
    """Facts of the build of the compiled kernels, as a new dict: ``openmp`` (bool: the kernels
    run threaded; False: serial), ``openmp_reason``, ``compiler`` (its version line),
    ``compiler_command``, ``cflags``, ``ldflags``, ``extra_compile_args`` (per module),
    ``cython_version``, ``numpy_version``, ``python_version``, ``platform``, and ``recorded``
    (False, with every other value None, when the build wrote no record, e.g. one made by an
    older setup.py)."""
    from importlib import import_module

    try:
        b = import_module(__name__ + "._build_info")
    except (ImportError, SyntaxError):   # no record (older setup.py), or a damaged one
        return dict(_UNKNOWN, recorded=False)
    info = {key: getattr(b, key.upper(), None) for key in _UNKNOWN}
    info["recorded"] = True
    return info
