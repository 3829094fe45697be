"""Losses: cross-entropy with class indices or probability targets, and its gradient."""

import numpy as np

from . import _kernels
from ._validate import Layout, as_real_array, check_n_threads, check_reduction, normalize_axis

__all__ = ["cross_entropy"]

_INT64 = np.dtype(np.int64)
# Stand-ins for outputs a call does not want (the kernels never touch them).
_NO_ROWS = {dt: np.empty((0, 0), dt) for dt in (np.float32, np.float64)}
_NO_GRAD = {dt: np.empty((0, 0, 0), dt) for dt in (np.float32, np.float64)}


def cross_entropy(logits, target, *, axis=-1, reduction="mean", return_grad=False,
                  n_threads=None):
    r"""Cross-entropy between the softmax of `logits` and `target`, and its gradient.

    With class indices ``y`` the loss of a position is ``-log softmax(z)[y] = logsumexp(z) - z[y]``;
    with probabilities ``t`` it is ``-sum_k t[k] log softmax(z)[k]``.  Loss and gradient come from
    one compiled pass over the data, in parallel over positions with the GIL released.

    Parameters
    ----------
    logits : array_like
        Unnormalised scores, real numbers of any shape with the classes along `axis`.  float32 and
        float64 are computed natively; other real dtypes are converted to float64.
    target : array_like
        Either class indices (any integer dtype, shape of `logits` without `axis`, values in
        ``[0, K)``) or class probabilities (floats, exactly the shape of `logits`; "soft labels").
    axis : int, default -1
        The class axis: ``-1`` for NumPy-style ``(..., K)``, ``1`` for PyTorch's
        ``(N, K, d1, ...)`` layout.
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"mean"`` averages over all positions, ``"sum"`` adds them up (both accumulated in
        float64 and returned as a NumPy scalar of the logits' dtype), ``"none"`` returns the loss
        of each position.
    return_grad : bool, default False
        Also return the gradient of the returned loss with respect to `logits` (for ``"none"``:
        of its sum): ``softmax(logits) - onehot(target)`` (or ``softmax * sum(t) - t``), divided
        by the number of positions for ``"mean"``.
    n_threads : int, optional
        Threads to use; ``None`` means OpenMP's default for the calling thread.  Small inputs run
        on the calling thread.  Results are bit-identical for every thread count.

    Returns
    -------
    loss : scalar or ndarray
        A NumPy scalar of the logits' dtype, or for ``"none"`` an array of the target positions'
        shape.
    grad : ndarray
        Only with ``return_grad=True``: shape and dtype of `logits`.

    Raises
    ------
    ValueError
        A class index outside ``[0, K)`` (naming the label and its position), mismatched shapes
        (naming both), zero classes, an unknown `reduction`.
    TypeError
        Non-real `logits`, a target that is neither integer nor float, float targets of the shape
        of class indices.

    Notes
    -----
    For float32 logits each position's sum of exponentials and loss are accumulated in float64, so
    small losses keep their relative accuracy.  With no positions, "mean" gives nan and "sum" 0
    (as PyTorch).  Non-finite logits: a position with ``nan`` or ``+inf``, or with only ``-inf``,
    gets a ``nan`` loss and gradient (as PyTorch); a ``-inf`` logit on the target class gives a
    loss of ``+inf``.  With probability targets a zero probability contributes nothing even when
    its logit is ``-inf`` (the convention ``0 log 0 = 0``; PyTorch gives ``nan`` there).

    Examples
    --------
    The worked example: 3 classes, logits ``W @ x = [1.4, 3.2, 5.0]``, label 2.

    >>> import numpy as np, cxent
    >>> W = np.array([[.1, .2, .3], [.4, .5, .6], [.7, .8, .9]])
    >>> logits = (W @ np.array([1.0, 2.0, 3.0]))[None, :]
    >>> loss, grad = cxent.cross_entropy(logits, [2], return_grad=True)
    >>> print(f"{loss:.5f}")
    0.17615
    >>> grad.round(4)          # softmax - onehot
    array([[ 0.0229,  0.1386, -0.1615]])

    Probability targets, per-position losses:

    >>> cxent.cross_entropy([[0.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.5, 0.5]],
    ...                     reduction="none").round(6)
    array([0.693147, 0.693147])
    """
    x = as_real_array(logits, "logits")
    red = check_reduction(reduction)
    nt = check_n_threads(n_threads)
    ax = normalize_axis(axis, x.ndim, "logits")
    lay = Layout(x, ax)
    t = target if type(target) is np.ndarray else np.asarray(target)
    kind = t.dtype.kind
    lshape = lay.reduced_shape
    if kind in "iu":
        if t.shape != lshape:
            raise ValueError(
                f"target of class indices has shape {t.shape}; logits of shape {x.shape} with "
                f"classes along axis {ax} need shape {lshape}")
        probs = False
    elif kind == "f":
        if t.shape == x.shape:
            probs = True
        elif t.shape == lshape:
            raise TypeError(
                f"target holds floats ({t.dtype}) in the shape of class indices {lshape}; pass "
                f"integer class indices (e.g. target.astype(np.int64)) or probabilities of "
                f"shape {x.shape}")
        else:
            raise ValueError(
                f"target has shape {t.shape}; logits of shape {x.shape} need class indices of "
                f"shape {lshape} or probabilities of shape {x.shape}")
    else:
        raise TypeError(
            f"target must hold integer class indices or float probabilities; got dtype {t.dtype}")
    K, M = lay.K, lay.M
    if K == 0 and M:
        raise ValueError(f"logits of shape {x.shape} have no classes along axis {ax}")

    dt = x.dtype.type
    scale = 1.0 / M if red == "mean" and M else 1.0
    if red == "none":
        loss, l2 = lay.new_reduced(dt)
    else:
        loss, l2 = None, _NO_ROWS[dt]
    if return_grad:
        grad, g3 = lay.new(dt)
    else:
        grad, g3 = None, _NO_GRAD[dt]

    if probs:
        total = _kernels.cross_entropy_probs(
            lay.rows(x), lay.rows(as_real_array(t.astype(dt, copy=False), "target")), l2, g3,
            red == "none", return_grad, scale, nt)
    else:
        y = _as_labels(t)
        total, bad = _kernels.cross_entropy_labels(
            lay.rows(x), lay.label_rows(y), l2, g3, red == "none", return_grad, scale, nt)
        if bad >= 0:
            pos = lay.position(bad)
            raise ValueError(
                f"target holds class index {t[pos]} at position {pos}, outside [0, {K}) for "
                f"logits with {K} classes along axis {ax}")

    if red == "none":
        loss = loss if loss.ndim else loss[()]
    elif red == "sum":
        loss = dt(total)
    else:
        loss = dt(total / M) if M else dt(np.nan)
    return (loss, grad) if return_grad else loss


def _as_labels(t):
    """Integer class indices as int64 (a copy only when they are of another integer dtype)."""
    if t.dtype == _INT64 and t.flags.aligned:
        return t
    if t.dtype.kind == "u" and t.dtype.itemsize == 8 and t.size:
        top = int(t.max())
        if top > np.iinfo(np.int64).max:
            pos = tuple(int(i) for i in np.unravel_index(int(np.argmax(t)), t.shape))
            raise ValueError(f"target holds class index {top} at position {pos}, out of range")
    return t.astype(np.int64)
