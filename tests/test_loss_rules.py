"""Every loss rule against the plain float64 NumPy references of conftest.py, without PyTorch.

The wheel builds run the suite without PyTorch, so the semantics (weights, ignore_index, label
smoothing, denominators, reductions, gradients) are checked here on every platform; PyTorch is
an extra oracle in test_loss_semantics.py.  Each grid runs the small-K tile path (K <= 32 with
contiguous classes), the row path (K > 32, or strided classes) and the fast path of small
C-contiguous calls.
"""

import mpmath
import numpy as np
import pytest

import cxent
from conftest import (
    as_bits,
    ref_bce,
    ref_ce,
    ref_ce_probs,
    ref_log_softmax,
    ref_nll,
    ref_softmax,
)

TOL = {np.float32: (2e-6, 2e-7), np.float64: (1e-13, 1e-15)}  # (rtol, atol relative to max)


def _layout(kind, dtype, K, rng, scale=3.0):
    """(logits, axis, label shape) for a layout: 'c' (N, K) C-contiguous, 'rows' every other
    row of a larger array (contiguous classes, strided rows), 'axis1' (A, K, B)."""
    if kind == "c":
        return (rng.standard_normal((23, K)) * scale).astype(dtype), 1, (23,)
    if kind == "rows":
        return (rng.standard_normal((46, K)) * scale).astype(dtype)[::2], 1, (23,)
    return (rng.standard_normal((4, K, 5)) * scale).astype(dtype), 1, (4, 5)


def _close(got, want, dtype, what):
    rtol, atol = TOL[dtype]
    want = np.asarray(want, np.float64)
    scale = np.max(np.abs(want)) if want.size else 1.0
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol,
                               atol=atol * max(scale, 1e-300), err_msg=what)


def _check_scalar(loss, dtype, reduction):
    if reduction != "none":
        assert type(loss) is dtype, type(loss)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [3, 32, 33, 40])
@pytest.mark.parametrize("layout", ["c", "rows", "axis1"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignored", ["no", "default", "inside"])
@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_class_indices(dtype, K, layout, reduction, weighted, ignored, eps, rng):
    # ignored: "no" position ignored (the default keyword: C-contiguous calls take the fast
    # path), the "default" ignore_index -100 on some positions, or one "inside" [0, K)
    x, axis, lshape = _layout(layout, dtype, K, rng)
    y = rng.integers(0, K, lshape)
    ignore_index = 1 if ignored == "inside" else -100
    if ignored != "no":
        y.flat[::5] = ignore_index
        ign = np.argwhere(y == ignore_index)[0]
        # an ignored position's logits may hold anything: still loss 0 and zero gradient
        sl = tuple(ign[:1]) + (slice(None),) + tuple(ign[1:])
        x[sl] = np.array([np.nan, np.inf, -np.inf] * K)[:K]
    w = (rng.random(K) + 0.25).astype(dtype) if weighted else None
    ax = axis if layout == "axis1" else -1
    loss, g = cxent.cross_entropy(x, y, axis=ax, weight=w, ignore_index=ignore_index,
                                  reduction=reduction, label_smoothing=eps, return_grad=True)
    want, gwant = ref_ce(np.nan_to_num(x.astype(np.float64), posinf=0, neginf=0), y, w,
                         ignore_index, eps, reduction, axis)
    _check_scalar(loss, dtype, reduction)
    assert g.dtype == dtype and g.shape == x.shape
    _close(loss, want, dtype, "loss")
    _close(g, gwant, dtype, "gradient")
    assert np.all(np.moveaxis(g, axis, -1)[y == ignore_index] == 0.0)
    if reduction == "none":
        assert np.all(loss[y == ignore_index] == 0.0)
    # the loss alone is the same number
    alone = cxent.cross_entropy(x, y, axis=ax, weight=w, ignore_index=ignore_index,
                                reduction=reduction, label_smoothing=eps)
    np.testing.assert_array_equal(alone, loss)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [3, 40])
@pytest.mark.parametrize("layout", ["c", "rows", "axis1"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_probability_targets(dtype, K, layout, reduction, weighted, eps, rng):
    x, axis, _ = _layout(layout, dtype, K, rng)
    ax = axis if layout == "axis1" else -1
    t = rng.random(x.shape)
    np.moveaxis(t, axis, -1)[..., 0] = 0.0  # a zero probability
    t = (t / t.sum(axis, keepdims=True)).astype(dtype)
    w = (rng.random(K) + 0.25).astype(dtype) if weighted else None
    loss, g = cxent.cross_entropy(x, t, axis=ax, weight=w, reduction=reduction,
                                  label_smoothing=eps, return_grad=True)
    want, gwant = ref_ce_probs(x, t, w, eps, reduction, axis)
    _check_scalar(loss, dtype, reduction)
    _close(loss, want, dtype, "loss")
    _close(g, gwant, dtype, "gradient")


def test_probability_targets_zero_probability_meets_minus_inf():
    # 0 log 0 = 0: a zero target where the logit is -inf contributes nothing (PyTorch: nan)
    x = np.array([[0.0, -np.inf, 1.0]])
    t = np.array([[0.5, 0.0, 0.5]])
    loss, g = cxent.cross_entropy(x, t, reduction="none", return_grad=True)
    want, gw = ref_ce_probs(np.array([[0.0, -1e300, 1.0]]), t, reduction="none")
    np.testing.assert_allclose(loss, want, rtol=1e-15)
    np.testing.assert_allclose(g, gw, rtol=1e-15, atol=1e-300)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["c", "axis1"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_nll_loss(dtype, layout, reduction, weighted, ignore_index, rng, force_parallel):
    x, axis, lshape = _layout(layout, dtype, 6, rng)
    ax = axis if layout == "axis1" else -1
    lp = np.moveaxis(ref_log_softmax(np.moveaxis(x, axis, -1)), -1, axis).astype(dtype)
    y = rng.integers(0, 6, lshape)
    y.flat[::4] = ignore_index
    w = (rng.random(6) + 0.25).astype(dtype) if weighted else None
    loss, g = cxent.nll_loss(lp, y, axis=ax, weight=w, ignore_index=ignore_index,
                             reduction=reduction, return_grad=True, n_threads=2)
    want, gwant = ref_nll(lp, y, w, ignore_index, reduction, axis)
    _check_scalar(loss, dtype, reduction)
    _close(loss, want, dtype, "loss")
    _close(g, gwant, dtype, "gradient")
    # nll_loss of log_softmax is cross_entropy, with the same rules
    ce = cxent.cross_entropy(x, y, axis=ax, weight=w, ignore_index=ignore_index,
                             reduction=reduction)
    _close(loss, ce, dtype, "nll_loss(log_softmax) vs cross_entropy")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weights", ["none", "weight", "pos_weight", "both"])
def test_bce_with_logits(dtype, reduction, weights, rng, force_parallel):
    x = (rng.standard_normal((9, 5)) * 4).astype(dtype)
    t = rng.random((9, 5)).astype(dtype)
    t[:3] = t[:3] > 0.5
    w = (rng.random((9, 1)) + 0.5).astype(dtype) if weights in ("weight", "both") else None
    pw = (rng.random(5) * 3 + 0.5).astype(dtype) if weights in ("pos_weight", "both") else None
    loss, g = cxent.binary_cross_entropy_with_logits(
        x, t, weight=w, pos_weight=pw, reduction=reduction, return_grad=True, n_threads=2)
    want, gwant = ref_bce(x, t, w, pw, reduction)
    _check_scalar(loss, dtype, reduction)
    _close(loss, want, dtype, "loss")
    _close(g, gwant, dtype, "gradient")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [3, 40])
@pytest.mark.parametrize("red", ["mean", "sum"])
def test_empty_and_all_ignored_give_numpy_scalars(dtype, K, red):
    x = np.zeros((4, K), dtype)
    for y, xs in ((np.full(4, -100), x), (np.zeros(0, np.int64), x[:0])):
        loss, g = cxent.cross_entropy(xs, y, reduction=red, return_grad=True)
        assert type(loss) is dtype
        assert np.isnan(loss) if red == "mean" else loss == 0
        assert np.all(g == 0)
        loss = cxent.nll_loss(xs, y, reduction=red)
        assert type(loss) is dtype
        assert np.isnan(loss) if red == "mean" else loss == 0
    b = cxent.binary_cross_entropy_with_logits(np.zeros(0, dtype), np.zeros(0, dtype),
                                               reduction=red)
    assert type(b) is dtype
    assert np.isnan(b) if red == "mean" else b == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [3, 40])
def test_confident_rows_keep_relative_accuracy(dtype, K):
    # the label's gradient entry p_y - 1 = -rest / total and the loss log1p(rest), of a row
    # whose label logit dominates by `gap`, against mpmath: relative accuracy, not just absolute
    gap = 30.0 if dtype == np.float32 else 40.0
    x = np.zeros((3, K), dtype)
    for r, y in enumerate((0, 1, K - 1)):
        x[r, y] = gap
    x[1, 2] = -gap
    y = np.array([0, 1, K - 1])
    loss, g = cxent.cross_entropy(x, y, reduction="none", return_grad=True)
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    for r in range(3):
        with mpmath.workdps(50):
            row = [mpmath.mpf(float(v)) for v in x[r]]
            total = mpmath.fsum(mpmath.exp(v - row[y[r]]) for v in row)
            exact_loss = mpmath.log(total)
            exact_gy = 1 / total - 1
        assert float(exact_gy) < 0
        assert abs(g[r, y[r]] - float(exact_gy)) <= rtol * abs(float(exact_gy)), (r, g[r, y[r]])
        assert abs(loss[r] - float(exact_loss)) <= rtol * float(exact_loss), (r, loss[r])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [3, 40])
def test_tied_maxima(dtype, K):
    # several entries equal to the row maximum: each counts in the normaliser
    x = np.zeros((2, K), dtype)
    x[1, :3] = 5.0
    y = np.array([0, 2])
    loss, g = cxent.cross_entropy(x, y, reduction="none", return_grad=True)
    want, gw = ref_ce(x, y, reduction="none")
    _close(loss, want, dtype, "loss")
    _close(g, gw, dtype, "gradient")
    _close(cxent.softmax(x), ref_softmax(x), dtype, "softmax")
    _close(cxent.logsumexp(x), [np.log(K), 5 + np.log(3 + (K - 3) * np.exp(-5.0))], dtype,
           "logsumexp")


@pytest.mark.parametrize("label_dtype", [np.int8, np.uint8, np.int16, np.int32, np.uint32,
                                         np.int64, np.uint64])
@pytest.mark.parametrize("K", [3, 40])
def test_every_integer_label_dtype(label_dtype, K, rng):
    x = rng.standard_normal((11, K))
    y = rng.integers(0, min(K, 100), 11).astype(label_dtype)
    loss, g = cxent.cross_entropy(x, y, return_grad=True)
    want, gw = ref_ce(x, y.astype(np.int64))
    _close(loss, want, np.float64, "loss")
    _close(g, gw, np.float64, "gradient")


def test_label_smoothing_of_one_is_the_uniform_target(rng):
    x = rng.standard_normal((7, 5))
    y = rng.integers(0, 5, 7)
    got = cxent.cross_entropy(x, y, label_smoothing=1.0, reduction="none")
    np.testing.assert_allclose(got, -ref_log_softmax(x).mean(1), rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_backward_and_log_softmax_backward(dtype, axis, rng, force_parallel):
    x = rng.standard_normal((5, 7, 4)).astype(dtype)
    go = rng.standard_normal(x.shape).astype(dtype)
    xm = np.moveaxis(x.astype(np.float64), axis, -1)
    gom = np.moveaxis(go.astype(np.float64), axis, -1)
    p = ref_softmax(xm)
    # the Jacobian written out: d p_j / d x_k = p_j ([j == k] - p_k)
    J = p[..., :, None] * (np.eye(p.shape[-1]) - p[..., None, :])
    want = np.moveaxis(np.einsum("...j,...jk->...k", gom, J), -1, axis)
    y = cxent.softmax(x, axis=axis)
    out = np.empty_like(x)
    got = cxent.softmax_backward(go, y, axis=axis, out=out, n_threads=2)
    assert got is out
    _close(got, want, dtype, "softmax_backward")
    # log_softmax: d lp_j / d x_k = [j == k] - p_k
    want = np.moveaxis(gom - p * gom.sum(-1, keepdims=True), -1, axis)
    out = np.full_like(x, np.nan)
    got = cxent.log_softmax_backward(go, cxent.log_softmax(x, axis=axis), axis=axis, out=out,
                                     n_threads=2)
    assert got is out
    _close(out, want, dtype, "log_softmax_backward")
    go_copy = go.copy()
    cxent.log_softmax_backward(go, cxent.log_softmax(x, axis=axis), axis=axis, out=go)
    _close(go, want, dtype, "log_softmax_backward in place")
    assert not np.array_equal(go, go_copy)


@pytest.mark.parametrize("base", [None, 2, 10.0])
def test_information_measures(base, rng):
    p = rng.random((6, 5))
    p[0, 1] = 0.0
    p /= p.sum(1, keepdims=True)
    q = rng.random((6, 5)) + 0.05
    q /= q.sum(1, keepdims=True)
    f = 1.0 if base is None else np.log(base)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(p), 0.0)
        plogq = np.where(p > 0, p * np.log(q), 0.0)
    kw = {} if base is None else {"base": base}
    np.testing.assert_allclose(cxent.entropy(p, **kw), -plogp.sum(1) / f, rtol=1e-13)
    np.testing.assert_allclose(cxent.cross_entropy_dist(p, q, **kw), -plogq.sum(1) / f,
                               rtol=1e-13)
    np.testing.assert_allclose(cxent.kl_divergence(p, q, **kw), (plogp - plogq).sum(1) / f,
                               rtol=1e-12)
    # along axis 0 too
    np.testing.assert_allclose(cxent.entropy(p.T, axis=0, **kw), -plogp.sum(1) / f, rtol=1e-13)


def test_information_measures_non_finite():
    assert np.isnan(cxent.entropy([0.5, np.nan, 0.5]))
    assert cxent.entropy([1.5, -0.5]) == -np.inf
    assert np.isnan(cxent.kl_divergence([0.5, np.nan], [0.5, 0.5]))
    assert cxent.kl_divergence([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert cxent.kl_divergence([0.0, 1.0], [0.0, 1.0]) == 0.0
    assert cxent.cross_entropy_dist([0.0, 1.0], [0.0, 1.0]) == 0.0
    assert cxent.cross_entropy_dist([0.5, 0.5], [1.0, 0.0]) == np.inf


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_loss_written_out(dtype, rng):
    # -sum_i w_i log clip(p_i[y_i]) / sum_i w_i, classes = sorted unique labels, clip to
    # [eps, 1 - eps] with eps of the probabilities' dtype
    p = rng.random((9, 3))
    p[0] = [0.0, 1.0, 0.0]
    p = (p / p.sum(1, keepdims=True)).astype(dtype)
    labels = np.array(["c", "a", "b", "a", "c", "b", "b", "a", "c"])
    y = np.searchsorted(["a", "b", "c"], labels)
    eps = np.finfo(dtype).eps
    per = -np.log(np.clip(p.astype(np.float64)[np.arange(9), y], eps, 1 - eps))
    sw = rng.random(9) + 0.1
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(cxent.log_loss(labels, p), per.mean(), rtol=rtol)
    np.testing.assert_allclose(cxent.log_loss(labels, p, normalize=False), per.sum(), rtol=rtol)
    np.testing.assert_allclose(cxent.log_loss(labels, p, sample_weight=sw),
                               (sw * per).sum() / sw.sum(), rtol=rtol)
    np.testing.assert_allclose(cxent.log_loss(labels, p, sample_weight=sw, normalize=False),
                               (sw * per).sum(), rtol=rtol)
    # indicator matrix: the same
    np.testing.assert_allclose(cxent.log_loss(np.eye(3)[y], p), per.mean(), rtol=rtol)
    # 1-D: the probability of the positive (larger) class
    q = np.array([0.2, 0.9, 0.6, 1.0])
    yb = np.array([0, 1, 0, 0])
    e64 = np.finfo(np.float64).eps
    want = -np.log(np.clip(np.where(yb == 1, q, 1 - q), e64, 1 - e64)).mean()
    np.testing.assert_allclose(cxent.log_loss(yb, q), want, rtol=1e-13)


@pytest.mark.parametrize(("args", "kw", "exc", "msg"), [
    (([0, 1], [[0.5, 1.5], [0.5, 0.5]]), {}, ValueError, "values greater than 1"),
    (([0, 1], [[-0.1, 1.1], [0.5, 0.5]]), {}, ValueError, "values greater than 1"),
    (([0, 1], [[-0.1, 0.9], [0.5, 0.5]]), {}, ValueError, "values lower than 0"),
    (([0, 1, 1], [[0.5, 0.5], [0.5, 0.5]]), {}, ValueError, "inconsistent numbers of samples"),
    (([1, 1], [[0.5, 0.5], [0.5, 0.5]]), {}, ValueError, "contains only one label"),
    (([0, 1, 2], [[0.5, 0.5]] * 3), {}, ValueError, "different number of classes: 3 vs 2"),
    (([0, 1], [[0.5, 0.5]] * 2), {"labels": [0, 1, 2]}, ValueError,
     "number of classes in labels is different"),
    (([0, 3], [[0.5, 0.5]] * 2), {"labels": [0, 1]}, ValueError, "not belonging to the passed"),
    (([0, 0], [[0.5, 0.5]] * 2), {"labels": [0]}, ValueError, "needs to contain at least two"),
    (([0, 1], [[[0.5, 0.5]]] * 2), {}, ValueError, "Found array with dim 3"),
    (([0, 1], [[0.5, 0.5]] * 2), {"sample_weight": [[1.0, 2.0]]}, ValueError,
     "inconsistent numbers of samples"),
    (([0, 1], [[0.5, 0.5]] * 2), {"sample_weight": [0.0, 0.0]}, ZeroDivisionError,
     "Weights sum to zero"),
])
def test_log_loss_errors(args, kw, exc, msg):
    with pytest.raises(exc, match=msg):
        cxent.log_loss(*args, **kw)


def test_log_loss_warnings():
    with pytest.warns(UserWarning, match="do not sum to one"):
        cxent.log_loss([0, 1], [[0.5, 0.6], [0.4, 0.6]])
    with pytest.warns(UserWarning, match="ordered lexicographically"):
        cxent.log_loss(["b", "a"], [[0.3, 0.7], [0.6, 0.4]], labels=["b", "a"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [3, 40])
@pytest.mark.parametrize("layout", ["c", "rows", "axis1"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("weighted", "eps", "ignored"), [(False, 0.0, "no"), (True, 0.3, "inside"),
                                                         (True, 0.0, "default")])
def test_sample_weight(dtype, K, layout, reduction, weighted, eps, ignored, rng):
    # each position's loss and gradient times its weight; "mean" over sum(sw * w[y]) of the
    # counted positions; a zero weight gives exact zeros even for non-finite logits
    x, axis, lshape = _layout(layout, dtype, K, rng)
    ax = axis if layout == "axis1" else -1
    y = rng.integers(0, K, lshape)
    ignore_index = 1 if ignored == "inside" else -100
    if ignored != "no":
        y.flat[::5] = ignore_index
    sw = rng.random(lshape) * 3
    sw.flat[1::7] = 0.0
    zero = np.argwhere(sw == 0)[0]
    x[tuple(zero[:1]) + (slice(None),) + tuple(zero[1:])] = np.nan
    w = (rng.random(K) + 0.25).astype(dtype) if weighted else None
    kw = {"axis": ax, "weight": w, "ignore_index": ignore_index, "reduction": reduction,
          "label_smoothing": eps}
    loss, g = cxent.cross_entropy(x, y, sample_weight=sw, return_grad=True, **kw)
    want, gwant = ref_ce(np.nan_to_num(x.astype(np.float64)), y, w, ignore_index, eps,
                         reduction, axis, sw)
    _check_scalar(loss, dtype, reduction)
    _close(loss, want, dtype, "loss")
    _close(g, gwant, dtype, "gradient")
    assert np.all(np.moveaxis(g, axis, -1)[sw == 0] == 0.0)
    # all ones: the bits of no sample weight
    ones = cxent.cross_entropy(x, y, sample_weight=np.ones(lshape), return_grad=True, **kw)
    none = cxent.cross_entropy(x, y, return_grad=True, **kw)
    assert as_bits(ones[0]) == as_bits(none[0]) and as_bits(ones[1]) == as_bits(none[1])
    # nll_loss of log-probabilities: the same rules
    lp = cxent.log_softmax(np.nan_to_num(x), axis=ax)
    nl, ng = cxent.nll_loss(lp, y, axis=ax, weight=w, ignore_index=ignore_index,
                            reduction=reduction, sample_weight=sw, return_grad=True)
    nwant, ngwant = ref_nll(lp, y, w, ignore_index, reduction, axis, sw)
    _close(nl, nwant, dtype, "nll loss")
    _close(ng, ngwant, dtype, "nll gradient")
    # probability targets: weights of the positions, "mean" over their sum
    t = np.moveaxis(ref_softmax(np.moveaxis(rng.standard_normal(x.shape), axis, -1)), -1,
                    axis).astype(dtype)
    pl, pg = cxent.cross_entropy(x, t, axis=ax, weight=w, reduction=reduction,
                                 label_smoothing=eps, sample_weight=sw, return_grad=True)
    pwant, pgwant = ref_ce_probs(np.nan_to_num(x.astype(np.float64)), t, w, eps, reduction,
                                 axis, sw)
    _close(pl, pwant, dtype, "probability-target loss")
    _close(pg, pgwant, dtype, "probability-target gradient")


@pytest.mark.parametrize(("sw", "msg"), [
    (np.ones(4), r"sample_weight has shape \(4,\); it needs one weight per position, shape \(5,\)"),
    (np.array([1.0, -1.0, 1.0, 1.0, 1.0]), r"sample_weight holds -1\.0 at position \(1,\)"),
    (np.array([1.0, 1.0, np.nan, 1.0, 1.0]), r"holds nan at position \(2,\); sample weights"),
    (np.array([1.0, 1.0, 1.0, np.inf, 1.0]), r"holds inf at position \(3,\)"),
])
def test_sample_weight_errors(sw, msg):
    x, y = np.zeros((5, 3)), np.array([0, 1, 2, 0, 1])
    for f in (lambda: cxent.cross_entropy(x, y, sample_weight=sw),
              lambda: cxent.cross_entropy(x, np.full((5, 3), 1 / 3), sample_weight=sw),
              lambda: cxent.nll_loss(x, y, sample_weight=sw),
              lambda: cxent.linear_cross_entropy(np.zeros((5, 2)), np.zeros((3, 2)), y,
                                                 sample_weight=sw)):
        with pytest.raises(ValueError, match=msg):
            f()
