"""Information measures between distributions: entropy, KL divergence, cross-entropy."""

from __future__ import annotations

import math

from ._isa import kernels as _kernels
from ._typing import ArrayLike, Scalarish
from ._validate import Layout, as_real_array, broadcast_pair, normalize_axis

__all__ = ["cross_entropy_dist", "entropy", "kl_divergence"]


def entropy(p: ArrayLike, axis: int = -1, *, base: float | None = None) -> Scalarish:
    r"""Shannon entropy ``H(p) = -sum(p log p)`` along an axis, with ``0 log 0 = 0``.

    Parameters
    ----------
    p : array_like
        Probabilities along `axis`.  They are used as given, not renormalised (unlike
        :func:`scipy.stats.entropy`, which divides by their sum): normalise first when they do
        not sum to 1.  A negative entry gives ``-inf`` (SciPy's ``entr``); nan propagates.
    axis : int, default -1
        The axis the distributions run along.  (``scipy.stats.entropy`` defaults to 0.)
    base : float, optional
        Base of the logarithm; natural logarithm (nats) by default, 2 for bits.

    Returns
    -------
    ndarray or scalar
        The shape of `p` without `axis`.

    Examples
    --------
    >>> import cxent
    >>> print(cxent.entropy([0.5, 0.5], base=2))
    1.0
    >>> cxent.entropy([[1.0, 0.0], [0.25, 0.75]]).round(6)
    array([0.      , 0.562335])
    """
    return _information(p, None, axis, base, _kernels.entropy_rows)


def kl_divergence(p: ArrayLike, q: ArrayLike, axis: int = -1, *, base: float | None = None
                  ) -> Scalarish:
    r"""Kullback-Leibler divergence ``D(p || q) = sum(p log(p / q))`` along an axis.

    Terms follow :func:`scipy.special.rel_entr`: 0 where ``p = 0`` (and ``q >= 0``), ``+inf``
    where ``p > 0`` and ``q = 0`` or where an entry is negative.  `p` and `q` broadcast against
    each other and are not renormalised.  The identity ``D(p || q) = H(p, q) - H(p)`` holds:

    >>> import numpy as np, cxent
    >>> p, q = np.array([0.1, 0.6, 0.3]), np.array([0.3, 0.3, 0.4])
    >>> bool(np.isclose(cxent.kl_divergence(p, q),
    ...                 cxent.cross_entropy_dist(p, q) - cxent.entropy(p)))
    True

    Parameters
    ----------
    p, q : array_like
        Distributions along `axis`.
    axis : int, default -1
        The axis the distributions run along.
    base : float, optional
        Base of the logarithm (natural by default).

    Returns
    -------
    ndarray or scalar
        The broadcast shape without `axis`.

    Examples
    --------
    >>> print(f"{cxent.kl_divergence([0.5, 0.5], [0.9, 0.1]):.6f}")
    0.510826
    >>> cxent.kl_divergence([1.0, 0.0], [0.0, 1.0])
    np.float64(inf)
    """
    return _information(p, q, axis, base, _kernels.kl_rows)


def cross_entropy_dist(p: ArrayLike, q: ArrayLike, axis: int = -1, *, base: float | None = None
                       ) -> Scalarish:
    r"""Cross-entropy between distributions ``H(p, q) = -sum(p log q) = H(p) + D(p || q)``.

    Terms with ``p = 0`` contribute 0 (even where ``q = 0``); ``p > 0 = q`` gives ``+inf``.
    `p` and `q` broadcast and are used as given.  For logits rather than probabilities use
    :func:`cross_entropy` (which fuses the softmax and gives the gradient).

    Parameters
    ----------
    p, q : array_like
        Distributions along `axis`: `p` the reference, `q` the model.
    axis : int, default -1
        The axis the distributions run along.
    base : float, optional
        Base of the logarithm (natural by default).

    Returns
    -------
    ndarray or scalar
        The broadcast shape without `axis`.

    Examples
    --------
    >>> import cxent
    >>> print(f"{cxent.cross_entropy_dist([0, 0, 1], [0.02, 0.14, 0.84]):.5f}")  # -log(0.84)
    0.17435
    """
    return _information(p, q, axis, base, _kernels.cross_entropy_dist_rows,
                        lo=-math.inf, hi=math.inf)  # no clipping


def _information(p, q, axis, base, kernel, **clip):
    a = as_real_array(p, "p")
    b = None
    if q is not None:
        a, b = broadcast_pair(a, as_real_array(q, "q"),
                              "p of shape {a} and q of shape {b} do not broadcast together")
    factor = 1.0
    if base is not None:
        bf = float(base)
        if not (bf > 0 and bf != 1 and math.isfinite(bf)):
            raise ValueError(f"base must be a positive number other than 1, got {base!r}")
        factor = 1.0 / math.log(bf)
    lay = Layout(a, normalize_axis(axis, a.ndim, "p"))
    res, o2 = lay.new_reduced(a.dtype)
    if lay.M:
        rows = (lay.rows(a),) if b is None else (lay.rows(a), lay.rows(b))
        kernel(*rows, o2, factor=factor, n_threads=0, **clip)
    return res if res.ndim else res[()]
