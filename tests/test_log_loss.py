"""cxent.log_loss against sklearn.metrics.log_loss (skipped when scikit-learn is missing)."""

import warnings

import numpy as np
import pytest

import cxent

metrics = pytest.importorskip("sklearn.metrics")


def _both(*args, **kw):
    """Both results, and the warning messages each raised."""
    with warnings.catch_warnings(record=True) as w1:
        warnings.simplefilter("always")
        ours = cxent.log_loss(*args, **kw)
    with warnings.catch_warnings(record=True) as w2:
        warnings.simplefilter("always")
        theirs = metrics.log_loss(*args, **kw)
    return ours, theirs, [str(w.message) for w in w1], [str(w.message) for w in w2]


@pytest.mark.parametrize("seed", range(25))
def test_random_multiclass(seed):
    rng = np.random.default_rng(seed)
    n, k = rng.integers(2, 60), rng.integers(2, 8)
    p = rng.random((n, k)) ** 3
    p /= p.sum(1, keepdims=True)
    p[rng.random((n, k)) < 0.05] = 0.0  # exact zeros: clipped to eps
    p /= p.sum(1, keepdims=True)
    classes = np.array(["ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen"])[:k]
    y = classes[rng.integers(0, k, n)]
    labels = classes if rng.random() < 0.5 else None
    sw = rng.random(n) if rng.random() < 0.5 else None
    normalize = bool(rng.random() < 0.7)
    if labels is None and len(np.unique(y)) != k:
        labels = classes
    ours, theirs, w1, w2 = _both(y, p, normalize=normalize, sample_weight=sw, labels=labels)
    assert isinstance(ours, float)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert w1 == w2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_1d_and_int_labels(dtype):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 40)
    p = rng.random(40).astype(dtype)
    p[:3] = [0.0, 1.0, 0.5]
    ours, theirs, w1, w2 = _both(y, p)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6 if dtype == np.float32 else 1e-12)
    assert w1 == w2
    ours, theirs, _, _ = _both(y.astype(bool), p[:, None])
    np.testing.assert_allclose(ours, theirs, rtol=1e-6 if dtype == np.float32 else 1e-12)
    ours, theirs, _, _ = _both([2, 5, 5], [[0.3, 0.7], [0.6, 0.4], [0.1, 0.9]])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_label_indicator_matrix():
    y = np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.0, 1.0, 0.0]])
    ours, theirs, _, _ = _both(y, p)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_warnings_match():
    y = [0, 1, 2]
    p = [[0.5, 0.3, 0.3], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]
    _, _, w1, w2 = _both(y, p)
    assert w1 == w2 == ["The y_prob values do not sum to one. Make sure to pass probabilities."]
    p = [[0.3, 0.7], [0.6, 0.4]]
    ours, theirs, w1, w2 = _both(["b", "a"], p, labels=["b", "a"])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert w1 == w2
    assert "ordered lexicographically" in w1[0]


@pytest.mark.parametrize(("args", "kw"), [
    (([0, 1], [[0.5, 1.5], [0.5, 0.5]]), {}),
    (([0, 1], [[-0.1, 1.1], [0.5, 0.5]]), {}),
    (([0, 1, 1], [[0.5, 0.5], [0.5, 0.5]]), {}),
    (([1, 1], [[0.5, 0.5], [0.5, 0.5]]), {}),
    (([0, 1, 2], [[0.5, 0.5]] * 3), {}),
    (([0, 1], [[0.5, 0.5]] * 2), {"labels": [0, 1, 2]}),
    (([0, 3], [[0.5, 0.5]] * 2), {"labels": [0, 1]}),
    (([0, 0], [[0.5, 0.5]] * 2), {"labels": [0]}),
    (([0, 1], [[0.5, 0.5]] * 2), {"sample_weight": [1.0, 2.0, 3.0]}),
])
def test_errors_match(args, kw):
    with pytest.raises(ValueError) as theirs:
        metrics.log_loss(*args, **kw)
    with pytest.raises(ValueError) as ours:
        cxent.log_loss(*args, **kw)
    assert str(ours.value) == str(theirs.value)
