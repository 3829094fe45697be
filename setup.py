"""Build of cxent's compiled kernels.

Metadata lives in pyproject.toml; this file only defines the extension and chooses the OpenMP flags
for the compiler at hand (probed by compiling and linking a small program):

* GCC / Clang: ``-fopenmp``;
* Apple Clang: ``-Xpreprocessor -fopenmp`` with libomp (``-lomp``); set ``CXENT_OMP_PREFIX``
  (or install Homebrew's ``libomp``) so that ``include/omp.h`` and ``lib/libomp.dylib`` exist;
* MSVC: ``/openmp``.

When no flag works the kernels are built serially and the build says so; ``cxent.show_config()``
reports what a build has.  ``CXENT_NO_OPENMP=1`` forces a serial build.  On x86-64 the kernels
are also built for AVX2+FMA and AVX-512 (``CXENT_NO_ISA_BUILDS=1`` skips them).
``CXENT_EXTRA_CFLAGS`` and ``CXENT_EXTRA_LDFLAGS`` append flags (e.g.
``-fsanitize=address,undefined`` for a sanitizer build).

Never add a target-architecture flag (wheels would crash on older CPUs) nor fast-math (it changes
inf/nan semantics and, linked into a shared object, can set flush-to-zero for the whole process).
"""

import glob
import os
import platform
import shlex
import sys
import sysconfig
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


# Instruction-set builds of the kernels on x86-64: the same code (_kernels_impl.pxi) compiled for
# the portable baseline and, as extra modules, for AVX2+FMA and AVX-512; cxent._isa picks the best
# one the CPU supports at import (CXENT_ISA=baseline|avx2|avx512 overrides).  Feature flags only,
# never a whole target architecture: the baseline module runs on every x86-64 CPU.
ISA_FLAGS = {
    "unix": {
        "avx2": ["-mavx2", "-mfma", "-mf16c", "-mbmi2"],
        "avx512": ["-mavx2", "-mfma", "-mf16c", "-mbmi2", "-mavx512f", "-mavx512dq",
                   "-mavx512vl", "-mavx512bw", "-mprefer-vector-width=512"],
    },
    "msvc": {"avx2": ["/arch:AVX2"], "avx512": ["/arch:AVX512"]},
}
ISA_PROBE = "int main(void) { return 0; }\n"


def _targets_x86():
    """True when the extension is built for x86-64: the target, not the build machine.

    A cross-compilation names its target in _PYTHON_HOST_PLATFORM (which sysconfig.get_platform()
    reports: cibuildwheel's Windows ARM64 builds, crossenv) or, on macOS, in ARCHFLAGS."""
    archflags = os.environ.get("ARCHFLAGS", "")  # macOS: cibuildwheel sets "-arch <target>"
    if "arm64" in archflags:
        return False
    if "x86_64" in archflags:
        return True
    target = sysconfig.get_platform().lower()
    if target.endswith("universal2"):  # a universal2 interpreter builds for the machine
        target = platform.machine().lower()
    return target.endswith(("x86_64", "amd64", "x64"))


def _compiles(compiler, cflags):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "isa_probe.c")
        with open(src, "w") as f:
            f.write(ISA_PROBE)
        try:
            compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
        except Exception:  # any failure means "this flag set does not work"
            return False
    return True


class BuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            # the three instruction-set builds compile independently: one job each, even on
            # fewer cores (2 cores: 82 s against 108 s with two jobs)
            self.parallel = 3

    def build_extensions(self):
        ctype = self.compiler.compiler_type
        if ctype == "msvc":
            base = ["/O2", "/fp:precise"]
        else:
            # -fopenmp-simd: honour `#pragma omp simd` (vectorized reductions) even without
            # OpenMP threads.  -fno-trapping-math lets the compiler turn the selects of the
            # branch-free exp (_simd.h) into vector blends; it changes no value (inf, nan,
            # subnormals and signed zeros stay IEEE), only whether FP exception flags can be
            # raised speculatively.  Never fast-math, never a target architecture.  -g0: no
            # debug information (Python's CFLAGS ask for -g), a quarter less compile time and
            # smaller wheels; CXENT_EXTRA_CFLAGS=-g brings it back (for perf / callgrind).
            base = ["-O3", "-g0", "-fno-math-errno", "-fno-trapping-math", "-fno-strict-aliasing",
                    "-fopenmp-simd"]
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
        isa_flags = ISA_FLAGS["msvc" if ctype == "msvc" else "unix"]
        kept = []
        for ext in self.extensions:
            isa = ISA_OF_MODULE.get(ext.name)  # cythonize() copies Extensions: look up by name
            flags = isa_flags[isa] if isa else []
            if isa and not _compiles(self.compiler, flags):
                print(f"cxent: NOTE: the compiler does not take {' '.join(flags)}; "
                      f"no {isa} build of the kernels")
                continue
            ext.extra_compile_args = base + omp_c + flags + extra_c
            # dladdr() (show_config's OpenMP runtime path) is in libdl before glibc 2.34
            dl = ["-ldl"] if omp_l and sys.platform.startswith("linux") else []
            ext.extra_link_args = omp_l + dl + extra_l
            kept.append(ext)
        self.extensions[:] = kept
        super().build_extensions()


ISA_OF_MODULE = {"cxent._kernels_avx2": "avx2", "cxent._kernels_avx512": "avx512"}


def _extension(name):
    return Extension(name, [f"src/{name.replace('.', '/')}.pyx"], include_dirs=["src/cxent"],
                     depends=sorted(glob.glob("src/cxent/_k*.pxi") + glob.glob("src/cxent/_*.h")))


extensions = [_extension("cxent._kernels")]
if _targets_x86() and os.environ.get("CXENT_NO_ISA_BUILDS", "") in ("", "0"):
    extensions += [_extension(name) for name in ISA_OF_MODULE]

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "freethreading_compatible": True,
}

setup(
    ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES),
    cmdclass={"build_ext": BuildExt},
)
