"""scikit-learn compatible metrics: log_loss, computed by the compiled kernels.

The label handling is cxent's own (scikit-learn is not needed); it reproduces
``sklearn.metrics.log_loss`` of scikit-learn 1.9: classes are the sorted unique labels (as
``LabelBinarizer`` finds them), 1-D probabilities are those of the positive class, probabilities
are clipped to ``[eps, 1 - eps]`` with ``eps`` the machine epsilon of their dtype, and the same
warnings and errors are raised for malformed input.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ._isa import kernels as _kernels
from ._typing import ArrayLike
from ._validate import Layout

__all__ = ["log_loss"]


def log_loss(y_true: ArrayLike, y_proba: ArrayLike, *, normalize: bool = True,
             sample_weight: ArrayLike | None = None, labels: ArrayLike | None = None) -> float:
    r"""Log loss (cross-entropy of predicted probabilities), as ``sklearn.metrics.log_loss``.

    .. math:: L = -\frac{1}{\sum_i w_i} \sum_i w_i \sum_k [y_i = k] \log p_{ik}

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_classes)
        True labels (strings, integers, booleans...) or a label indicator matrix.
    y_proba : array-like of float, shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, columns in the sorted order of the classes; a 1-D array (or
        one column) holds the probability of the positive (larger) class of a binary problem.
        Values are clipped to ``[eps, 1 - eps]``, ``eps = np.finfo(dtype).eps``.
    normalize : bool, default True
        Mean loss per sample (weighted by `sample_weight`) if true, else the (weighted) sum.
    sample_weight : array-like of shape (n_samples,), optional
        Sample weights.
    labels : array-like, optional
        All the classes, when `y_true` may not show every one of them.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Probabilities outside [0, 1], inconsistent numbers of samples, a single class,
        different numbers of classes in `y_true` / `labels` and `y_proba`, labels in `y_true`
        missing from `labels`.

    Warns
    -----
    UserWarning
        Rows of `y_proba` that do not sum to 1 (they are not renormalised), or `labels` not in
        sorted order.

    Examples
    --------
    >>> import cxent
    >>> print(round(cxent.log_loss(["spam", "ham", "ham", "spam"],
    ...                            [[.1, .9], [.9, .1], [.8, .2], [.35, .65]]), 5))
    0.21616
    >>> print(round(cxent.log_loss([0, 1, 1], [0.2, 0.7, 0.9]), 6))   # P(class 1)
    0.228393
    """
    p = np.asarray(y_proba)
    if p.dtype not in (np.float32, np.float64):
        p = p.astype(np.float64)
    if p.ndim > 2:
        raise ValueError(f"Found array with dim {p.ndim}, while dim <= 2 is required.")
    if p.size:
        pmax, pmin = p.max(), p.min()
        if pmax > 1:
            raise ValueError(f"y_prob contains values greater than 1: {pmax}")
        if pmin < 0:
            raise ValueError(f"y_prob contains values lower than 0: {pmin}")
    yt = np.asarray(y_true)
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    lengths = [len(p), len(yt)] + ([] if sw is None else [len(sw)])
    if len(set(lengths)) > 1:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: {lengths}")
    if sw is not None and sw.shape != (len(p),):
        raise ValueError(f"Sample weights must be 1D array or scalar, got shape {sw.shape}")

    indicator = yt.ndim == 2
    classes = np.arange(yt.shape[1]) if indicator else _classes(yt, labels)
    if p.ndim == 1:
        p = p[:, None]
    if p.shape[1] == 1:
        p = np.concatenate([1 - p, p], axis=1)
    eps = np.finfo(p.dtype).eps
    sums = p.sum(axis=1)
    if not np.all(np.isclose(sums, 1, rtol=math.sqrt(eps))):
        warnings.warn("The y_prob values do not sum to one. Make sure to pass probabilities.",
                      UserWarning, stacklevel=2)
    K = max(len(classes), 2)
    if p.shape[1] != K:
        if labels is None:
            raise ValueError(
                f"y_true and y_prob contain different number of classes: {K} vs {p.shape[1]}. "
                "Please provide the true labels explicitly through the labels argument. Classes "
                f"found in y_true: {classes}")
        raise ValueError("The number of classes in labels is different from that in y_prob. "
                         f"Classes found in labels: {classes}")

    p = np.ascontiguousarray(p)
    lay = Layout(p, 1)
    loss, l2 = lay.new_reduced(p.dtype)
    if len(p):
        if indicator:
            t = np.ascontiguousarray(yt, dtype=p.dtype)
            if t.shape != p.shape:
                raise ValueError(f"y_true has shape {t.shape}, y_prob has shape {p.shape}")
            # -sum_k t_k log clip(p_k): the cross-entropy of the distributions
            _kernels.cross_entropy_dist_rows(lay.rows(t), lay.rows(p), l2, factor=1.0, lo=eps,
                                             hi=1 - eps, n_threads=0)
        else:
            idx = np.searchsorted(classes, yt).astype(np.int64)
            _kernels.log_loss_labels(lay.rows(p), lay.label_rows(idx), l2, lo=eps, hi=1 - eps,
                                     ignore_index=-1, n_threads=0)
    loss = loss.astype(np.float64, copy=False)
    if sw is None:
        return float(loss.mean() if normalize else loss.sum())
    if normalize:
        total = sw.sum()
        if total == 0:
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")
        return float(np.dot(sw, loss) / total)
    return float(np.dot(sw, loss))


def _classes(yt, labels):
    """Sorted unique classes (LabelBinarizer's), with scikit-learn's checks and warnings."""
    if labels is not None:
        lab = np.asarray(labels)
        classes = np.unique(lab)
        if classes.shape != lab.shape or not np.all(classes == lab):
            warnings.warn(
                f"Labels passed were {labels}. But this function assumes labels are ordered "
                f"lexicographically. Pass the ordered labels={classes.tolist()} and ensure "
                "that the columns of y_prob correspond to this ordering.", UserWarning,
                stacklevel=3)
        missing = set(np.unique(yt).tolist()) - set(classes.tolist())
        if missing:
            raise ValueError(f"y_true contains values {missing} not belonging to the passed "
                             f"labels {labels}.")
    else:
        classes = np.unique(yt)
    if len(classes) == 1:
        if labels is None:
            raise ValueError(
                f"y_true contains only one label ({classes[0]}). Please provide the list of all "
                "expected class labels explicitly through the labels argument.")
        raise ValueError(f"The labels array needs to contain at least two labels, got "
                         f"{classes}.")
    return classes
