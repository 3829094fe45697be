"""Temperature scaling (Guo et al. 2017): the one temperature that calibrates logits best."""

import math

import numpy as np
from numpy.typing import ArrayLike

from . import _labels
from ._isa import kernels as _kernels
from ._validate import Layout, as_real_array, check_n_threads, normalize_axis

__all__ = ["fit_temperature"]

# the range of log(1 / T) searched, scikit-learn's bounds of _TemperatureScaling
_LOG_BETA_BOUNDS = (-10.0, 10.0)


def fit_temperature(logits: ArrayLike, labels: ArrayLike, *, axis: int = -1,
                    sample_weight: ArrayLike | None = None, n_threads: int | None = None,
                    return_info: bool = False) -> float | tuple[float, dict]:
    """The temperature ``T > 0`` minimising the mean cross-entropy of ``logits / T``.

    Temperature scaling (Guo et al. 2017) calibrates a classifier's confidences without changing
    its predictions: fit ``T`` on held-out logits and labels, then use ``softmax(logits / T)``.
    The mean cross-entropy is convex in ``beta = 1 / T``; each step of a safeguarded Newton
    method takes the loss and its first and second derivatives in ``beta`` from one fused pass
    over the data (typically 5 to 8 passes in all), where scikit-learn's
    ``CalibratedClassifierCV(method="temperature")`` evaluates the loss dozens of times.

    Parameters
    ----------
    logits : array_like
        Real scores with the classes along `axis` (float32 and float64 natively).
    labels : array_like of int
        Class indices in ``[0, K)``, the shape of `logits` without `axis`.
    axis : int, default -1
    sample_weight : array_like, optional
        Non-negative finite weights of the positions (weighted mean cross-entropy).
    n_threads : int, optional
    return_info : bool, default False
        Also return ``{"passes": ..., "loss": ..., "gradient": ...}`` (the passes over the data,
        the mean cross-entropy at the result and its derivative in ``beta``).

    Returns
    -------
    T : float
        Within ``[exp(-10), exp(10)]`` (scikit-learn's bounds of ``log(1 / T)``).

    Examples
    --------
    Over-confident logits (the ones the labels were drawn from, times 3) give back a
    temperature near 3:

    >>> import numpy as np, cxent
    >>> rng = np.random.default_rng(0)
    >>> z = rng.standard_normal((20000, 5))
    >>> y = np.array([rng.choice(5, p=p) for p in cxent.softmax(z)])
    >>> print(f"{cxent.fit_temperature(3 * z, y):.2f}")
    2.95
    """
    x = as_real_array(logits, "logits")
    nt = check_n_threads(n_threads)
    ax = normalize_axis(axis, x.ndim, "logits")
    lay = Layout(x, ax)
    t = np.asarray(labels)
    if _labels.kind(t, x.shape, lay.reduced_shape, ax):
        raise TypeError("labels must hold integer class indices, not probabilities")
    if lay.K == 0:
        raise ValueError(f"logits of shape {x.shape} have no classes along axis {ax}")
    y = lay.label_rows(_labels.as_int64(t, "labels"))
    sw = _labels.sample_weights(sample_weight, lay.reduced_shape)
    rw = None if sw is None else lay.label_rows(sw)
    weight = float(np.sum(sw)) if sw is not None else float(lay.M)
    rows = lay.rows(x)
    passes = 0

    def stats(beta):
        nonlocal passes
        passes += 1
        loss, d1, d2, bad = _kernels.temperature_stats(rows, y, sample_weight=rw, beta=beta,
                                                       n_threads=nt)
        if bad >= 0:
            pos = lay.position(bad)
            raise _labels.error(t[pos], pos, lay.K, None, name="labels")
        return loss / weight, d1 / weight, d2 / weight

    # Newton's method on u = log(beta), steps of at most 2 (a factor e^2 in beta), kept inside
    # the bracket [lo, hi] of the minimum (the sign of the derivative moves its ends: the loss
    # is convex in beta), halving the bracket in u when a step would leave it
    lo, hi = _LOG_BETA_BOUNDS
    u = 0.0
    loss, g, h = stats(1.0)
    if not weight:
        raise ValueError("no positions to fit a temperature on (sum of sample weights is 0)")
    for _ in range(100):
        beta = math.exp(u)
        if g > 0:
            hi = u
        elif g < 0:
            lo = u
        else:
            break
        du, dd = beta * g, beta * beta * h + beta * g  # dL/du, d2L/du2
        step = -du / dd if dd > 0 else -math.copysign(2.0, du)
        step = max(-2.0, min(2.0, step))
        new = u + step
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
        if abs(new - u) <= 1e-10 or hi - lo <= 1e-10:
            break
        u = new
        loss, g, h = stats(math.exp(u))
    beta = math.exp(u)
    T = 1.0 / beta
    if return_info:
        return T, {"passes": passes, "loss": loss, "gradient": g}
    return T
