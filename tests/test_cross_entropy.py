"""cross_entropy: losses and gradients against float64/mpmath references and finite differences."""

import numpy as np
import pytest

import cxent
from conftest import (
    as_bits,
    central_difference,
    mp_xent_row,
    ref_log_softmax,
    ref_softmax,
    ref_xent_labels,
    ref_xent_labels_grad,
)

W = np.array([[.1, .2, .3], [.4, .5, .6], [.7, .8, .9]])


def test_worked_example():
    z = W @ np.array([1.0, 2.0, 3.0])
    loss = cxent.cross_entropy(z[None], [2])
    assert isinstance(loss, np.float64)
    np.testing.assert_allclose(loss, 0.176154756665901, rtol=1e-13)
    assert round(-np.log(0.84), 2) == 0.17  # the seed's rounded figure
    loss, grad = cxent.cross_entropy(z[None], np.array([2]), return_grad=True)
    p = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(grad[0], p - [0, 0, 1], rtol=1e-13)
    np.testing.assert_array_equal(grad.round(2), [[0.02, 0.14, -0.16]])
    # a single sample without a batch axis: scalar label, 0-d per-position loss
    np.testing.assert_allclose(cxent.cross_entropy(z, 2, reduction="none"), loss, rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("shape", "axis"), [((11, 4), -1), ((6, 5, 3), 1), ((4, 3, 2, 5), 1),
                                             ((3, 7), 0), ((2, 3, 4), -1)])
def test_labels_against_reference(dtype, reduction, shape, axis, rng):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    K = shape[axis]
    lshape = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    y = rng.integers(0, K, size=lshape)
    per = ref_xent_labels(x, y, axis)
    g = ref_xent_labels_grad(x, y, axis)
    if reduction == "mean":
        want, g = per.mean(), g / per.size
    elif reduction == "sum":
        want = per.sum()
    else:
        want = per
    loss, grad = cxent.cross_entropy(x, y, axis=axis, reduction=reduction, return_grad=True)
    tol = 2e-6 if dtype == np.float32 else 1e-13
    assert grad.dtype == dtype and grad.shape == x.shape
    if reduction == "none":
        assert loss.dtype == dtype and loss.shape == lshape
    else:
        assert type(loss) is np.dtype(dtype).type
    np.testing.assert_allclose(loss, want, rtol=tol)
    np.testing.assert_allclose(grad, g, rtol=tol, atol=tol * np.abs(g).max())
    # the loss alone is the same number
    assert as_bits(cxent.cross_entropy(x, y, axis=axis, reduction=reduction)) == as_bits(loss)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_probabilities_against_reference(dtype, reduction, rng):
    x = (rng.standard_normal((9, 6)) * 3).astype(dtype)
    t = rng.random((9, 6)).astype(dtype)
    t[:, 0] = 0.0
    t /= t.sum(1, keepdims=True)
    t64 = t.astype(np.float64)
    per = -(t64 * ref_log_softmax(x)).sum(-1)
    g = ref_softmax(x) * t64.sum(-1, keepdims=True) - t64
    want = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    if reduction == "mean":
        g = g / 9
    loss, grad = cxent.cross_entropy(x, t, reduction=reduction, return_grad=True)
    tol = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(loss, want, rtol=tol)
    np.testing.assert_allclose(grad, g, rtol=tol, atol=tol)
    # one-hot probabilities give the class-index loss
    y = rng.integers(0, 6, 9)
    onehot = np.eye(6, dtype=dtype)[y]
    np.testing.assert_allclose(cxent.cross_entropy(x, onehot, reduction=reduction),
                               cxent.cross_entropy(x, y, reduction=reduction), rtol=tol)


def test_probability_targets_unnormalised_and_axis1(rng):
    # targets that do not sum to 1 are used as given: loss = -sum t log p, grad = p sum(t) - t
    x = rng.standard_normal((4, 3, 5))
    t = rng.random((4, 3, 5)) * 2
    lp = ref_log_softmax(x, 1)
    np.testing.assert_allclose(cxent.cross_entropy(x, t, axis=1, reduction="none"),
                               -(t * lp).sum(1), rtol=1e-13)
    _, g = cxent.cross_entropy(x, t, axis=1, reduction="sum", return_grad=True)
    np.testing.assert_allclose(g, np.exp(lp) * t.sum(1, keepdims=True) - t, rtol=1e-12,
                               atol=1e-15)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("soft", [False, True])
def test_gradient_matches_finite_differences(reduction, soft, rng):
    x = rng.standard_normal((4, 5))
    t = rng.random((4, 5)) if soft else rng.integers(0, 5, 4)

    def f(z):
        return np.sum(cxent.cross_entropy(z, t, reduction=reduction))

    _, g = cxent.cross_entropy(x, t, reduction=reduction, return_grad=True)
    np.testing.assert_allclose(g, central_difference(f, x, 1e-6), rtol=1e-6, atol=1e-9)


def test_float32_small_loss_keeps_relative_accuracy():
    # confident correct predictions: losses from about 1e-2 down to 1e-7
    margins = np.float32([5, 7, 9, 12, 16])
    x = np.zeros((5, 10), np.float32)
    x[:, 3] = margins
    y = np.full(5, 3)
    got = cxent.cross_entropy(x, y, reduction="none")
    assert got.dtype == np.float32
    for i in range(5):
        exact = float(mp_xent_row(x[i], 3))
        assert abs(float(got[i]) - exact) <= 1e-6 * exact, (i, got[i], exact)
    total = cxent.cross_entropy(x, y, reduction="mean")
    exact_mean = sum(float(mp_xent_row(x[i], 3)) for i in range(5)) / 5
    assert abs(float(total) - exact_mean) <= 1e-6 * exact_mean
    # the gradient at the label (p_y - 1, tiny) keeps its relative accuracy too
    _, g = cxent.cross_entropy(x, y, reduction="sum", return_grad=True)
    for i in range(5):
        exact_g = -float(1 - 1 / (1 + 9 * np.exp(-float(margins[i]))))
        assert abs(g[i, 3] - exact_g) <= 1e-6 * abs(exact_g)


def test_float64_matches_mpmath(rng):
    x = rng.standard_normal((50, 13)) * 20
    x[0, :] = 0.0
    x[1, 4] = 60.0  # a tiny loss when the label is 4
    y = rng.integers(0, 13, 50)
    y[1] = 4
    got = cxent.cross_entropy(x, y, reduction="none")
    for i in range(50):
        exact = mp_xent_row(x[i], y[i])
        assert abs(got[i] - float(exact)) <= 1e-12 * abs(float(exact)), i


def test_nonfinite_logits():
    x = np.array([[1.0, np.nan, 0.0],
                  [np.inf, 0.0, 0.0],
                  [-np.inf, -np.inf, -np.inf],
                  [-np.inf, 0.0, 0.0],
                  [-np.inf, 0.0, 0.0],
                  [1.0, 2.0, 3.0]])
    y = np.array([0, 1, 0, 0, 1, 2])
    loss, g = cxent.cross_entropy(x, y, reduction="none", return_grad=True)
    assert np.isnan(loss[:3]).all() and np.isnan(g[:3]).all()
    assert loss[3] == np.inf
    np.testing.assert_allclose(loss[4], np.log(2), rtol=1e-15)
    np.testing.assert_array_equal(g[4], [0.0, -0.5, 0.5])
    np.testing.assert_allclose(loss[5], ref_xent_labels(x[5:], y[5:])[0], rtol=1e-15)
    assert np.isnan(cxent.cross_entropy(x, y))
    # probability targets: 0 * log 0 = 0 where the logit is -inf
    t = np.array([[0.0, 0.5, 0.5]])
    np.testing.assert_allclose(cxent.cross_entropy(x[3:4], t), np.log(2), rtol=1e-15)
    assert cxent.cross_entropy(x[3:4], np.array([[0.5, 0.5, 0.0]])) == np.inf


def test_empty_batches():
    x = np.zeros((0, 4))
    y = np.zeros(0, np.int64)
    assert np.isnan(cxent.cross_entropy(x, y))
    assert cxent.cross_entropy(x, y, reduction="sum") == 0.0
    loss, g = cxent.cross_entropy(x, y, reduction="none", return_grad=True)
    assert loss.shape == (0,) and g.shape == (0, 4)
    empty = cxent.cross_entropy(np.zeros((0, 4), np.float32), y)
    assert type(empty) is np.float32
    assert np.isnan(empty)


@pytest.mark.parametrize("ldtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
                                    np.int64, np.uint64])
def test_every_integer_label_dtype(ldtype, rng):
    x = rng.standard_normal((7, 5))
    y = rng.integers(0, 5, 7)
    want = ref_xent_labels(x, y).mean()
    np.testing.assert_allclose(cxent.cross_entropy(x, y.astype(ldtype)), want, rtol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_counts_give_identical_bits(reduction, dtype, rng, force_parallel):
    x = (rng.standard_normal((2003, 17)) * 4).astype(dtype)
    y = rng.integers(0, 17, 2003)
    t = ref_softmax(rng.standard_normal((2003, 17))).astype(dtype)
    ref_l, ref_g = cxent.cross_entropy(x, y, reduction=reduction, return_grad=True, n_threads=1)
    ref_s = cxent.cross_entropy(x, t, reduction=reduction, n_threads=1)
    for n in (2, 3, 7):
        loss, g = cxent.cross_entropy(x, y, reduction=reduction, return_grad=True, n_threads=n)
        assert as_bits(loss) == as_bits(ref_l)
        assert as_bits(g) == as_bits(ref_g)
        assert as_bits(cxent.cross_entropy(x, t, reduction=reduction, n_threads=n)) == \
            as_bits(ref_s)
    np.testing.assert_allclose(np.sum(ref_l), ref_xent_labels(x, y).sum() /
                               (2003 if reduction == "mean" else 1),
                               rtol=2e-6 if dtype == np.float32 else 1e-13)


def test_label_error_found_in_parallel_path(rng, force_parallel):
    x = rng.standard_normal((3000, 8))
    y = rng.integers(0, 8, 3000)
    y[2500] = 8
    y[2900] = -3
    with pytest.raises(ValueError, match=r"class index 8 at position \(2500,\)"):
        cxent.cross_entropy(x, y, n_threads=2)
