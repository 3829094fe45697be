"""Weights, ignore_index, label smoothing, K-dimensional targets, nll_loss and the binary loss:
PyTorch as the oracle, and plain float64 references written here."""

import mpmath
import numpy as np
import pytest

import cxent
from conftest import as_bits, ref_ce, ref_log_softmax, ref_softmax

try:
    import torch
except ImportError:  # the rules are checked without torch in test_loss_rules.py
    torch = None
else:
    F = torch.nn.functional

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _t(a, grad=False):
    return torch.tensor(np.ascontiguousarray(a), requires_grad=grad)



@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 1])
@pytest.mark.parametrize("eps", [0.0, 0.25, 1.0])
@pytest.mark.parametrize("shape", [(29, 5), (3, 4, 2, 3)])
def test_class_indices_against_torch(dtype, reduction, weighted, ignore_index, eps, shape, rng):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    K = shape[1]
    lshape = (shape[0],) + shape[2:]
    y = rng.integers(0, K, lshape)
    y.flat[::4] = ignore_index
    w = (rng.random(K) + 0.25).astype(dtype) if weighted else None
    tx = _t(x, True)
    tl = F.cross_entropy(tx, torch.tensor(y), weight=None if w is None else _t(w),
                         ignore_index=ignore_index, reduction=reduction, label_smoothing=eps)
    tl.sum().backward()
    loss, g = cxent.cross_entropy(x, y, axis=1, weight=w, ignore_index=ignore_index,
                                  reduction=reduction, label_smoothing=eps, return_grad=True)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss, tl.detach().numpy(), rtol=tol, atol=tol * 1e-3)
    np.testing.assert_allclose(g, tx.grad.numpy(), rtol=tol, atol=tol * 1e-2)
    np.testing.assert_allclose(loss, ref_ce(x, y, w, ignore_index, eps, reduction)[0],
                               rtol=tol)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_probability_targets_against_torch(dtype, reduction, weighted, eps, rng):
    x = (rng.standard_normal((6, 4, 5)) * 2).astype(dtype)
    t = rng.random((6, 4, 5)).astype(dtype)
    t /= t.sum(1, keepdims=True)
    t[0, :, 0] = 0.0
    w = (rng.random(4) + 0.5).astype(dtype) if weighted else None
    tx = _t(x, True)
    tl = F.cross_entropy(tx, _t(t), weight=None if w is None else _t(w), reduction=reduction,
                         label_smoothing=eps)
    tl.sum().backward()
    loss, g = cxent.cross_entropy(x, t, axis=1, weight=w, reduction=reduction,
                                  label_smoothing=eps, return_grad=True)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss, tl.detach().numpy(), rtol=tol)
    np.testing.assert_allclose(g, tx.grad.numpy(), rtol=tol, atol=tol * 1e-2)


def test_label_smoothing_written_out(rng):
    # the smoothed target (1 - s) onehot + s / K, weighted per class, by hand
    x = rng.standard_normal((5, 4))
    y = np.array([0, 3, 2, 1, 3])
    w = np.array([1.0, 0.5, 2.0, 1.5])
    s = 0.2
    tgt = (1 - s) * np.eye(4)[y] + s / 4
    per = -(tgt * w * ref_log_softmax(x)).sum(1)
    np.testing.assert_allclose(cxent.cross_entropy(x, y, weight=w, label_smoothing=s,
                                                   reduction="none"), per, rtol=1e-13)
    np.testing.assert_allclose(cxent.cross_entropy(x, y, weight=w, label_smoothing=s),
                               per.sum() / w[y].sum(), rtol=1e-13)
    _, g = cxent.cross_entropy(x, y, weight=w, label_smoothing=s, reduction="sum",
                               return_grad=True)
    T = (tgt * w).sum(1, keepdims=True)
    np.testing.assert_allclose(g, ref_softmax(x) * T - tgt * w, rtol=1e-12, atol=1e-15)
    # probability targets: the same with t in place of the one-hot rows
    np.testing.assert_allclose(cxent.cross_entropy(x, np.eye(4)[y], weight=w, label_smoothing=s,
                                                   reduction="none"), per, rtol=1e-13)


def test_ignored_positions_get_exact_zero_gradient_even_with_nan_logits():
    x = np.array([[1.0, 2.0, 0.5], [np.nan, np.inf, -np.inf], [0.0, 0.0, 0.0]])
    y = np.array([2, -100, 1])
    loss, g = cxent.cross_entropy(x, y, reduction="none", return_grad=True)
    assert loss[1] == 0.0
    np.testing.assert_array_equal(g[1], [0.0, 0.0, 0.0])
    assert np.isfinite(loss).all()
    assert np.isfinite(g).all()
    mean, gm = cxent.cross_entropy(x, y, return_grad=True)
    np.testing.assert_allclose(mean, (loss[0] + loss[2]) / 2, rtol=1e-15)
    np.testing.assert_array_equal(gm[1], 0.0)


@needs_torch
def test_torch_gives_nan_gradients_in_ignored_rows():
    x = np.array([[1.0, 2.0, 0.5], [np.nan, np.inf, -np.inf], [0.0, 0.0, 0.0]])
    y = np.array([2, -100, 1])
    tx = _t(x, True)
    F.cross_entropy(tx, torch.tensor(y)).backward()
    assert np.isnan(tx.grad.numpy()[1]).any()


@needs_torch
@pytest.mark.parametrize("weighted", [False, True])
def test_all_ignored_batch_matches_torch(weighted):
    x = np.random.default_rng(0).standard_normal((4, 3))
    y = np.full(4, -100)
    w = np.array([1.0, 2.0, 3.0]) if weighted else None
    for red in ("mean", "sum"):
        want = F.cross_entropy(_t(x), torch.tensor(y), weight=None if w is None else _t(w),
                               reduction=red).numpy()
        loss, g = cxent.cross_entropy(x, y, weight=w, reduction=red, return_grad=True)
        np.testing.assert_array_equal(loss, want)
        np.testing.assert_array_equal(g, 0.0)


def test_ignore_index_inside_the_class_range(rng):
    x = rng.standard_normal((6, 3))
    y = np.array([0, 1, 2, 1, 0, 1])
    keep = y != 1
    want = -ref_log_softmax(x)[np.arange(6), y][keep].mean()
    np.testing.assert_allclose(cxent.cross_entropy(x, y, ignore_index=1), want, rtol=1e-14)


def test_weighted_mean_uses_weights_of_targets(rng):
    x = rng.standard_normal((5, 3))
    y = np.array([0, 2, 2, 1, 0])
    w = np.array([0.2, 1.0, 3.0])
    per = -ref_log_softmax(x)[np.arange(5), y] * w[y]
    np.testing.assert_allclose(cxent.cross_entropy(x, y, weight=w), per.sum() / w[y].sum(),
                               rtol=1e-14)
    np.testing.assert_allclose(cxent.cross_entropy(x, y, weight=w, reduction="none"), per,
                               rtol=1e-14)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_against_torch(dtype, reduction, weighted, rng):
    x = (rng.standard_normal((7, 4, 3)) * 2).astype(dtype)
    lp = np.asarray(cxent.log_softmax(x, axis=1))
    y = rng.integers(0, 4, (7, 3))
    y[0, 0] = -100
    w = (rng.random(4) + 0.5).astype(dtype) if weighted else None
    tlp = _t(lp, True)
    tl = F.nll_loss(tlp, torch.tensor(y), weight=None if w is None else _t(w),
                    reduction=reduction)
    tl.sum().backward()
    loss, g = cxent.nll_loss(lp, y, axis=1, weight=w, reduction=reduction, return_grad=True)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(loss, tl.detach().numpy(), rtol=tol)
    np.testing.assert_allclose(g, tlp.grad.numpy(), rtol=tol)
    # nll of log_softmax is cross_entropy
    np.testing.assert_allclose(loss, cxent.cross_entropy(x, y, axis=1, weight=w,
                                                         reduction=reduction), rtol=10 * tol)


def test_nll_loss_errors():
    with pytest.raises(TypeError, match="nll_loss takes integer class indices"):
        cxent.nll_loss(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"class index 3 at position \(1,\), outside \[0, 3\) "
                                         r"for log_probs"):
        cxent.nll_loss(np.zeros((2, 3)), [0, 3])


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weights", ["none", "weight", "pos_weight", "both"])
def test_bce_with_logits_against_torch(dtype, reduction, weights, rng):
    x = (rng.standard_normal((8, 5)) * 4).astype(dtype)
    t = rng.random((8, 5)).astype(dtype)
    t[:3] = (t[:3] > 0.5)
    w = (rng.random((8, 1)) + 0.5).astype(dtype) if weights in ("weight", "both") else None
    pw = (rng.random(5) * 3).astype(dtype) if weights in ("pos_weight", "both") else None
    tx = _t(x, True)
    tl = F.binary_cross_entropy_with_logits(tx, _t(t), weight=None if w is None else _t(w),
                                            pos_weight=None if pw is None else _t(pw),
                                            reduction=reduction)
    tl.sum().backward()
    loss, g = cxent.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw,
                                                     reduction=reduction, return_grad=True)
    # PyTorch's float32 formula has absolute errors of about eps32 * |x| (it cancels where the
    # loss is small); cxent computes each element in float64, so compare float32 results with
    # PyTorch at that absolute tolerance and with cxent's own float64 result tightly
    tol = 2e-6 if dtype == np.float32 else 1e-13
    atol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(loss, tl.detach().numpy(), rtol=tol, atol=atol)
    np.testing.assert_allclose(g, tx.grad.numpy(), rtol=tol, atol=atol)
    if dtype == np.float32:
        up = [None if a is None else a.astype(np.float64) for a in (w, pw)]
        l64, g64 = cxent.binary_cross_entropy_with_logits(
            x.astype(np.float64), t.astype(np.float64), weight=up[0], pos_weight=up[1],
            reduction=reduction, return_grad=True)
        np.testing.assert_allclose(loss, l64, rtol=1e-6)
        np.testing.assert_allclose(g, g64, rtol=1e-6, atol=1e-12)


def test_bce_accuracy_against_mpmath():
    # tiny losses: where the naive formula cancels, the softplus form keeps every digit
    z = np.array([-745.0, -40.0, -20.0, -1.0, 0.0, 1e-8, 3.0, 20.0, 36.0, 40.0, 700.0])
    for target in (0.0, 1.0, 0.3):
        t = np.full_like(z, target)
        got = cxent.binary_cross_entropy_with_logits(z, t, reduction="none")
        for zi, gi in zip(z, got, strict=True):
            with mpmath.workdps(50):
                zm = mpmath.mpf(zi)
                # -log sigmoid(z) = log(1 + e^-z), -log(1 - sigmoid(z)) = log(1 + e^z)
                exact = 0
                if target:
                    exact += target * mpmath.log1p(mpmath.exp(-zm))
                if target != 1:
                    exact += (1 - target) * mpmath.log1p(mpmath.exp(zm))
            assert abs(gi - float(exact)) <= 1e-14 * float(exact) + 1e-300, (zi, target, gi)
    # infinite logits with the matching target: 0, not nan
    np.testing.assert_array_equal(
        cxent.binary_cross_entropy_with_logits([np.inf, -np.inf], [1.0, 0.0], reduction="none"),
        [0.0, 0.0])


def test_bce_errors_and_scalars():
    with pytest.raises(ValueError, match=r"target has shape \(3,\), logits have shape \(2,\)"):
        cxent.binary_cross_entropy_with_logits([0.0, 1.0], [0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"pos_weight of shape \(3,\) does not broadcast"):
        cxent.binary_cross_entropy_with_logits(np.zeros((2, 2)), np.zeros((2, 2)),
                                               pos_weight=[1.0, 2.0, 3.0])
    loss, g = cxent.binary_cross_entropy_with_logits(0.0, 1.0, return_grad=True)
    np.testing.assert_allclose(loss, np.log(2), rtol=1e-15)
    np.testing.assert_allclose(g, -0.5, rtol=1e-15)
    assert np.isnan(cxent.binary_cross_entropy_with_logits(np.zeros(0), np.zeros(0)))


def test_semantics_bit_identical_across_threads(rng, force_parallel):
    x = rng.standard_normal((3001, 9)).astype(np.float32)
    y = rng.integers(0, 9, 3001)
    y[::7] = -100
    w = rng.random(9).astype(np.float32)
    kw = {"weight": w, "label_smoothing": 0.1, "return_grad": True}
    l1, g1 = cxent.cross_entropy(x, y, n_threads=1, **kw)
    l2, g2 = cxent.cross_entropy(x, y, n_threads=2, **kw)
    assert as_bits(l1) == as_bits(l2)
    assert as_bits(g1) == as_bits(g2)
    b1 = cxent.binary_cross_entropy_with_logits(x, x > 0, n_threads=1, return_grad=True)
    b2 = cxent.binary_cross_entropy_with_logits(x, x > 0, n_threads=2, return_grad=True)
    assert as_bits(b1[0]) == as_bits(b2[0])
    assert as_bits(b1[1]) == as_bits(b2[1])


@pytest.mark.parametrize(("kw", "exc", "msg"), [
    ({"weight": [1.0, 2.0]}, ValueError, r"weight must have shape \(3,\), one value per class; "
                                         r"got shape \(2,\)"),
    ({"label_smoothing": 1.5}, ValueError, r"label_smoothing must be in \[0, 1\], got 1\.5"),
    ({"label_smoothing": -0.1}, ValueError, r"label_smoothing must be in \[0, 1\]"),
    ({"label_smoothing": "a"}, TypeError, r"label_smoothing must be a number"),
    ({"ignore_index": 1.5}, TypeError, r"ignore_index must be an integer, got 1\.5"),
    ({"weight": [[1.0, 2.0, 3.0]]}, ValueError, r"got shape \(1, 3\)"),
])
def test_keyword_errors(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        cxent.cross_entropy(np.zeros((2, 3)), [0, 1], **kw)


def test_ignore_index_with_probability_targets_is_an_error():
    with pytest.raises(ValueError, match="ignore_index is not supported with probability"):
        cxent.cross_entropy(np.zeros((2, 3)), np.full((2, 3), 1 / 3), ignore_index=0)


def test_label_out_of_range_mentions_ignore_index():
    with pytest.raises(ValueError, match=r"class index -1 at position \(1,\), outside \[0, 3\) "
                                         r"for logits with 3 classes along axis 1 \(and not "
                                         r"ignore_index=5\)"):
        cxent.cross_entropy(np.zeros((2, 3)), [0, -1], ignore_index=5)
