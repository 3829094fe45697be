"""Property tests (hypothesis): invariants of softmax and cross-entropy on random inputs."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cxent
from conftest import ref_log_softmax, ref_softmax, ref_xent_labels, ref_xent_labels_grad

settings.register_profile("cxent", max_examples=60, deadline=None)
settings.load_profile("cxent")


def logits(dtype=np.float64, lo=-60.0, hi=60.0, min_side=1, max_side=9):
    return hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=3, min_side=min_side,
                                              max_side=max_side),
                      elements=st.floats(lo, hi, width=np.dtype(dtype).itemsize * 8))


@given(logits(), st.data())
def test_softmax_rows_sum_to_one_and_shift_invariance(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    p = cxent.softmax(x, axis)
    assert (p >= 0).all() and (p <= 1).all()
    np.testing.assert_allclose(p, ref_softmax(x, axis), rtol=1e-13, atol=0)
    np.testing.assert_allclose(p.sum(axis), 1.0, rtol=1e-13)
    c = data.draw(st.floats(-100, 100))
    np.testing.assert_allclose(cxent.softmax(x + c, axis), p, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(cxent.logsumexp(x + c, axis), cxent.logsumexp(x, axis) + c,
                               rtol=1e-13, atol=1e-12)


@given(logits(np.float32, -30, 30))
def test_float32_softmax_sums_to_one(x):
    p = cxent.softmax(x)
    np.testing.assert_allclose(p.sum(-1, dtype=np.float64), 1.0, rtol=1e-6)
    np.testing.assert_allclose(p, ref_softmax(x), rtol=4e-7, atol=1e-45)


@given(logits(lo=-700, hi=700))
def test_log_softmax_is_log_of_softmax_where_finite(x):
    lp = cxent.log_softmax(x)
    p = cxent.softmax(x)
    ok = p > 1e-300
    np.testing.assert_allclose(lp[ok], np.log(p[ok]), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(lp, ref_log_softmax(x), rtol=1e-12, atol=1e-12)
    assert np.isfinite(lp).all()  # finite logits: never -inf, even where softmax underflows


@given(logits(min_side=2), st.data())
def test_label_gradient_rows_sum_to_zero(x, data):
    K = x.shape[-1]
    y = data.draw(hnp.arrays(np.int64, x.shape[:-1], elements=st.integers(0, K - 1)))
    loss, g = cxent.cross_entropy(x, y, reduction="sum", return_grad=True)
    np.testing.assert_allclose(g.sum(-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(g, ref_xent_labels_grad(x, y), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(loss, ref_xent_labels(x, y).sum(), rtol=1e-12, atol=1e-12)
    assert loss >= 0


@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 6)),
                  elements=st.floats(-5, 5)), st.data())
def test_gradient_agrees_with_central_differences(x, data):
    K = x.shape[1]
    y = data.draw(hnp.arrays(np.int64, x.shape[:1], elements=st.integers(0, K - 1)))
    _, g = cxent.cross_entropy(x, y, return_grad=True)
    h = 1e-6
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        fd = (cxent.cross_entropy(xp, y) - cxent.cross_entropy(xm, y)) / (2 * h)
        assert abs(fd - g[i]) <= 1e-6 * max(1.0, abs(g[i])), (i, fd, g[i])
