"""The softmax family: softmax, log_softmax and logsumexp."""

from __future__ import annotations

from typing import Literal, overload

import numpy as np

from . import _memory
from ._isa import kernels as _kernels
from ._typing import ArrayLike, FloatArray, Scalarish
from ._validate import (
    NATIVE_FLOATS,
    Layout,
    as_real_array,
    broadcast_pair,
    check_n_threads,
    check_out,
    check_scalar_axis,
    fast_threads,
    finish_out,
    merge_axes,
    new_pages,
    normalize_axes,
    normalize_axis,
    prepare_out,
)

__all__ = ["log_softmax", "log_softmax_backward", "logsumexp", "softmax", "softmax_backward"]


def softmax(x: ArrayLike, axis: int = -1, *, out: FloatArray | None = None,
            n_threads: int | None = None) -> FloatArray:
    r"""Softmax along an axis: ``exp(x) / sum(exp(x), axis)``.

    .. math:: \sigma(z)_j = \frac{e^{z_j}}{\sum_k e^{z_k}}

    computed stably (each row is shifted by its maximum) in one compiled pass per row, in parallel
    over rows with the GIL released.

    Parameters
    ----------
    x : array_like
        Real numbers of any shape.  float32 and float64 are computed natively (float32 in gives
        float32 out); other real dtypes are converted to float64.
    axis : int, default -1
        The class axis.  Note: :func:`scipy.special.softmax` defaults to ``axis=None``.
    out : ndarray, optional
        Array of ``x``'s shape and result dtype to write into (may be ``x`` itself).
    n_threads : int, optional
        Threads to use; ``None`` means OpenMP's default for the calling thread
        (``OMP_NUM_THREADS``, threadpoolctl).  Small inputs always run on the calling thread.
        The result does not depend on it.

    Returns
    -------
    ndarray
        Probabilities of ``x``'s shape; each slice along `axis` sums to 1.

    Notes
    -----
    Non-finite values follow PyTorch and SciPy: ``-inf`` gets probability exactly 0; a slice with a
    ``+inf`` or a ``nan``, or with only ``-inf``, is all ``nan``; other slices are unaffected.

    Examples
    --------
    >>> import numpy as np, cxent
    >>> cxent.softmax([1.0, 2.0, 3.0]).round(2)
    array([0.09, 0.24, 0.67])

    The worked example: logits ``W @ x`` for a 3-class linear model.

    >>> W = np.array([[.1, .2, .3], [.4, .5, .6], [.7, .8, .9]])
    >>> z = W @ np.array([1.0, 2.0, 3.0])
    >>> z.round(6)
    array([1.4, 3.2, 5. ])
    >>> cxent.softmax(z).round(2)
    array([0.02, 0.14, 0.84])
    >>> p = cxent.softmax(np.float32([[0, 0], [0, np.log(3)]]))   # float32 in, float32 out
    >>> p.dtype, p.round(4)
    (dtype('float32'), array([[0.5 , 0.5 ],
           [0.25, 0.75]], dtype=float32))
    """
    return _softmax_impl(x, axis, out, n_threads, False)


def log_softmax(x: ArrayLike, axis: int = -1, *, out: FloatArray | None = None,
                n_threads: int | None = None) -> FloatArray:
    r"""Logarithm of the softmax along an axis: ``x - logsumexp(x, axis)``.

    More accurate than ``log(softmax(x))``: very negative log-probabilities do not underflow to
    ``-inf``.  Parameters, non-finite handling and threading are those of :func:`softmax`.

    Parameters
    ----------
    x : array_like
        Real numbers of any shape (float32 stays float32; other real dtypes become float64).
    axis : int, default -1
        The class axis.
    out : ndarray, optional
        Array of ``x``'s shape and result dtype to write into (may be ``x`` itself).
    n_threads : int, optional
        Threads to use (``None``: OpenMP's default); the result does not depend on it.

    Returns
    -------
    ndarray
        Log-probabilities of ``x``'s shape.

    Examples
    --------
    >>> import cxent
    >>> cxent.log_softmax([1.4, 3.2, 5.0]).round(5)
    array([-3.77615, -1.97615, -0.17615])
    >>> cxent.log_softmax([0.0, -1000.0])   # log(softmax) would give -inf
    array([    0., -1000.])
    """
    return _softmax_impl(x, axis, out, n_threads, True)


def _fast_rows(x, axis, n_threads):
    """The fast path of small calls: n_threads for the kernels (>= 0) when `x` is a C-contiguous
    float32/float64 ndarray taken along its last axis with a valid n_threads, else -1 (the
    general path, which also reports errors)."""
    if type(x) is not np.ndarray or type(axis) is not int:
        return -1
    flags = x.flags
    if not (x.dtype in NATIVE_FLOATS and flags.c_contiguous and flags.aligned and x.ndim
            and (axis == -1 or axis == x.ndim - 1)):
        return -1
    return fast_threads(n_threads)


def _softmax_impl(x, axis, out, n_threads, log_space):
    nt = _fast_rows(x, axis, n_threads) if out is None else -1
    if nt >= 0:
        res, new = _memory.empty_like(x)
        (_kernels.log_softmax_c if log_space else _kernels.softmax_c)(
            x, res, K=x.shape[-1], n_threads=nt, new_pages=new)
        return res
    a = as_real_array(x, "x")
    nt = check_n_threads(n_threads)
    if a.ndim == 0:  # one element along axis 0 / -1 (PyTorch's rule; SciPy's values)
        check_scalar_axis(axis, "x")
        if out is not None:
            check_out(out, (), a.dtype)
        res = _softmax_impl(a.reshape(1), 0, None if out is None else out.reshape(1), nt or None,
                            log_space)
        return res.reshape(()) if out is None else out
    lay = Layout(a, normalize_axis(axis, a.ndim, "x"))
    result, o3, tmp = prepare_out(lay, out, a.dtype, (a,))
    if lay.M and lay.K:
        (_kernels.log_softmax_rows if log_space else _kernels.softmax_rows)(
            lay.rows(a), o3, n_threads=nt, new_pages=new_pages(out, result, tmp))
    return finish_out(result, tmp)


@overload
def logsumexp(x: ArrayLike, axis: int | tuple[int, ...] | None = ..., *,
              b: ArrayLike | None = ..., keepdims: bool = ..., return_sign: Literal[False] = ...,
              n_threads: int | None = ...) -> Scalarish: ...
@overload
def logsumexp(x: ArrayLike, axis: int | tuple[int, ...] | None = ..., *,
              b: ArrayLike | None = ..., keepdims: bool = ..., return_sign: Literal[True],
              n_threads: int | None = ...) -> tuple[Scalarish, Scalarish]: ...
@overload
def logsumexp(x: ArrayLike, axis: int | tuple[int, ...] | None = ..., *,
              b: ArrayLike | None = ..., keepdims: bool = ..., return_sign: bool = ...,
              n_threads: int | None = ...) -> Scalarish | tuple[Scalarish, Scalarish]: ...


def logsumexp(x: ArrayLike, axis: int | tuple[int, ...] | None = -1, *,
              b: ArrayLike | None = None, keepdims: bool = False, return_sign: bool = False,
              n_threads: int | None = None) -> Scalarish | tuple[Scalarish, Scalarish]:
    r"""Logarithm of the sum of exponentials along an axis: ``log(sum(b * exp(x), axis))``.

    Computed stably (shifted by the maximum, sum of exponentials in float64) in one pass per row.

    Parameters
    ----------
    x : array_like
        Real numbers of any shape (float32 stays float32; other real dtypes become float64).
    axis : int, tuple of ints or None, default -1
        Axis or axes to reduce; ``None`` reduces over all elements.  (SciPy's default is None.)
    b : array_like, optional
        Scale factors broadcast against `x` (SciPy's ``b``): may be negative or zero; an element
        whose factor is 0 is left out entirely, even when it is ``inf`` or ``nan``.
    keepdims : bool, default False
        Keep the reduced axes with length 1, so the result broadcasts against ``x``.
    return_sign : bool, default False
        Also return the sign of the sum, and the logarithm of its absolute value.  Without it a
        negative sum gives ``nan``.
    n_threads : int, optional
        Threads to use (``None``: OpenMP's default); the result does not depend on it.

    Returns
    -------
    res : ndarray or scalar
        ``x``'s shape without the reduced axes; a NumPy scalar when nothing is left.
    sgn : ndarray or scalar
        Only with ``return_sign``: +1, -1, 0 for a zero sum, ``nan`` where the result is ``nan``.

    Notes
    -----
    As in SciPy and PyTorch: a slice holding ``+inf`` (and no ``nan``) gives ``+inf``, a slice of
    only ``-inf`` (or an empty slice) gives ``-inf``, a ``nan`` gives ``nan``.  With `b`, +inf
    terms of opposite signs give ``nan``.

    Examples
    --------
    >>> import numpy as np, cxent
    >>> print(f"{cxent.logsumexp([1.4, 3.2, 5.0]):.5f}")
    5.17615
    >>> cxent.logsumexp(np.array([[0.0, 0.0], [1000.0, 1000.0]])) - np.log(2)
    array([   0., 1000.])
    >>> cxent.logsumexp(np.zeros((2, 3)), axis=None, keepdims=True).round(6)
    array([[1.791759]])
    >>> r, s = cxent.logsumexp([1.0, 2.0], b=[1.0, -1.0], return_sign=True)   # log|e - e^2|
    >>> print(f"{r:.6f} {s}")
    1.541325 -1.0
    """
    plain = b is None and keepdims is False and return_sign is False
    nt = _fast_rows(x, axis, n_threads) if plain else -1
    if nt >= 0 and x.shape[-1]:
        res = np.empty(x.shape[:-1], x.dtype)
        _kernels.logsumexp_c(x, res, K=x.shape[-1], n_threads=nt)
        return res if res.ndim else res[()]
    a = as_real_array(x, "x")
    nt = check_n_threads(n_threads)
    bb = None
    if b is not None:
        bb, a = broadcast_pair(as_real_array(b, "b"), a,
                               "b of shape {a} does not broadcast against x of shape {b}")
    nd = a.ndim
    if nd == 0:  # one element along axis 0 / -1 (PyTorch's rule; SciPy's values); 0-d result
        check_scalar_axis(axis, "x")
        a = a.reshape(1)
        bb = None if bb is None else bb.reshape(1)
        axis, keepdims, nd = 0, False, 1
    if axis is None or isinstance(axis, tuple):
        axes = normalize_axes(axis, nd, "x")
        a = merge_axes(a, axes)
        bb = None if bb is None else merge_axes(bb, axes)
        ax = a.ndim - 1
    else:
        axes = ax = normalize_axis(axis, nd, "x")
    lay = Layout(a, ax)
    res, o2 = lay.new_reduced(a.dtype)
    sgn, s2 = lay.new_reduced(a.dtype) if return_sign else (None, o2)
    if lay.M:
        _kernels.logsumexp_rows(lay.rows(a), o2, b=None if bb is None else lay.rows(bb),
                                sign=s2 if return_sign else None, n_threads=nt)
    if keepdims:
        res = np.expand_dims(res, axes)
        sgn = None if sgn is None else np.expand_dims(sgn, axes)
    res = res if res.ndim else res[()]
    if return_sign:
        return res, (sgn if sgn.ndim else sgn[()])
    return res


def softmax_backward(grad_output: ArrayLike, output: ArrayLike, axis: int = -1, *,
                     out: FloatArray | None = None, n_threads: int | None = None) -> FloatArray:
    r"""Gradient of a loss through softmax: the vector-Jacobian product autograd needs.

    Given ``output = softmax(x, axis)`` and ``grad_output`` (the gradient of a loss with respect
    to ``output``), returns the gradient with respect to ``x``:

    .. math:: \frac{\partial L}{\partial x_k} = y_k \Big(g_k - \sum_j g_j y_j\Big)

    in one fused pass per row (the inner sum accumulated in float64).

    Parameters
    ----------
    grad_output : array_like
        Gradient with respect to the softmax output; the shape of `output`.
    output : array_like
        The softmax output ``y``.
    axis : int, default -1
        The axis the softmax was taken along.
    out : ndarray, optional
        Array to write the result into (shape of `output`, result dtype).
    n_threads : int, optional
        Threads to use (``None``: OpenMP's default).

    Returns
    -------
    ndarray
        The gradient with respect to the softmax input; float32 when both inputs are float32.

    Examples
    --------
    >>> import numpy as np, cxent
    >>> y = cxent.softmax([1.4, 3.2, 5.0])
    >>> g = np.array([0.0, 0.0, -1 / y[2]])         # gradient of -log(y[2])
    >>> cxent.softmax_backward(g, y).round(4)       # = y - onehot(2)
    array([ 0.0229,  0.1386, -0.1615])
    """
    return _backward(grad_output, output, axis, out, n_threads, False)


def log_softmax_backward(grad_output: ArrayLike, output: ArrayLike, axis: int = -1, *,
                         out: FloatArray | None = None, n_threads: int | None = None
                         ) -> FloatArray:
    r"""Gradient of a loss through log_softmax: the vector-Jacobian product autograd needs.

    Given ``output = log_softmax(x, axis)`` and ``grad_output``, returns

    .. math:: \frac{\partial L}{\partial x_k} = g_k - e^{y_k} \sum_j g_j

    in one fused pass per row (the sum accumulated in float64).

    Parameters
    ----------
    grad_output : array_like
        Gradient with respect to the log_softmax output; the shape of `output`.
    output : array_like
        The log_softmax output ``y``.
    axis : int, default -1
        The axis the log_softmax was taken along.
    out : ndarray, optional
        Array to write the result into (shape of `output`, result dtype).
    n_threads : int, optional
        Threads to use (``None``: OpenMP's default).

    Returns
    -------
    ndarray
        The gradient with respect to the log_softmax input.

    Examples
    --------
    >>> import numpy as np, cxent
    >>> y = cxent.log_softmax([1.4, 3.2, 5.0])
    >>> cxent.log_softmax_backward([0.0, 0.0, -1.0], y).round(4)   # d(-y[2])/dx = p - onehot
    array([ 0.0229,  0.1386, -0.1615])
    """
    return _backward(grad_output, output, axis, out, n_threads, True)


def _backward(grad_output, output, axis, out, n_threads, log_space):
    y = as_real_array(output, "output")
    go = as_real_array(grad_output, "grad_output")
    if go.shape != y.shape:
        raise ValueError(f"grad_output has shape {go.shape}, output has shape {y.shape}; they "
                         f"must be equal")
    dt = np.result_type(y.dtype, go.dtype)
    y, go = y.astype(dt, copy=False), go.astype(dt, copy=False)
    nt = check_n_threads(n_threads)
    lay = Layout(y, normalize_axis(axis, y.ndim, "output"))
    result, o3, tmp = prepare_out(lay, out, dt, (y, go))
    if lay.M and lay.K:
        (_kernels.log_softmax_backward_rows if log_space
         else _kernels.softmax_backward_rows)(lay.rows(y), lay.rows(go), o3, n_threads=nt)
    return finish_out(result, tmp)
