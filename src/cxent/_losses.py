"""Losses: cross-entropy with class indices or probability targets, and its gradient."""

from __future__ import annotations

from typing import Literal, overload

import numpy as np

from . import _labels, _memory
from ._isa import kernels as _kernels
from ._typing import ArrayLike, FloatArray, FloatScalar, Scalarish
from ._validate import (
    NATIVE_FLOATS,
    NO_LOSS_OPTIONS,
    REDUCTIONS,
    Layout,
    as_array,
    as_real_array,
    check_class_weights,
    check_ignore_index,
    check_label_smoothing,
    check_n_threads,
    check_reduction,
    fast_threads,
    finish_out,
    loss_options,
    new_pages,
    normalize_axis,
    prepare_out,
)

__all__ = ["binary_cross_entropy_with_logits", "cross_entropy", "nll_loss"]

_INT64 = np.dtype(np.int64)


@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = ...,
                  weight: ArrayLike | None = ..., ignore_index: int = ...,
                  sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                  z_loss: float = ..., softcap: float | None = ..., focal_gamma: float = ...,
                  n_threads: int | None = ..., grad_out: FloatArray | None = ...,
                  reduction: Literal["mean", "sum"] = ...,
                  return_grad: Literal[False] = ...,
                  return_lse: Literal[False] = ...,
                  ) -> FloatScalar: ...
@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = ...,
                  weight: ArrayLike | None = ..., ignore_index: int = ...,
                  sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                  z_loss: float = ..., softcap: float | None = ..., focal_gamma: float = ...,
                  n_threads: int | None = ..., grad_out: FloatArray | None = ...,
                  reduction: Literal["mean", "sum"] = ...,
                  return_grad: Literal[False] = ...,
                  return_lse: Literal[True],
                  ) -> tuple[FloatScalar, FloatArray]: ...
@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = ...,
                  weight: ArrayLike | None = ..., ignore_index: int = ...,
                  sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                  z_loss: float = ..., softcap: float | None = ..., focal_gamma: float = ...,
                  n_threads: int | None = ..., grad_out: FloatArray | None = ...,
                  reduction: Literal["mean", "sum"] = ...,
                  return_grad: Literal[True],
                  return_lse: Literal[False] = ...,
                  ) -> tuple[FloatScalar, FloatArray]: ...
@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = ...,
                  weight: ArrayLike | None = ..., ignore_index: int = ...,
                  sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                  z_loss: float = ..., softcap: float | None = ..., focal_gamma: float = ...,
                  n_threads: int | None = ..., grad_out: FloatArray | None = ...,
                  reduction: Literal["mean", "sum"] = ...,
                  return_grad: Literal[True],
                  return_lse: Literal[True],
                  ) -> tuple[FloatScalar, FloatArray, FloatArray]: ...
@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = ...,
                  weight: ArrayLike | None = ..., ignore_index: int = ...,
                  sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                  z_loss: float = ..., softcap: float | None = ..., focal_gamma: float = ...,
                  n_threads: int | None = ..., grad_out: FloatArray | None = ...,
                  reduction: Literal["none"],
                  return_grad: Literal[False] = ...,
                  return_lse: Literal[False] = ...,
                  ) -> FloatArray: ...
@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = ...,
                  weight: ArrayLike | None = ..., ignore_index: int = ...,
                  sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                  z_loss: float = ..., softcap: float | None = ..., focal_gamma: float = ...,
                  n_threads: int | None = ..., grad_out: FloatArray | None = ...,
                  reduction: Literal["none"],
                  return_grad: Literal[False] = ...,
                  return_lse: Literal[True],
                  ) -> tuple[FloatArray, FloatArray]: ...
@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = ...,
                  weight: ArrayLike | None = ..., ignore_index: int = ...,
                  sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                  z_loss: float = ..., softcap: float | None = ..., focal_gamma: float = ...,
                  n_threads: int | None = ..., grad_out: FloatArray | None = ...,
                  reduction: Literal["none"],
                  return_grad: Literal[True],
                  return_lse: Literal[False] = ...,
                  ) -> tuple[FloatArray, FloatArray]: ...
@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = ...,
                  weight: ArrayLike | None = ..., ignore_index: int = ...,
                  sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                  z_loss: float = ..., softcap: float | None = ..., focal_gamma: float = ...,
                  n_threads: int | None = ..., grad_out: FloatArray | None = ...,
                  reduction: Literal["none"],
                  return_grad: Literal[True],
                  return_lse: Literal[True],
                  ) -> tuple[FloatArray, FloatArray, FloatArray]: ...
@overload
def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = ...,
                  weight: ArrayLike | None = ..., ignore_index: int = ...,
                  sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                  z_loss: float = ..., softcap: float | None = ..., focal_gamma: float = ...,
                  n_threads: int | None = ..., reduction: str = ...,
                  return_grad: bool = ..., return_lse: bool = ...
                  ) -> Scalarish | tuple[Scalarish, FloatArray] | tuple[Scalarish, FloatArray,
                                                                         FloatArray]: ...


def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                  weight: ArrayLike | None = None, ignore_index: int = -100,
                  sample_weight: ArrayLike | None = None, label_smoothing: float = 0.0,
                  z_loss: float = 0.0, softcap: float | None = None, focal_gamma: float = 0.0,
                  n_threads: int | None = None, grad_out: FloatArray | None = None,
                  reduction: str = "mean", return_grad: bool = False, return_lse: bool = False
                  ) -> Scalarish | tuple[Scalarish, FloatArray] | tuple[Scalarish, FloatArray,
                                                                         FloatArray]:
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
    weight : array_like, optional
        A weight per class (length K): each position's loss is multiplied by the weight of its
        class (with probability targets, each class's term by its weight).
    ignore_index : int, default -100
        Positions whose class index equals it contribute no loss, get an exact zero gradient
        (even when their logits are nan or inf) and are not counted by "mean".  Only for class
        indices.
    sample_weight : array_like, optional
        A non-negative, finite weight per position (the shape of class indices; for probability
        targets the logits' shape without `axis`): each position's loss and gradient are
        multiplied by it, and "mean" divides by the sum over the positions not ignored of
        ``sample_weight`` times the class weight of the label (by the sum of ``sample_weight``
        with probability targets).  A zero weight gives a loss of 0 and an exact zero gradient
        whatever the logits, like an ignored position.  All ones give the same bits as none.
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"mean"`` averages over the positions (PyTorch's rule: with class indices, divided by
        the sum of the weights of the targets not ignored; with probability targets, by the
        number of positions), ``"sum"`` adds them up (both accumulated in float64 and returned
        as a NumPy scalar of the logits' dtype), ``"none"`` returns the loss of each position.
    label_smoothing : float in [0, 1], default 0
        PyTorch's label smoothing: the target becomes ``(1 - s) * onehot + s / K`` (for
        probability targets ``(1 - s) * t + s / K``), with class weights applied to each term.
    z_loss : float >= 0, default 0
        PaLM's auxiliary z-loss: each counted position adds ``z_loss * lse**2``, ``lse`` its
        log-normaliser ``logsumexp`` of the (soft-capped) logits, multiplied by the position's
        `sample_weight` but not by class weights; "mean" divides it by the same denominator.
        Its gradient is ``2 * z_loss * lse * softmax``.
    softcap : float > 0, optional
        Gemma-2's logit soft-capping: the logits become ``softcap * tanh(logits / softcap)``
        before everything else; the gradient is with respect to the original logits.
    focal_gamma : float >= 0, default 0
        The softmax focal loss of Lin et al.: a position's loss is
        ``-sum_k t_k w_k (1 - p_k)**gamma log p_k`` for the effective target distribution ``t``
        (one-hot, smoothed one-hot or probability targets) and class weights ``w``.  ``0`` is
        plain cross-entropy, to the bit.
    return_grad : bool, default False
        Also return the gradient of the returned loss with respect to `logits` (for ``"none"``:
        of its sum): ``softmax(logits) - onehot(target)`` in the simplest case, in general
        ``softmax * sum(w t') - w t'`` for the effective target ``t'`` and weights ``w``, scaled
        by the reduction.
    return_lse : bool, default False
        Also return every position's log-normaliser (of the soft-capped logits), ignored
        positions included.
    n_threads : int, optional
        Threads to use; ``None`` means OpenMP's default for the calling thread.  Small inputs run
        on the calling thread.  Results are bit-identical for every thread count.
    grad_out : ndarray, optional
        Only with ``return_grad=True``: a writeable array of the logits' shape and dtype that
        receives the gradient and is returned as `grad` (a training loop that reuses one buffer
        saves the allocation and page faults of a new array every step).  Any memory layout;
        if it overlaps an input (the logits included) the gradient is computed into a temporary
        array first, so the result is the same.  Its contents are unspecified after an error.

    Returns
    -------
    loss : scalar or ndarray
        A NumPy scalar of the logits' dtype, or for ``"none"`` an array of the target positions'
        shape.
    grad : ndarray
        Only with ``return_grad=True``: shape and dtype of `logits` (`grad_out` when given).
    lse : ndarray
        Only with ``return_lse=True``, last: the positions' shape, the logits' dtype.

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
    The loss of a position with class index ``y`` is, as in PyTorch,
    ``(1 - s) w[y] (-log p[y]) + (s / K) sum_k w[k] (-log p[k])``.  With no positions counted
    (an empty or all-ignored batch), "mean" gives nan and "sum" 0, as in PyTorch.

    For float32 logits each position's sum of exponentials and loss are accumulated in float64,
    so small losses keep their relative accuracy.  Non-finite logits: a position with ``nan`` or
    ``+inf``, or with only ``-inf``, gets a ``nan`` loss and gradient (as PyTorch); a ``-inf``
    logit on the target class gives a loss of ``+inf``.  Ignored positions get loss 0 and an
    exact zero gradient whatever their logits hold (PyTorch gives nan gradients there).  With
    probability targets a zero (weighted, smoothed) probability contributes nothing even when its
    logit is ``-inf`` (the convention ``0 log 0 = 0``; PyTorch gives ``nan`` there).

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

    A preallocated gradient buffer, reused from call to call:

    >>> buf = np.empty_like(logits)
    >>> _, g = cxent.cross_entropy(logits, [2], return_grad=True, grad_out=buf)
    >>> g is buf
    True

    Class weights, an ignored position and label smoothing, as in PyTorch:

    >>> x = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.0, 1.0, 1.0]])
    >>> print(f"{cxent.cross_entropy(x, [0, -100, 2], weight=[1.0, 2.0, 0.5]):.6f}")
    0.527078
    >>> print(f"{cxent.cross_entropy(x, [0, 1, 2], label_smoothing=0.1):.6f}")
    0.863955

    Probability targets, per-position losses:

    >>> cxent.cross_entropy([[0.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.5, 0.5]],
    ...                     reduction="none").round(6)
    array([0.693147, 0.693147])

    The options of large-vocabulary training, fused in the same pass: z-loss, soft-capping,
    the focal loss and the log-normaliser:

    >>> loss, lse = cxent.cross_entropy(logits, [2], z_loss=1e-4, softcap=30.0,
    ...                                 return_lse=True)
    >>> print(f"{loss:.5f} {lse[0]:.5f}")
    0.18458 5.13615
    >>> print(f"{cxent.cross_entropy(logits, [2], focal_gamma=2.0):.6f}")
    0.004595
    """
    if (type(logits) is np.ndarray and type(target) is np.ndarray and weight is None
            and sample_weight is None
            and type(label_smoothing) is float and label_smoothing == 0.0
            and type(ignore_index) is int and ignore_index == -100 and type(axis) is int
            and z_loss == 0.0 and softcap is None and focal_gamma == 0.0 and not return_lse):
        res = _fast_class_index_loss(logits, target, axis, reduction, return_grad,
                                     fast_threads(n_threads), grad_out)
        if res is not None:
            return res
    red = check_reduction(reduction)
    loss, grad, total, denom, dt, lse = _cross_entropy(
        logits, target, axis, weight, ignore_index, red, label_smoothing, return_grad, n_threads,
        sample_weight, loss_options(z_loss, softcap, focal_gamma), return_lse, grad_out)
    return _labels.finish(red, loss, grad, total, denom, dt, return_grad, lse)


def _cross_entropy(logits, target, axis, weight, ignore_index, red, label_smoothing,
                   return_grad, n_threads, sample_weight=None, opts=None, return_lse=False,
                   grad_out=None):
    """The general path of cross_entropy: (per-position losses or None, gradient or None, sum
    of the losses, denominator of "mean", dtype, log-normalisers or None).  `opts`: the
    kernels' keywords of the loss options (loss_options).  cxent.dask combines chunks from it."""
    x = as_real_array(logits, "logits")
    nt = check_n_threads(n_threads)
    eps = check_label_smoothing(label_smoothing)
    ignore = check_ignore_index(ignore_index)
    opts = NO_LOSS_OPTIONS if opts is None else opts
    ax = normalize_axis(axis, x.ndim, "logits")
    lay = Layout(x, ax)
    t = as_array(target, "target")
    probs = _labels.kind(t, x.shape, lay.reduced_shape, ax)
    K, M = lay.K, lay.M
    if K == 0 and M:
        raise ValueError(f"logits of shape {x.shape} have no classes along axis {ax}")
    dt = x.dtype.type
    w = check_class_weights(weight, K, dt)
    sw = _labels.sample_weights(sample_weight, lay.reduced_shape)
    rw = None if sw is None else lay.label_rows(sw)
    loss, l2, grad, g3, tmp = _outputs(lay, dt, red == "none", return_grad, grad_out,
                                       (x, t, sample_weight, weight))
    lse, lse2 = lay.new_reduced(dt) if return_lse else (None, None)
    if probs:
        if ignore != -100:
            raise ValueError("ignore_index is not supported with probability targets")
        denom = M if sw is None else float(np.sum(sw))
        total = _kernels.cross_entropy_targets(
            lay.rows(x), lay.rows(as_real_array(t, "target").astype(dt, copy=False)), weight=w,
            sample_weight=rw, loss=l2, grad=g3, lse=lse2, label_smoothing=eps,
            scale=_scale(red, denom), n_threads=nt, **opts)
    else:
        denom, total = _class_index_loss(x, t, lay, w, ignore, eps, red, l2, g3, return_grad,
                                         nt, ax, nll=False, rw=rw, opts=opts, lse=lse2,
                                         new_pages=new_pages(grad_out, grad, tmp))
    return loss, finish_out(grad, tmp), total, denom, dt, lse


@overload
def nll_loss(log_probs: ArrayLike, target: ArrayLike, *, axis: int = ...,
             weight: ArrayLike | None = ..., ignore_index: int = ...,
             sample_weight: ArrayLike | None = ...,
             reduction: Literal["mean", "sum"] = ..., return_grad: Literal[False] = ...,
             n_threads: int | None = ..., grad_out: FloatArray | None = ...) -> FloatScalar: ...
@overload
def nll_loss(log_probs: ArrayLike, target: ArrayLike, *, axis: int = ...,
             weight: ArrayLike | None = ..., ignore_index: int = ...,
             sample_weight: ArrayLike | None = ...,
             reduction: Literal["none"], return_grad: Literal[False] = ...,
             n_threads: int | None = ..., grad_out: FloatArray | None = ...) -> FloatArray: ...
@overload
def nll_loss(log_probs: ArrayLike, target: ArrayLike, *, axis: int = ...,
             weight: ArrayLike | None = ..., ignore_index: int = ...,
             sample_weight: ArrayLike | None = ...,
             reduction: Literal["mean", "sum"] = ..., return_grad: Literal[True],
             n_threads: int | None = ..., grad_out: FloatArray | None = ...
             ) -> tuple[FloatScalar, FloatArray]: ...
@overload
def nll_loss(log_probs: ArrayLike, target: ArrayLike, *, axis: int = ...,
             weight: ArrayLike | None = ..., ignore_index: int = ...,
             sample_weight: ArrayLike | None = ...,
             reduction: Literal["none"], return_grad: Literal[True],
             n_threads: int | None = ..., grad_out: FloatArray | None = ...
             ) -> tuple[FloatArray, FloatArray]: ...
@overload
def nll_loss(log_probs: ArrayLike, target: ArrayLike, *, axis: int = ...,
             weight: ArrayLike | None = ..., ignore_index: int = ...,
             sample_weight: ArrayLike | None = ..., reduction: str = ...,
             return_grad: bool = ..., n_threads: int | None = ...,
             grad_out: FloatArray | None = ...) -> Scalarish | tuple[Scalarish, FloatArray]: ...


def nll_loss(log_probs: ArrayLike, target: ArrayLike, *, axis: int = -1,
             weight: ArrayLike | None = None, ignore_index: int = -100,
             sample_weight: ArrayLike | None = None, reduction: str = "mean",
             return_grad: bool = False, n_threads: int | None = None,
             grad_out: FloatArray | None = None) -> Scalarish | tuple[Scalarish, FloatArray]:
    """Negative log-likelihood of class indices under log-probabilities (PyTorch's nll_loss).

    ``loss = -weight[y] * log_probs[y]`` per position; ``nll_loss(log_softmax(z), y)`` equals
    ``cross_entropy(z, y)``.  Keywords as in :func:`cross_entropy`.

    Parameters
    ----------
    log_probs : array_like
        Log-probabilities (e.g. from :func:`log_softmax`) with the classes along `axis`.
    target : array_like of int
        Class indices: the shape of `log_probs` without `axis`.
    axis, weight, ignore_index, sample_weight, reduction, return_grad, n_threads, grad_out
        As in :func:`cross_entropy`.

    Returns
    -------
    loss : scalar or ndarray
    grad : ndarray
        Only with ``return_grad``: ``-weight[y]`` (scaled by the reduction) at each target
        class, 0 elsewhere.

    Examples
    --------
    >>> import cxent
    >>> lp = cxent.log_softmax([[1.4, 3.2, 5.0]])
    >>> print(f"{cxent.nll_loss(lp, [2]):.5f}")
    0.17615
    >>> loss, g = cxent.nll_loss([[-0.5, -1.0], [-2.0, -0.1]], [1, 0], return_grad=True)
    >>> print(loss, g.tolist())
    1.5 [[0.0, -0.5], [-0.5, 0.0]]
    """
    x = as_real_array(log_probs, "log_probs")
    red = check_reduction(reduction)
    nt = check_n_threads(n_threads)
    ignore = check_ignore_index(ignore_index)
    ax = normalize_axis(axis, x.ndim, "log_probs")
    lay = Layout(x, ax)
    t = as_array(target, "target")
    if _labels.kind(t, x.shape, lay.reduced_shape, ax, "log_probs"):
        raise TypeError("nll_loss takes integer class indices; for probability targets use "
                        "cross_entropy")
    if lay.K == 0 and lay.M:
        raise ValueError(f"log_probs of shape {x.shape} have no classes along axis {ax}")
    dt = x.dtype.type
    w = check_class_weights(weight, lay.K, dt)
    sw = _labels.sample_weights(sample_weight, lay.reduced_shape)
    loss, l2, grad, g3, tmp = _outputs(lay, dt, red == "none", return_grad, grad_out,
                                       (x, t, sample_weight, weight))
    denom, total = _class_index_loss(x, t, lay, w, ignore, 0.0, red, l2, g3, return_grad, nt,
                                     ax, nll=True, rw=None if sw is None else lay.label_rows(sw),
                                     new_pages=new_pages(grad_out, grad, tmp))
    return _labels.finish(red, loss, finish_out(grad, tmp), total, denom, dt, return_grad)


@overload
def binary_cross_entropy_with_logits(
        logits: ArrayLike, target: ArrayLike, *, weight: ArrayLike | None = ...,
        pos_weight: ArrayLike | None = ..., reduction: Literal["mean", "sum"] = ...,
        return_grad: Literal[False] = ..., n_threads: int | None = ...) -> FloatScalar: ...
@overload
def binary_cross_entropy_with_logits(
        logits: ArrayLike, target: ArrayLike, *, weight: ArrayLike | None = ...,
        pos_weight: ArrayLike | None = ..., reduction: Literal["none"],
        return_grad: Literal[False] = ..., n_threads: int | None = ...) -> Scalarish: ...
@overload
def binary_cross_entropy_with_logits(
        logits: ArrayLike, target: ArrayLike, *, weight: ArrayLike | None = ...,
        pos_weight: ArrayLike | None = ..., reduction: Literal["mean", "sum"] = ...,
        return_grad: Literal[True], n_threads: int | None = ...
        ) -> tuple[FloatScalar, FloatArray]: ...
@overload
def binary_cross_entropy_with_logits(
        logits: ArrayLike, target: ArrayLike, *, weight: ArrayLike | None = ...,
        pos_weight: ArrayLike | None = ..., reduction: Literal["none"],
        return_grad: Literal[True], n_threads: int | None = ...
        ) -> tuple[Scalarish, FloatArray]: ...
@overload
def binary_cross_entropy_with_logits(
        logits: ArrayLike, target: ArrayLike, *, weight: ArrayLike | None = ...,
        pos_weight: ArrayLike | None = ..., reduction: str = ..., return_grad: bool = ...,
        n_threads: int | None = ...) -> Scalarish | tuple[Scalarish, FloatArray]: ...


def binary_cross_entropy_with_logits(
        logits: ArrayLike, target: ArrayLike, *, weight: ArrayLike | None = None,
        pos_weight: ArrayLike | None = None, reduction: str = "mean", return_grad: bool = False,
        n_threads: int | None = None) -> Scalarish | tuple[Scalarish, FloatArray]:
    r"""Binary cross-entropy of ``sigmoid(logits)`` against `target`, elementwise.

    ``loss = -w [pw t log s(z) + (1 - t) log(1 - s(z))]`` with ``s`` the sigmoid (the softmax of
    two classes ``[0, z]``), computed as ``w [pw t softplus(-z) + (1 - t) softplus(z)]``: stable
    for logits of any magnitude and accurate when the loss is tiny (PyTorch's formula loses
    digits there).  A term whose coefficient is 0 is left out, so ``z = +inf`` with target 1
    gives loss 0 (PyTorch: nan).

    Parameters
    ----------
    logits : array_like
        Real numbers of any shape.
    target : array_like
        Targets in [0, 1] (hard or soft labels) of the same shape.
    weight : array_like, optional
        Weights broadcast against `logits` (PyTorch's ``weight``).
    pos_weight : array_like, optional
        Weight of the positive term, broadcast against `logits`; usually one value per class
        along the last axis (PyTorch's ``pos_weight``).
    reduction : {"mean", "sum", "none"}, default "mean"
        Mean over all elements, sum, or the elementwise losses.
    return_grad : bool, default False
        Also return the gradient wrt `logits`: ``w [(1 - t) s(z) - pw t s(-z)]`` (``w (s(z) -
        t)`` without pos_weight), scaled by the reduction.
    n_threads : int, optional
        Threads to use (``None``: OpenMP's default).

    Returns
    -------
    loss : scalar or ndarray
    grad : ndarray
        Only with ``return_grad``.

    Examples
    --------
    >>> import numpy as np, cxent
    >>> print(f"{cxent.binary_cross_entropy_with_logits([0.0, 2.0], [1.0, 0.0]):.6f}")
    1.410038
    >>> cxent.binary_cross_entropy_with_logits([40.0], [1.0], reduction="none")  # exp(-40)
    array([4.24835426e-18])
    """
    x = as_real_array(logits, "logits")
    red = check_reduction(reduction)
    nt = check_n_threads(n_threads)
    shape = x.shape
    t = as_real_array(target, "target")
    if t.shape != shape:
        raise ValueError(f"target has shape {t.shape}, logits have shape {shape}; they must be "
                         f"equal")
    dt = x.dtype.type
    t = t.astype(dt, copy=False)
    x1, t1 = (x, t) if x.ndim else (x.reshape(1), t.reshape(1))
    lay = Layout(x1, x1.ndim - 1)
    extra = {}
    for name, val in (("weight", weight), ("pos_weight", pos_weight)):
        if val is not None:
            v = as_real_array(val, name).astype(dt, copy=False)
            try:
                extra[name] = lay.rows(np.broadcast_to(v, x1.shape))
            except ValueError:
                raise ValueError(f"{name} of shape {v.shape} does not broadcast to the logits' "
                                 f"shape {shape}") from None
    loss = grad = l3 = g3 = None
    if red == "none":
        loss, l3 = lay.new(dt)
    if return_grad:
        grad, g3 = lay.new(dt)
    n = x.size
    scale = 1.0 / n if red == "mean" and n else 1.0
    total = 0.0
    if n:
        total = _kernels.bce_with_logits(lay.rows(x1), lay.rows(t1), weight=extra.get("weight"),
                                         pos_weight=extra.get("pos_weight"), loss=l3, grad=g3,
                                         scale=scale, n_threads=nt)
    if red == "none":
        loss = loss.reshape(shape)
        loss = loss if loss.ndim else loss[()]
    else:
        loss = dt(total) if red == "sum" else (dt(total / n) if n else dt(np.nan))
    if return_grad:
        return loss, grad.reshape(shape)
    return loss


def _outputs(lay, dt, want_loss, want_grad, grad_out, inputs):
    """(loss, its (A, B) view, gradient, its (A, B, K) view, temporary for finish_out): new
    arrays, or the caller's `grad_out`, never written in place of an input (the label kernels
    overwrite a row's gradient before they are done reading its logits)."""
    loss, l2 = lay.new_reduced(dt) if want_loss else (None, None)
    if grad_out is not None:
        if not want_grad:
            raise ValueError("grad_out is given but return_grad is False")
        grad, g3, tmp = prepare_out(lay, grad_out, dt, inputs, name="grad_out", in_place=False)
        return loss, l2, grad, g3, tmp
    grad, g3 = lay.new(dt) if want_grad else (None, None)
    return loss, l2, grad, g3, None


def _fast_class_index_loss(x, y, axis, reduction, return_grad, nt, grad_out=None):
    """cross_entropy of C-contiguous (N, K) logits and (N,) int64 class indices without the
    keywords' extras, in few microseconds, by the rules of the general path (_labels); None
    sends any other call to the general path (which also reports a `grad_out` it rejects)."""
    flags = x.flags
    if not (x.ndim == 2 and (axis == -1 or axis == 1) and x.dtype in NATIVE_FLOATS
            and flags.c_contiguous and flags.aligned and y.dtype == _INT64 and y.ndim == 1
            and y.flags.c_contiguous and y.flags.aligned and type(reduction) is str
            and reduction in REDUCTIONS and nt >= 0):
        return None
    N, K = x.shape
    if y.shape[0] != N or not N or not K:
        return None
    if grad_out is not None and not (
            return_grad and type(grad_out) is np.ndarray and grad_out.shape == x.shape
            and grad_out.dtype == x.dtype and grad_out.flags.c_contiguous
            and grad_out.flags.aligned and grad_out.flags.writeable
            and not np.may_share_memory(grad_out, x) and not np.may_share_memory(grad_out, y)):
        return None
    dt = x.dtype.type
    loss = np.empty(N, dt) if reduction == "none" else None
    grad, new = ((_memory.empty_like(x) if grad_out is None else (grad_out, False))
                 if return_grad else (None, False))
    total, bad, counted = _kernels.cross_entropy_c(x, y, loss=loss, grad=grad, K=K,
                                                   mean=reduction == "mean", n_threads=nt,
                                                   new_pages=new)
    if bad >= 0:
        raise _labels.error(int(y[bad]), (int(bad),), K, -100, of="logits", ax=1)
    return _labels.finish(reduction, loss, grad, total, counted, dt, return_grad)


def _scale(red, denom):
    return 1.0 / denom if red == "mean" and denom else 1.0


def _class_index_loss(x, t, lay, w, ignore, eps, red, l2, g3, want_grad, nt, ax, nll, rw=None,
                      opts=None, lse=None, new_pages=False):
    """Run the fused kernel on class indices; returns (denominator of "mean", sum of losses).

    The denominator of "mean" is the summed (class times sample) weights of the targets not
    ignored (their number without weights).  When the fused pass needs it (the gradient of a
    "mean" is scaled by its inverse) or cannot count it (weights), one cheap pass over the labels
    gives it and checks them first; otherwise the fused pass checks and counts the labels itself.
    The kernel runs once either way.  `rw`: the (A, B) view of the sample weights, or None;
    `new_pages`: no store has touched `g3`'s pages yet (_validate.new_pages).
    """
    y = lay.label_rows(_labels.as_int64(t))
    K = lay.K
    weighted = w is not None or rw is not None
    kernel = _kernels.nll_labels if nll else _kernels.cross_entropy_labels
    extra = {} if nll else {"label_smoothing": eps, "lse": lse, **(opts or NO_LOSS_OPTIONS),
                            "weight_sum": float(np.sum(w, dtype=np.float64)) if w is not None
                            else float(K)}

    def bad_label(row):
        pos = lay.position(row)
        return _labels.error(t[pos], pos, K, ignore, of="log_probs" if nll else "logits", ax=ax)

    denom = None
    if red == "mean" and (weighted or want_grad):
        denom, bad = _labels.denominator(y, w, ignore, K, rw)
        if bad >= 0:
            raise bad_label(bad)
    total, bad, counted = kernel(lay.rows(x), y, weight=w, sample_weight=rw, loss=l2, grad=g3,
                                 ignore_index=ignore, scale=_scale(red, denom), n_threads=nt,
                                 new_pages=new_pages, **extra)
    if bad >= 0:
        raise bad_label(bad)
    return (denom if denom is not None else counted), total
