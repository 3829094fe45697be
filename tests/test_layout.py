"""Memory layouts: strided, Fortran-ordered, broadcast, read-only and memory-mapped inputs; out=."""

import numpy as np
import pytest

import cxent
from conftest import (
    ref_log_softmax,
    ref_logsumexp,
    ref_softmax,
    ref_xent_labels,
    ref_xent_labels_grad,
)
from cxent._validate import Layout


def _views(rng):
    base = rng.standard_normal((6, 8, 10))
    yield "C", base
    yield "F", np.asfortranarray(base)
    yield "transposed", base.transpose(2, 0, 1)
    yield "sliced", base[:, ::2, 1:]
    yield "reversed", base[::-1, :, ::-3]
    yield "broadcast", np.broadcast_to(base[0, 0], (6, 8, 10))
    yield "swapped", np.swapaxes(np.asfortranarray(base), 0, 1)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_strided_inputs(axis, rng):
    for name, x in _views(rng):
        np.testing.assert_allclose(cxent.softmax(x, axis), ref_softmax(x, axis), rtol=1e-14,
                                   err_msg=name)
        np.testing.assert_allclose(cxent.log_softmax(x, axis), ref_log_softmax(x, axis),
                                   rtol=1e-14, atol=1e-14, err_msg=name)
        np.testing.assert_allclose(cxent.logsumexp(x, axis), ref_logsumexp(x, axis), rtol=1e-14,
                                   err_msg=name)
        K = x.shape[axis]
        y = rng.integers(0, K, np.sum(x, axis).shape)
        np.testing.assert_allclose(cxent.cross_entropy(x, y, axis=axis, reduction="none"),
                                   ref_xent_labels(x, y, axis), rtol=1e-14, err_msg=name)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_kernel_sees_views_not_copies(axis, rng):
    for name, x in _views(rng):
        lay = Layout(x, axis)
        assert np.shares_memory(lay.rows(x), x), (name, axis)


def test_outputs_follow_input_memory_order(rng):
    x = np.asfortranarray(rng.standard_normal((50, 4)))
    assert cxent.softmax(x).flags.f_contiguous
    _, g = cxent.cross_entropy(x, rng.integers(0, 4, 50), return_grad=True)
    assert g.flags.f_contiguous
    assert cxent.softmax(np.ascontiguousarray(x)).flags.c_contiguous
    nchw = rng.standard_normal((2, 5, 3, 4))  # PyTorch's layout, classes along axis 1
    assert cxent.softmax(nchw, axis=1).flags.c_contiguous
    _, g = cxent.cross_entropy(nchw, rng.integers(0, 5, (2, 3, 4)), axis=1, return_grad=True)
    assert g.flags.c_contiguous


def test_zero_stride_rows_are_scored_without_copy():
    row = np.array([0.5, -1.0, 2.0, 0.0])
    x = np.broadcast_to(row, (100_000, 4))
    y = np.full(100_000, 2)
    np.testing.assert_allclose(cxent.cross_entropy(x, y), ref_xent_labels(row, 2), rtol=1e-13)


def test_read_only_and_memmap_inputs(tmp_path, rng):
    x = rng.standard_normal((20, 5)).astype(np.float32)
    y = rng.integers(0, 5, 20)
    x.flags.writeable = False
    y.flags.writeable = False
    ref = ref_xent_labels(x, y)
    np.testing.assert_allclose(cxent.cross_entropy(x, y, reduction="none"), ref, rtol=2e-6)
    np.testing.assert_allclose(cxent.softmax(x), ref_softmax(x), rtol=2e-6)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    xm = np.load(tmp_path / "x.npy", mmap_mode="r")
    ym = np.load(tmp_path / "y.npy", mmap_mode="r")
    loss, g = cxent.cross_entropy(xm, ym, reduction="none", return_grad=True)
    np.testing.assert_allclose(loss, ref, rtol=2e-6)
    np.testing.assert_allclose(g, ref_xent_labels_grad(x, y), rtol=2e-6, atol=1e-7)
    mm = np.memmap(tmp_path / "x.npy", dtype=np.float32, mode="r", offset=128, shape=(20, 5))
    np.testing.assert_allclose(cxent.logsumexp(mm), ref_logsumexp(x), rtol=2e-7)
    np.testing.assert_allclose(cxent.logsumexp(mm[:, ::2], axis=0), ref_logsumexp(x[:, ::2], 0),
                               rtol=2e-7)
    # probability targets read from a memory map too
    t = ref_softmax(x[::-1]).astype(np.float32)
    np.save(tmp_path / "t.npy", t)
    tm = np.load(tmp_path / "t.npy", mmap_mode="r")
    loss, g = cxent.cross_entropy(xm, tm, reduction="none", return_grad=True)
    np.testing.assert_allclose(loss, -(t * ref_log_softmax(x)).sum(1), rtol=2e-6)
    np.testing.assert_allclose(g, ref_softmax(x) - t, rtol=2e-6, atol=1e-7)


def test_inputs_are_not_modified(rng):
    x = rng.standard_normal((30, 6))
    y = rng.integers(0, 6, 30)
    t = ref_softmax(rng.standard_normal((30, 6)))
    x0, y0, t0 = x.copy(), y.copy(), t.copy()
    cxent.softmax(x)
    cxent.log_softmax(x)
    cxent.logsumexp(x)
    cxent.cross_entropy(x, y, return_grad=True)
    cxent.cross_entropy(x, t, return_grad=True, reduction="none")
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(t, t0)


@pytest.mark.parametrize("fn", [cxent.softmax, cxent.log_softmax])
def test_out_argument(fn, rng):
    ref = {cxent.softmax: ref_softmax, cxent.log_softmax: ref_log_softmax}[fn]
    x = rng.standard_normal((40, 7))
    out = np.empty_like(x)
    assert fn(x, out=out) is out
    np.testing.assert_allclose(out, ref(x), rtol=1e-14, atol=1e-15)
    # F-ordered out for a C-ordered input, and a strided out
    out_f = np.empty((40, 7), order="F")
    assert fn(x, out=out_f) is out_f
    np.testing.assert_allclose(out_f, ref(x), rtol=1e-14, atol=1e-15)
    big = np.zeros((40, 14))
    assert fn(x, out=big[:, ::2]).base is big
    np.testing.assert_allclose(big[:, ::2], ref(x), rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(big[:, 1::2], 0.0)
    # in place
    y = x.copy()
    assert fn(y, out=y) is y
    np.testing.assert_allclose(y, ref(x), rtol=1e-14, atol=1e-15)
    # out overlapping the input partially: computed as if out were separate
    buf = np.concatenate([x.ravel(), np.zeros(7)])
    xin = buf[:280].reshape(40, 7)
    want = ref(xin.copy())
    res = fn(xin, out=buf[7:].reshape(40, 7))
    np.testing.assert_allclose(res, want, rtol=1e-14, atol=1e-15)
    # float32
    x32 = x.astype(np.float32)
    o32 = np.empty_like(x32)
    fn(x32, out=o32)
    np.testing.assert_allclose(o32, ref(x32), rtol=2e-6, atol=1e-6)


def test_out_errors(rng):
    x = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match=r"out has shape \(3, 4\), expected \(4, 3\)"):
        cxent.softmax(x, out=np.empty((3, 4)))
    with pytest.raises(TypeError, match="out has dtype float32, expected float64"):
        cxent.softmax(x, out=np.empty((4, 3), np.float32))
    with pytest.raises(TypeError, match=r"out must be a numpy\.ndarray, got list"):
        cxent.softmax(x, out=[[0.0] * 3] * 4)
    ro = np.empty((4, 3))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        cxent.log_softmax(x, out=ro)
