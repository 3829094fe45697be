"""The softmax family: softmax, log_softmax and logsumexp."""

import math

import numpy as np

from . import _kernels
from ._validate import Layout, as_real_array, check_n_threads, check_out, normalize_axis

__all__ = ["log_softmax", "logsumexp", "softmax"]


def softmax(x, axis=-1, *, out=None, n_threads=None):
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


def log_softmax(x, axis=-1, *, out=None, n_threads=None):
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


def _softmax_impl(x, axis, out, n_threads, log_space):
    a = as_real_array(x, "x")
    nt = check_n_threads(n_threads)
    lay = Layout(a, normalize_axis(axis, a.ndim, "x"))
    result = o3 = None
    if out is not None:
        check_out(out, a.shape, a.dtype)
        if not np.may_share_memory(out, a) or _same_view(out, a):
            o3 = lay.out_rows(out)
        result = out
    if o3 is None:  # no out=, or an out= that overlaps x partially or is not viewable
        res, o3 = lay.new(a.dtype)
    if lay.M and lay.K:
        _kernels.softmax_rows(lay.rows(a), o3, log_space, nt)
    if result is None:
        return res
    if not np.may_share_memory(o3, result):
        np.copyto(result, res)
    return result


def _same_view(u, v):
    return (u.__array_interface__["data"][0] == v.__array_interface__["data"][0]
            and u.strides == v.strides)


def logsumexp(x, axis=-1, *, keepdims=False, n_threads=None):
    r"""Logarithm of the sum of exponentials along an axis: ``log(sum(exp(x), axis))``.

    Computed stably (shifted by the maximum, sum of exponentials in float64) in one pass per row.

    Parameters
    ----------
    x : array_like
        Real numbers of any shape (float32 stays float32; other real dtypes become float64).
    axis : int, tuple of ints or None, default -1
        Axis or axes to reduce; ``None`` reduces over all elements.
    keepdims : bool, default False
        Keep the reduced axes with length 1, so the result broadcasts against ``x``.
    n_threads : int, optional
        Threads to use (``None``: OpenMP's default); the result does not depend on it.

    Returns
    -------
    ndarray or scalar
        ``x``'s shape without the reduced axes; a NumPy scalar when nothing is left.

    Notes
    -----
    As in SciPy and PyTorch: a slice holding ``+inf`` (and no ``nan``) gives ``+inf``, a slice of
    only ``-inf`` (or an empty slice) gives ``-inf``, a ``nan`` gives ``nan``.

    Examples
    --------
    >>> import numpy as np, cxent
    >>> print(f"{cxent.logsumexp([1.4, 3.2, 5.0]):.5f}")
    5.17615
    >>> cxent.logsumexp(np.array([[0.0, 0.0], [1000.0, 1000.0]])) - np.log(2)
    array([   0., 1000.])
    >>> cxent.logsumexp(np.zeros((2, 3)), axis=None, keepdims=True).round(6)
    array([[1.791759]])
    """
    a = as_real_array(x, "x")
    nt = check_n_threads(n_threads)
    nd = a.ndim
    if axis is None or isinstance(axis, tuple):
        axes = tuple(range(nd)) if axis is None else tuple(
            normalize_axis(ax, nd, "x") for ax in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"axis {axis} repeats an axis")
        kept = [i for i in range(nd) if i not in axes]
        flat = a.transpose(kept + list(axes)).reshape(
            tuple(a.shape[i] for i in kept) + (math.prod(a.shape[i] for i in axes),))
        res = logsumexp(flat, -1, n_threads=n_threads)
        if keepdims:
            res = np.expand_dims(res, axes)
        return res
    ax = normalize_axis(axis, nd, "x")
    lay = Layout(a, ax)
    res, o2 = lay.new_reduced(a.dtype)
    if lay.M:
        _kernels.logsumexp_rows(lay.rows(a), o2, nt)
    if keepdims:
        res = np.expand_dims(res, ax)
    return res if res.ndim else res[()]
