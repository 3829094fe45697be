"""Run-time choice of the kernels' instruction-set build.

The kernels are compiled once for the portable baseline (``cxent._kernels``) and, on x86-64, also
for AVX2+FMA (``cxent._kernels_avx2``) and AVX-512 (``cxent._kernels_avx512``).  At import the
best build that this CPU and OS support is chosen; the environment variable ``CXENT_ISA``
(``baseline``, ``avx2``, ``avx512`` or ``auto``) overrides the choice, e.g. to test each build.
"""

import importlib
import os
import warnings

from . import _kernels as _baseline

__all__ = ["available", "kernels", "name"]

_FEATURE_BITS = {"avx2": 1, "avx512": 2}
_ORDER = ("avx512", "avx2", "baseline")


def available():
    """Builds present in this installation that this CPU supports, best first."""
    feats = _baseline.cpu_features()
    found = []
    for isa in _ORDER[:-1]:
        if feats & _FEATURE_BITS[isa]:
            try:
                importlib.import_module(f"cxent._kernels_{isa}")
            except ImportError:
                continue
            found.append(isa)
    return [*found, "baseline"]


def _load(isa):
    if isa == "baseline":
        return _baseline
    return importlib.import_module(f"cxent._kernels_{isa}")


def _select():
    avail = available()
    want = os.environ.get("CXENT_ISA", "").strip().lower() or "auto"
    if want == "auto":
        return avail[0]
    if want in avail:
        return want
    warnings.warn(f"CXENT_ISA={want!r} is not available here (available: {', '.join(avail)}); "
                  f"using {avail[0]}", RuntimeWarning, stacklevel=3)
    return avail[0]


name = _select()
kernels = _load(name)
