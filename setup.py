"""Build galfast's compiled kernels: every ``csrc/NAME.pyx`` becomes ``galfast._ext.NAME``.

OpenMP is used where the compiler has it (checked by compiling a tiny program); without it the
kernels build serial.  Metadata lives in pyproject.toml.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from glob import glob

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup


def _has_openmp() -> bool:
    if os.environ.get("GALFAST_NO_OPENMP"):
        return False
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        return False
    src = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    with tempfile.TemporaryDirectory() as tmp:
        c = os.path.join(tmp, "t.c")
        with open(c, "w") as fh:
            fh.write(src)
        try:
            r = subprocess.run([cc, "-fopenmp", c, "-o", os.path.join(tmp, "t")],
                               capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return False
        return r.returncode == 0


OPENMP = _has_openmp()
print(f"galfast build: OpenMP {'on' if OPENMP else 'off'}", file=sys.stderr)
compile_args = ["-O3"] + (["-fopenmp"] if OPENMP else [])
link_args = ["-fopenmp"] if OPENMP else []

extensions = [
    Extension(
        f"galfast._ext.{os.path.splitext(os.path.basename(pyx))[0]}",
        [pyx],
        include_dirs=[np.get_include(), "csrc"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
        depends=sorted(glob("csrc/*.pxi") + glob("csrc/*.h")),
    )
    for pyx in sorted(glob("csrc/*.pyx"))
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False,
                             "cdivision": True, "initializedcheck": False},
        compile_time_env={"HAVE_OPENMP": OPENMP},
    ),
)
