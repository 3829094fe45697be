"""cxent: compiled softmax, log-softmax, logsumexp and cross-entropy (with its gradient) for NumPy.

>>> import cxent
>>> cxent.softmax([1.0, 2.0, 3.0]).round(2)
array([0.09, 0.24, 0.67])
"""

from typing import Any, Literal, overload

from ._calibration import fit_temperature
from ._information import cross_entropy_dist, entropy, kl_divergence
from ._losses import binary_cross_entropy_with_logits, cross_entropy, nll_loss
from ._memory import release_memory
from ._metrics import log_loss
from ._scale import ScoreResult, linear_cross_entropy, score
from ._softmax import log_softmax, log_softmax_backward, logsumexp, softmax, softmax_backward
from ._version import __version__

__all__ = [
    "ScoreResult",
    "__version__",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "cross_entropy_dist",
    "entropy",
    "fit_temperature",
    "kl_divergence",
    "linear_cross_entropy",
    "log_loss",
    "log_softmax",
    "log_softmax_backward",
    "logsumexp",
    "nll_loss",
    "release_memory",
    "score",
    "show_config",
    "softmax",
    "softmax_backward",
]


@overload
def show_config(mode: Literal["stdout"] = ...) -> None: ...
@overload
def show_config(mode: Literal["dicts"]) -> dict[str, Any]: ...


def show_config(mode: str = "stdout") -> dict[str, Any] | None:
    """Report how this copy of cxent was built and what it runs with.

    Parameters
    ----------
    mode : {"stdout", "dicts"}, default "stdout"
        Print the report, or return it as a dict.

    Returns
    -------
    dict or None
        With ``mode="dicts"``: ``version``; ``isa``: the instruction-set build of the kernels in
        use (``baseline``, ``avx2`` or ``avx512``; the environment variable ``CXENT_ISA``
        overrides the automatic choice) and the builds this CPU could use; ``openmp``:
        ``built_with``, ``version`` (the ``_OPENMP`` date), ``max_threads`` (the default thread
        count of the calling thread) and ``runtime`` (the path of the OpenMP library the kernels
        are bound to, e.g. the copy bundled in the wheel); ``memory``: ``kept`` (bytes kept
        for the next large outputs, `release_memory`) and ``limit`` (the most it keeps);
        ``stores``: ``non_temporal_from`` (the smallest output, in bytes, that the kernels for
        few classes write by non-temporal stores, in the AVX builds: the larger of 8 MiB and
        the L3 cache) and ``l3`` (the L3 cache's size as the OS reports it, 0 if
        unknown); ``numpy``.

    Examples
    --------
    >>> import cxent
    >>> cfg = cxent.show_config("dicts")
    >>> sorted(cfg)
    ['isa', 'memory', 'numpy', 'openmp', 'stores', 'version']
    >>> cfg["isa"]["selected"] in cfg["isa"]["available"]
    True
    """
    import numpy as np

    from . import _isa, _memory

    built, date, nmax, runtime = _isa.kernels.openmp_info()
    nt_from, l3 = _isa.kernels.stream_info()
    cfg = {
        "version": __version__,
        "isa": {"selected": _isa.name, "available": _isa.available()},
        "openmp": {"built_with": built, "version": date, "max_threads": nmax,
                   "runtime": runtime},
        "memory": {"kept": _memory.kept_bytes(), "limit": _memory.keep_bytes},
        "stores": {"non_temporal_from": nt_from, "l3": l3},
        "numpy": np.__version__,
    }
    if mode == "dicts":
        return cfg
    if mode != "stdout":
        raise ValueError(f"mode must be 'stdout' or 'dicts', got {mode!r}")
    omp = cfg["openmp"]
    print(f"cxent {cfg['version']} (numpy {cfg['numpy']})")
    print(f"  kernels: {cfg['isa']['selected']} build (this CPU supports: "
          f"{', '.join(cfg['isa']['available'])})")
    print(f"  OpenMP: {'yes' if built else 'no (serial build)'}"
          + (f", _OPENMP={date}, max threads {nmax}, runtime {omp['runtime']}" if built else ""))
    mem = cfg["memory"]
    print(f"  memory kept for large outputs: {mem['kept']} bytes (at most {mem['limit']})")
    st = cfg["stores"]
    l3_text = f"L3 {st['l3'] >> 20} MiB as the OS reports it" if st["l3"] else "L3 size unknown"
    print(f"  non-temporal stores (AVX builds, few classes): outputs from "
          f"{st['non_temporal_from'] >> 20} MiB ({l3_text})")
    return None
