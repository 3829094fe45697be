"""The fast paths for small calls (C-contiguous arrays, default keywords) against the general path.

The fast paths skip the general validation and layout code; these tests check that they are
taken, give the same bits as the general path (forced here by an axis of type np.int64, which
the fast paths do not take), follow its rules for bad and ignored labels, and hand every other
layout or keyword to the general path.
"""

import numpy as np
import pytest

import cxent
from conftest import as_bits, ref_softmax, ref_xent_labels, ref_xent_labels_grad
from cxent import _losses, _softmax

SHAPES = [(1, 3), (5, 4), (300, 10), (7, 40), (3, 1)]
GENERAL = {"axis": np.int64(-1)}


@pytest.fixture
def calls(monkeypatch):
    """Count the calls of the fast kernels."""
    seen = []
    kern = _softmax._kernels
    for name in ("softmax_c", "log_softmax_c", "logsumexp_c", "cross_entropy_c"):
        f = getattr(kern, name)

        def counted(*a, _f=f, _name=name, **kw):
            seen.append(_name)
            return _f(*a, **kw)

        monkeypatch.setattr(kern, name, counted)
    return seen


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_family_fast_equals_general(shape, dtype, rng, calls):
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    before = x.copy()
    for f in (cxent.softmax, cxent.log_softmax, cxent.logsumexp):
        fast = f(x)
        general = f(x, **GENERAL)
        assert type(fast) is type(general)
        assert fast.dtype == dtype and np.shape(fast) == np.shape(general)
        assert as_bits(fast) == as_bits(general)
        assert as_bits(f(x, n_threads=2)) == as_bits(general)
    assert calls == ["softmax_c"] * 2 + ["log_softmax_c"] * 2 + ["logsumexp_c"] * 2
    np.testing.assert_allclose(cxent.softmax(x), ref_softmax(x), rtol=2e-6 if dtype == np.float32
                               else 1e-14)
    np.testing.assert_array_equal(x, before)
    # one-dimensional input: logsumexp gives a NumPy scalar, like the general path
    assert as_bits(cxent.logsumexp(x[0])) == as_bits(cxent.logsumexp(x[0], **GENERAL))
    assert np.ndim(cxent.logsumexp(x[0])) == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_fast_equals_general(shape, dtype, reduction, rng, calls):
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    y = rng.integers(0, shape[1], shape[0])
    fast, gf = cxent.cross_entropy(x, y, reduction=reduction, return_grad=True)
    general, gg = cxent.cross_entropy(x, y, reduction=reduction, return_grad=True, **GENERAL)
    assert calls == ["cross_entropy_c"]
    f1, g1 = cxent.cross_entropy(x, y, reduction=reduction, return_grad=True, n_threads=1)
    assert as_bits(f1) == as_bits(fast) and as_bits(g1) == as_bits(gf)
    assert type(fast) is type(general) and fast.dtype == dtype
    assert as_bits(fast) == as_bits(general)
    assert as_bits(gf) == as_bits(gg)
    assert as_bits(cxent.cross_entropy(x, y, reduction=reduction)) == as_bits(fast)
    assert calls == ["cross_entropy_c"] * 3
    per = ref_xent_labels(x, y)
    want = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    np.testing.assert_allclose(fast, want, rtol=1e-5 if dtype == np.float32 else 1e-13)
    gwant = ref_xent_labels_grad(x, y) / (shape[0] if reduction == "mean" else 1)
    np.testing.assert_allclose(gf, gwant, rtol=2e-6 if dtype == np.float32 else 1e-13,
                               atol=1e-7 if dtype == np.float32 else 1e-16)


def test_worked_example_on_the_fast_path(calls):
    W = np.array([[.1, .2, .3], [.4, .5, .6], [.7, .8, .9]])
    z = (W @ np.array([1.0, 2.0, 3.0]))[None, :]
    loss, grad = cxent.cross_entropy(z, np.array([2]), return_grad=True)
    assert calls == ["cross_entropy_c"]
    np.testing.assert_allclose(loss, 0.176154756665901, rtol=1e-13)
    np.testing.assert_allclose(grad[0] + [0, 0, 1], cxent.softmax(z)[0], rtol=1e-13)
    np.testing.assert_allclose(cxent.softmax(z)[0], [0.02291062, 0.13860117, 0.83848821],
                               rtol=1e-7)


def test_bad_and_ignored_labels_on_the_fast_path(rng, calls):
    # the fast path reports invalid labels itself (one kernel call, the general path's message)
    # and with ignored labels still runs the kernel once: the gradient of "mean" is scaled by
    # the count of the labels, taken first
    x = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match=r"class index 3 at position \(2,\)"):
        cxent.cross_entropy(x, np.array([0, 1, 3, 2]))
    with pytest.raises(ValueError, match=r"class index -1 at position \(0,\)"):
        cxent.cross_entropy(x, np.array([-1, 1, 0, 2]), return_grad=True)
    y = np.array([0, -100, 2, 1])
    loss, g = cxent.cross_entropy(x, y, return_grad=True)
    keep = y != -100
    per = ref_xent_labels(x[keep], y[keep])
    np.testing.assert_allclose(loss, per.mean(), rtol=1e-13)
    assert not g[1].any()
    np.testing.assert_allclose(g[keep], ref_xent_labels_grad(x[keep], y[keep]) / keep.sum(),
                               rtol=1e-13, atol=1e-16)
    assert calls == ["cross_entropy_c"] * 3  # one per call
    general = cxent.cross_entropy(x, y, return_grad=True, **GENERAL)
    assert as_bits(general[0]) == as_bits(loss) and as_bits(general[1]) == as_bits(g)
    for red in ("sum", "none"):
        calls.clear()
        fast = cxent.cross_entropy(x, y, reduction=red, return_grad=True)
        assert calls == ["cross_entropy_c"]
        general = cxent.cross_entropy(x, y, reduction=red, return_grad=True, **GENERAL)
        assert as_bits(fast[0]) == as_bits(general[0]) and as_bits(fast[1]) == as_bits(general[1])


def test_other_layouts_and_keywords_skip_the_fast_path(rng, calls):
    x = rng.standard_normal((6, 5))
    y = rng.integers(0, 5, 6)
    want = cxent.cross_entropy(x, y, **GENERAL)
    assert as_bits(cxent.cross_entropy(np.asfortranarray(x), y)) == as_bits(want)
    assert as_bits(cxent.cross_entropy(x, y.astype(np.int32))) == as_bits(want)
    assert as_bits(cxent.cross_entropy(x.tolist(), y.tolist())) == as_bits(want)
    cxent.cross_entropy(x, y, label_smoothing=0.1)
    cxent.cross_entropy(x, y, weight=np.ones(5))
    cxent.softmax(x[:, ::2])
    cxent.softmax(x, axis=0)
    cxent.logsumexp(x, keepdims=True)
    cxent.softmax(x, n_threads=np.int64(1))
    with pytest.raises(ValueError, match="n_threads"):
        cxent.softmax(x, n_threads=0)
    with pytest.raises(TypeError, match="n_threads"):
        cxent.cross_entropy(x, y, n_threads=True)
    assert calls == []


def test_read_only_input_on_the_fast_path(rng, calls):
    x = rng.standard_normal((8, 4))
    y = rng.integers(0, 4, 8)
    x.setflags(write=False)
    y.setflags(write=False)
    loss, g = cxent.cross_entropy(x, y, return_grad=True)
    p = cxent.softmax(x)
    np.testing.assert_allclose(g, (ref_softmax(x) - np.eye(4)[y]) / 8, rtol=1e-13, atol=1e-16)
    assert calls == ["cross_entropy_c", "softmax_c"]
    np.testing.assert_allclose(p, ref_softmax(x), rtol=1e-14)
    np.testing.assert_allclose(loss, ref_xent_labels(x, y).mean(), rtol=1e-13)


def test_fast_kernels_reject_mismatched_buffers():
    k = _losses._kernels
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="expected 6 items of 8 bytes"):
        k.softmax_c(x, np.empty((2, 2)), K=3, n_threads=0)
    with pytest.raises(ValueError, match="expected 9 items of 8 bytes"):
        k.cross_entropy_c(x, np.zeros(3, np.int64), K=3, mean=False, n_threads=0)
    with pytest.raises(ValueError, match="items of 8 bytes, got 8 bytes in items of 4"):
        k.cross_entropy_c(x, np.zeros(2, np.int32), K=3, mean=False, n_threads=0)
    with pytest.raises(ValueError, match="items of 8 bytes"):
        k.logsumexp_c(x, np.empty(2, np.float32), K=3, n_threads=0)
    with pytest.raises(ValueError):
        k.softmax_c(x, np.empty((2, 3)).T, K=3, n_threads=0)  # not C-contiguous
