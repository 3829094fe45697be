"""cxent on Dask arrays: the same functions, chunk by chunk, on a laptop or a cluster.

Needs dask (``pip install "cxent[dask]"``; a ``dask.distributed`` cluster for many machines).
The arrays are chunked along rows; the class axis is brought into a single chunk when it is not.
Each chunk is computed by the compiled kernel on whichever worker holds it.  ``cross_entropy``
with ``reduction="mean"`` is exact: every chunk returns the sum of its losses and its
denominator (the summed weights of its counted targets, or its number of positions), and one
final division combines them.

>>> import numpy as np, dask.array as da, cxent.dask as cxd
>>> x = da.from_array(np.array([[1.4, 3.2, 5.0], [2.0, 0.0, 0.0]]), chunks=(1, 3))
>>> float(cxd.cross_entropy(x, da.from_array(np.array([2, 1]), chunks=1)).compute())
1.2078497614438928
"""

import dask
import dask.array as da
import numpy as np

from . import _losses, _softmax
from ._validate import check_reduction, loss_options, normalize_axis

__all__ = ["cross_entropy", "log_softmax", "logsumexp", "softmax"]


def _rows(x, axis):
    """(x with the class axis last and in one chunk, that axis' original index)."""
    x = da.asarray(x)
    ax = normalize_axis(axis, x.ndim, "x")
    x = da.moveaxis(x, ax, -1)
    return x.rechunk({x.ndim - 1: -1}), ax


def _dtype(x):
    return x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)


def softmax(x, axis=-1, *, n_threads=None):
    """:func:`cxent.softmax` of a dask array, chunk by chunk (lazy)."""
    r, ax = _rows(x, axis)
    out = r.map_blocks(_softmax.softmax, axis=-1, n_threads=n_threads, dtype=_dtype(r))
    return da.moveaxis(out, -1, ax)


def log_softmax(x, axis=-1, *, n_threads=None):
    """:func:`cxent.log_softmax` of a dask array, chunk by chunk (lazy)."""
    r, ax = _rows(x, axis)
    out = r.map_blocks(_softmax.log_softmax, axis=-1, n_threads=n_threads, dtype=_dtype(r))
    return da.moveaxis(out, -1, ax)


def logsumexp(x, axis=-1, *, keepdims=False, n_threads=None):
    """:func:`cxent.logsumexp` of a dask array along one axis, chunk by chunk (lazy)."""
    r, ax = _rows(x, axis)

    def block(b):
        return np.asarray(_softmax.logsumexp(b, axis=-1, n_threads=n_threads))

    out = r.map_blocks(block, drop_axis=r.ndim - 1, dtype=_dtype(r))
    return da.expand_dims(out, ax) if keepdims else out


def cross_entropy(logits, target, *, axis=-1, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0, sample_weight=None, z_loss=0.0, softcap=None,
                  focal_gamma=0.0, return_lse=False, n_threads=None):
    """:func:`cxent.cross_entropy` of dask arrays (lazy).

    ``reduction="none"`` gives a dask array of per-position losses; ``"sum"`` and ``"mean"`` a
    0-d dask array (a lazy scalar), the mean exact across chunks (PyTorch's denominators).
    `sample_weight` (an array of the positions' shape, dask or NumPy) is chunked like them.
    `z_loss`, `softcap` and `focal_gamma` as in :func:`cxent.cross_entropy`; with `return_lse`
    also a dask array of the positions' log-normalisers, ``(loss, lse)`` (computing both reads
    each chunk twice).
    """
    red = check_reduction(reduction)
    opts = loss_options(z_loss, softcap, focal_gamma)  # errors now, not at compute time
    r, ax = _rows(logits, axis)
    t = da.asarray(target)
    soft = t.dtype.kind == "f"
    t = da.moveaxis(t, ax, -1).rechunk(r.chunks) if soft else t.rechunk(r.chunks[:-1])
    sw = None if sample_weight is None else da.asarray(sample_weight).rechunk(r.chunks[:-1])
    kw = {"weight": weight, "ignore_index": ignore_index, "label_smoothing": label_smoothing,
          "n_threads": n_threads, "z_loss": z_loss, "softcap": softcap,
          "focal_gamma": focal_gamma}
    dt = _dtype(r)
    idx = "abcdefghijklmnopqrstuvwxyz"[:r.ndim]
    args = [r, idx, t, idx if soft else idx[:-1]] + ([] if sw is None else [sw, idx[:-1]])
    lse = None
    if return_lse:
        def lse_block(xb, tb, swb=None):
            return _losses.cross_entropy(xb, tb, reduction="none", sample_weight=swb,
                                         return_lse=True, **kw)[1]

        lse = da.blockwise(lse_block, idx[:-1], *args, concatenate=True, dtype=dt)
    if red == "none":
        def block(xb, tb, swb=None):
            return _losses.cross_entropy(xb, tb, reduction="none", sample_weight=swb, **kw)

        out = da.blockwise(block, idx[:-1], *args, concatenate=True, dtype=dt)
        return (out, lse) if return_lse else out

    def partial(xb, tb, swb):
        # the sum of the chunk's losses and its denominator of "mean", by cross_entropy's rules
        _, _, total, denom, _, _ = _losses._cross_entropy(
            xb, tb, -1, weight, ignore_index, "mean", label_smoothing, False, n_threads, swb,
            opts)
        return total, float(denom)

    xb, tb = r.to_delayed(), t.to_delayed()
    swd = None if sw is None else sw.to_delayed()
    parts = [dask.delayed(partial)(xb[i + (0,)], tb[i + (0,)] if soft else tb[i],
                                   None if swd is None else swd[i])
             for i in np.ndindex(*r.numblocks[:-1])]

    def combine(ps):
        total = sum(p[0] for p in ps)
        if red == "sum":
            return np.asarray(total, dtype=dt)
        denom = sum(p[1] for p in ps)
        return np.asarray(total / denom if denom else np.nan, dtype=dt)

    out = da.from_delayed(dask.delayed(combine)(parts), shape=(), dtype=dt)
    return (out, lse) if return_lse else out
