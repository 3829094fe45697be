"""Build of cxent's compiled kernels.

Metadata lives in pyproject.toml; this file only defines the extension and chooses the OpenMP flags
for the compiler at hand (probed by compiling and linking a small program):

* GCC / Clang: ``-fopenmp``;
* Apple Clang: ``-Xpreprocessor -fopenmp`` with libomp (``-lomp``); set ``CXENT_OMP_PREFIX``
  (or install Homebrew's ``libomp``) so that ``include/omp.h`` and ``lib/libomp.dylib`` exist;
* MSVC: ``/openmp``.

When no flag works the kernels are built serially and the build says so; ``cxent.show_config()``
reports what a build has.  ``CXENT_NO_OPENMP=1`` forces a serial build.  ``CXENT_EXTRA_CFLAGS`` and
``CXENT_EXTRA_LDFLAGS`` append flags (e.g. ``-fsanitize=address,undefined`` for a sanitizer build).

Never add ``-march=...`` (wheels would crash on older CPUs) nor ``-ffast-math`` (it changes inf/nan
semantics and, linked into a shared object, can set flush-to-zero for the whole process).
"""

import os
import shlex
import sys
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

OMP_PROBE = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


def _omp_candidates(compiler_type):
    if compiler_type == "msvc":
        return [(["/openmp"], [])]
    if sys.platform == "darwin":
        prefixes = [os.environ.get("CXENT_OMP_PREFIX", ""), "/opt/homebrew/opt/libomp",
                    "/usr/local/opt/libomp"]
        cands = []
        for p in filter(None, prefixes):
            cands.append(([f"-I{p}/include", "-Xpreprocessor", "-fopenmp"],
                          [f"-L{p}/lib", "-lomp", f"-Wl,-rpath,{p}/lib"]))
        cands.append((["-Xpreprocessor", "-fopenmp"], ["-lomp"]))
        cands.append((["-fopenmp"], ["-fopenmp"]))
        return cands
    return [(["-fopenmp"], ["-fopenmp"])]


def _probe(compiler, cflags, ldflags):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "omp_probe.c")
        with open(src, "w") as f:
            f.write(OMP_PROBE)
        try:
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
            compiler.link_executable(objs, "omp_probe", output_dir=tmp, extra_postargs=ldflags)
        except Exception:  # any failure means "this flag set does not work"
            return False
    return True


class BuildExt(build_ext):
    def build_extensions(self):
        ctype = self.compiler.compiler_type
        if ctype == "msvc":
            base = ["/O2", "/fp:precise"]
        else:
            # -fopenmp-simd: honour `#pragma omp simd` (vectorized reductions) even without
            # OpenMP threads; no -ffast-math, no -march
            base = ["-O3", "-fno-math-errno", "-fno-strict-aliasing", "-fopenmp-simd"]
        omp_c, omp_l = [], []
        if os.environ.get("CXENT_NO_OPENMP", "") not in ("", "0"):
            print("cxent: CXENT_NO_OPENMP set; building the kernels serially")
        else:
            for cflags, ldflags in _omp_candidates(ctype):
                if _probe(self.compiler, cflags, ldflags):
                    omp_c, omp_l = cflags, ldflags
                    print(f"cxent: OpenMP enabled with {' '.join(cflags)}")
                    break
            else:
                print("cxent: NOTE: the compiler has no usable OpenMP; building the kernels "
                      "serially (results are the same, only one core is used)")
        extra_c = shlex.split(os.environ.get("CXENT_EXTRA_CFLAGS", ""))
        extra_l = shlex.split(os.environ.get("CXENT_EXTRA_LDFLAGS", ""))
        for ext in self.extensions:
            ext.extra_compile_args = base + omp_c + extra_c
            ext.extra_link_args = omp_l + extra_l
        super().build_extensions()


extensions = [
    Extension(
        "cxent._kernels",
        ["src/cxent/_kernels.pyx"],
        include_dirs=["src/cxent"],
    )
]

setup(
    ext_modules=cythonize(extensions, compiler_directives={"language_level": 3}),
    cmdclass={"build_ext": BuildExt},
)
