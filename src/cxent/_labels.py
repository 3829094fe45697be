"""Class indices: the one place for their rules.

Every entry point that takes class indices (``cross_entropy``, ``nll_loss``,
``linear_cross_entropy``, ``score``, ``cxent.dask.cross_entropy``, ``cxent.torch``) goes through
these functions, so that the same input gives the same exception, with the same message, from
each of them:

* :func:`kind` tells class indices from probability targets by dtype and shape;
* :func:`as_int64` gives the kernels their int64 view (a copy only for other integer dtypes);
* :func:`error` is the one wording of an invalid class index (value and position);
* :func:`denominator` is PyTorch's denominator of "mean": the summed class weights (times the
  sample weights) of the positions not ignored (their number without weights), and finds the
  first invalid index; :func:`sample_weights` checks per-position weights;
* :func:`finish` turns a kernel's float64 sum into the returned loss (a NumPy scalar of the
  logits' dtype; nan for an empty "mean", as in PyTorch).
"""

import numpy as np

from ._isa import kernels as _kernels

__all__ = ["as_int64", "denominator", "error", "finish", "kind", "sample_weights"]

_INT64 = np.dtype(np.int64)


def kind(t, shape, lshape, ax, name="logits"):
    """True for probability targets, False for class indices; clear errors otherwise."""
    k = t.dtype.kind
    if k in "iu":
        if t.shape != lshape:
            raise ValueError(
                f"target of class indices has shape {t.shape}; {name} of shape {shape} with "
                f"classes along axis {ax} need shape {lshape}")
        return False
    if k == "f":
        if t.shape == shape:
            return True
        if t.shape == lshape:
            raise TypeError(
                f"target holds floats ({t.dtype}) in the shape of class indices {lshape}; pass "
                f"integer class indices (e.g. target.astype(np.int64)) or probabilities of "
                f"shape {shape}")
        raise ValueError(
            f"target has shape {t.shape}; {name} of shape {shape} need class indices of shape "
            f"{lshape} or probabilities of shape {shape}")
    raise TypeError(
        f"target must hold integer class indices or float probabilities; got dtype {t.dtype}")


def as_int64(t, name="target"):
    """Integer class indices as int64 (a copy only when they are of another integer dtype)."""
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class indices; got dtype {t.dtype}")
    if t.dtype == _INT64 and t.flags.aligned:
        return t
    if t.dtype.kind == "u" and t.dtype.itemsize == 8 and t.size:
        top = int(t.max())
        if top > np.iinfo(np.int64).max:
            pos = tuple(int(i) for i in np.unravel_index(int(np.argmax(t)), t.shape))
            raise error(top, pos, None, None, name=name)
    return t.astype(np.int64)


def error(value, pos, K, ignore, *, name="target", of=None, ax=None):
    """The ValueError of an invalid class index `value` at `pos` (a tuple index)."""
    where = f"outside [0, {K})" if K is not None else "out of range"
    verb = "hold" if name.endswith("s") else "holds"
    msg = f"{name} {verb} class index {value} at position {pos}, {where}"
    if of is not None:
        msg += f" for {of} with {K} classes along axis {ax}"
    if ignore is not None and ignore != -100:
        msg += f" (and not ignore_index={ignore})"
    return ValueError(msg)


def denominator(y, w, ignore, K, rw=None):
    """(denominator of "mean", first invalid row or -1) of (A, B) int64 class indices: the sum
    of rw * w[y] (the count without class weights `w` and sample weights `rw`, an (A, B) view)
    over the positions not ignored."""
    denom, _, bad = _kernels.label_stats(y, K=K, ignore_index=ignore, weight=w, sample_weight=rw)
    return denom, bad


def sample_weights(sample_weight, shape):
    """Per-position weights as float64 of exactly `shape` (the positions' shape), finite and
    non-negative, or None; a ValueError names a wrong shape or the first bad value."""
    if sample_weight is None:
        return None
    from ._validate import as_real_array

    sw = as_real_array(sample_weight, "sample_weight").astype(np.float64, copy=False)
    if sw.shape != tuple(shape):
        raise ValueError(f"sample_weight has shape {sw.shape}; it needs one weight per position, "
                         f"shape {tuple(shape)}")
    ok = np.isfinite(sw) & (sw >= 0)
    if not ok.all():
        pos = tuple(int(i) for i in np.unravel_index(int(np.argmin(ok)), sw.shape))
        raise ValueError(f"sample_weight holds {sw[pos]} at position {pos}; sample weights must "
                         f"be finite and non-negative")
    return sw


def finish(reduction, loss, grad, total, denom, dt, return_grad, lse=None):
    """The returned loss (then the gradient, then the log-normalisers `lse` when given) from a
    kernel's float64 sum `total`."""
    if reduction == "none":
        loss = loss if loss.ndim else loss[()]
    elif reduction == "sum":
        loss = dt(total)
    else:
        loss = dt(total / denom) if denom else dt(np.nan)
    out = (loss, grad) if return_grad else (loss,)
    if lse is not None:
        out += (lse if lse.ndim else lse[()],)
    return out if len(out) > 1 else loss

