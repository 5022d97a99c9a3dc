"""Build galfast's compiled kernels: every ``csrc/NAME.pyx`` becomes ``galfast._ext.NAME``.

OpenMP is used where the compiler has it (checked by compiling a tiny program); without it the
kernels build serial, and the build says so loudly (a warning with how to get OpenMP).  The facts
of the build (OpenMP, compiler, flags) are written to ``galfast/_ext/_build_info.py`` (generated,
git-ignored), read at run time by ``galfast._ext.build_info()``.

The kernels must be built without value-unsafe floating-point modes (-ffast-math, -Ofast,
-fassociative-math, -ffinite-math-only): csrc/kllr_linalg.h refuses to compile under them.
Metadata lives in pyproject.toml.
"""
import os
import platform
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import warnings
from glob import glob

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

#: flags that csrc/kllr_linalg.h rejects with #error (they break the exact arithmetic of the kernel)
UNSAFE_MATH_FLAGS = ("-ffast-math", "-Ofast", "-funsafe-math-optimizations", "-fassociative-math",
                     "-ffinite-math-only")


def _unsafe_flags(args) -> list:
    return [a for a in args if a in UNSAFE_MATH_FLAGS]


def _probe_compiler() -> list:
    """The C compiler command as setuptools will use it: $CC, else Python's configured CC, else
    ``cc`` (the first whose executable exists); [] if none is found."""
    for cand in (os.environ.get("CC"), sysconfig.get_config_var("CC"), "cc"):
        if cand:
            cmd = shlex.split(cand)
            if cmd and shutil.which(cmd[0]) is not None:
                return cmd
    return []


def _compiler_version(cmd) -> str:
    if not cmd:
        return "unknown"
    try:
        r = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=30)
        line = (r.stdout or r.stderr).strip().splitlines()
        return line[0] if line else cmd[0]
    except (OSError, subprocess.SubprocessError):
        return cmd[0]


def _has_openmp(cmd) -> tuple:
    """(available, reason)."""
    if os.environ.get("GALFAST_NO_OPENMP"):
        return False, "disabled by the environment variable GALFAST_NO_OPENMP"
    if not cmd:
        return False, "no C compiler found to probe ($CC, Python's CC, cc)"
    src = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    with tempfile.TemporaryDirectory() as tmp:
        c = os.path.join(tmp, "t.c")
        with open(c, "w") as fh:
            fh.write(src)
        try:
            r = subprocess.run(cmd + ["-fopenmp", c, "-o", os.path.join(tmp, "t")],
                               capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return False, f"the OpenMP test program could not be compiled: {exc}"
        if r.returncode != 0:
            tail = " ".join((r.stderr or "").strip().splitlines()[-2:])
            return False, f"{' '.join(cmd)} -fopenmp failed on a test program: {tail}"
        return True, f"{' '.join(cmd)} -fopenmp works"


CC = _probe_compiler()
COMPILER = _compiler_version(CC)
OPENMP, OPENMP_REASON = _has_openmp(CC)
print(f"galfast build: OpenMP {'on' if OPENMP else 'off'} ({COMPILER})", file=sys.stderr)
if not OPENMP:
    _msg = (
        "galfast: building the compiled kernels WITHOUT OpenMP: they will run SERIALLY "
        "(n_jobs / OMP_NUM_THREADS have no effect on the photo-z kernel).\n"
        f"  reason: {OPENMP_REASON}\n"
        f"  compiler: {COMPILER}\n"
        "  To get OpenMP, install an OpenMP runtime for your compiler and rebuild, e.g.\n"
        "    Debian/Ubuntu: apt install gcc (libgomp), or for clang: apt install libomp-dev\n"
        "    Fedora/RHEL: dnf install gcc libgomp     conda: conda install -c conda-forge llvm-openmp\n"
        "    macOS: Apple clang has no -fopenmp; brew install gcc, then CC=gcc-14 pip install ...\n"
        "  then reinstall (pip install -e . / python setup.py build_ext --inplace).\n"
        "  galfast._ext.build_info() reports what a build used.")
    print("\n" + "=" * 78 + "\nWARNING: " + _msg + "\n" + "=" * 78 + "\n", file=sys.stderr)
    warnings.warn(_msg, RuntimeWarning, stacklevel=1)

compile_args = ["-O3"] + (["-fopenmp"] if OPENMP else [])
link_args = ["-fopenmp"] if OPENMP else []
# never value-unsafe float modes from here (csrc/kllr_linalg.h would refuse them anyway)
assert not _unsafe_flags(compile_args), compile_args
_env_unsafe = sorted({f for var in ("CFLAGS", "CPPFLAGS", "CC")
                      for f in _unsafe_flags(shlex.split(os.environ.get(var, "")))}
                     | set(_unsafe_flags(shlex.split(sysconfig.get_config_var("CFLAGS") or ""))))
if _env_unsafe:
    print(f"galfast build: WARNING: the compiler flags from the environment / Python's "
          f"configuration contain {' '.join(_env_unsafe)}; csrc/kllr_linalg.h will stop the "
          f"build with #error (the kernels need exact IEEE arithmetic). Remove them from CFLAGS.",
          file=sys.stderr)


class build_ext_with_info(build_ext):
    """build_ext that also writes ``galfast/_ext/_build_info.py`` next to the built modules: in the
    build directory (what a wheel ships) and, with --inplace (also editable installs), in the source
    tree, where setuptools copies the modules after building them."""

    def build_extensions(self):
        super().build_extensions()
        self._write_build_info()         # build_lib: setuptools' run() builds with inplace off

    def run(self):
        super().run()
        if self.inplace:
            self._write_build_info()     # inplace restored: next to the copied modules

    def _write_build_info(self):
        if not self.extensions:
            return
        target = os.path.join(os.path.dirname(self.get_ext_fullpath(self.extensions[0].name)),
                              "_build_info.py")
        base = list(getattr(self.compiler, "compiler_so", None) or CC or [])
        per_module = {ext.name.rsplit(".", 1)[-1]: list(ext.extra_compile_args or [])
                      for ext in self.extensions}
        import Cython

        facts = {
            "OPENMP": OPENMP,
            "OPENMP_REASON": OPENMP_REASON,
            "COMPILER": COMPILER,
            "COMPILER_COMMAND": base[:1],
            "CFLAGS": base[1:] + compile_args,
            "LDFLAGS": link_args,
            "EXTRA_COMPILE_ARGS": per_module,
            "CYTHON_VERSION": Cython.__version__,
            "NUMPY_VERSION": np.__version__,
            "PYTHON_VERSION": platform.python_version(),
            "PLATFORM": sysconfig.get_platform(),
        }
        lines = ['"""Facts of the build of galfast._ext (generated by setup.py at build time; do not',
                 'edit, git-ignored).  Read it with galfast._ext.build_info()."""', ""]
        lines += [f"{k} = {v!r}" for k, v in facts.items()]
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as fh:
            fh.write("\n".join(lines) + "\n")


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
    cmdclass={"build_ext": build_ext_with_info},
)
