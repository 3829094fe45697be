"""grad_out= of cross_entropy and nll_loss: the gradient lands in the caller's buffer, with the
values of the float64 references, whatever the buffer's layout, and never in place of an input."""

import numpy as np
import pytest

import cxent
from conftest import ref_ce, ref_ce_probs, ref_nll


def _tol(dtype):
    if dtype == np.float32:
        return {"rtol": 2e-5, "atol": 2e-6}
    return {"rtol": 1e-12, "atol": 1e-14}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [3, 16, 40])
@pytest.mark.parametrize("order", ["C", "F", "strided"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_into_buffer(dtype, K, order, reduction, rng):
    x = (rng.standard_normal((50, K)) * 3).astype(dtype)
    y = rng.integers(0, K, 50)
    y[::7] = -100
    if order == "strided":
        buf = np.full((50, 2 * K), 7.0, dtype)[:, ::2]
    else:
        buf = np.full((50, K), 7.0, dtype, order=order)
    loss, g = cxent.cross_entropy(x, y, reduction=reduction, return_grad=True, grad_out=buf)
    assert g is buf
    want_loss, want_g = ref_ce(x.astype(np.float64), y, reduction=reduction)
    np.testing.assert_allclose(g, want_g, **_tol(dtype))
    np.testing.assert_allclose(loss, want_loss, **_tol(dtype))
    if order == "C":  # the same bits as a new array (other layouts: the strided kernels)
        _, fresh = cxent.cross_entropy(x, y, reduction=reduction, return_grad=True)
        np.testing.assert_array_equal(g, fresh)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [5, 30])
def test_cross_entropy_options_and_axis(dtype, K, rng):
    x = rng.standard_normal((4, K, 6)).astype(dtype)
    y = rng.integers(0, K, (4, 6))
    w = rng.uniform(0.5, 2.0, K)
    buf = np.zeros_like(x)
    kw = {"axis": 1, "weight": w, "label_smoothing": 0.2, "return_grad": True}
    loss, g = cxent.cross_entropy(x, y, grad_out=buf, **kw)
    assert g is buf
    want_loss, want_g = ref_ce(x.astype(np.float64), y, w=w, eps=0.2, axis=1)
    np.testing.assert_allclose(g, want_g, **_tol(dtype))
    np.testing.assert_allclose(loss, want_loss, **_tol(dtype))
    t = rng.dirichlet(np.ones(K), (4, 6)).transpose(0, 2, 1).astype(dtype)
    loss, g = cxent.cross_entropy(x, t, axis=1, return_grad=True, grad_out=buf)
    want_loss, want_g = ref_ce_probs(x.astype(np.float64), t.astype(np.float64), axis=1)
    np.testing.assert_allclose(g, want_g, **_tol(dtype))


@pytest.mark.parametrize("K", [3, 40])
def test_buffer_that_is_the_logits(K, rng):
    """The kernels overwrite a row's gradient before they finish reading its logits, so an
    aliased buffer goes through a temporary: the result is the reference, not garbage."""
    x = rng.standard_normal((30, K))
    y = rng.integers(0, K, 30)
    want_g = ref_ce(x.copy(), y)[1]
    for kw in ({}, {"label_smoothing": 0.1}):
        z = x.copy()
        loss, g = cxent.cross_entropy(z, y, return_grad=True, grad_out=z, **kw)
        assert g is z
        ref = ref_ce(x, y, eps=kw.get("label_smoothing", 0.0))
        np.testing.assert_allclose(g, ref[1], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(loss, ref[0], rtol=1e-12)
    half = x.copy()  # a buffer overlapping the logits, shifted by one row
    big = np.concatenate([half, half[:1]])
    loss, g = cxent.cross_entropy(big[:-1], y, return_grad=True, grad_out=big[1:])
    np.testing.assert_allclose(g, want_g, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nll_loss_into_buffer(dtype, rng):
    lp = np.log(rng.dirichlet(np.ones(6), 20)).astype(dtype)
    y = rng.integers(0, 6, 20)
    buf = np.full_like(lp, np.nan)
    loss, g = cxent.nll_loss(lp, y, reduction="sum", return_grad=True, grad_out=buf)
    assert g is buf
    want_loss, want_g = ref_nll(lp.astype(np.float64), y, reduction="sum")
    np.testing.assert_allclose(g, want_g, **_tol(dtype))
    np.testing.assert_allclose(loss, want_loss, **_tol(dtype))


@pytest.mark.parametrize("fn", [cxent.cross_entropy, cxent.nll_loss])
def test_errors(fn):
    x = np.zeros((4, 3))
    y = np.array([0, 1, 2, 0])
    with pytest.raises(ValueError, match=r"grad_out has shape \(4, 4\), expected \(4, 3\)"):
        fn(x, y, return_grad=True, grad_out=np.zeros((4, 4)))
    with pytest.raises(TypeError, match="grad_out has dtype float32, expected float64"):
        fn(x, y, return_grad=True, grad_out=np.zeros((4, 3), np.float32))
    with pytest.raises(TypeError, match=r"grad_out must be a numpy\.ndarray, got list"):
        fn(x, y, return_grad=True, grad_out=[[0.0] * 3] * 4)
    ro = np.zeros((4, 3))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="grad_out is read-only"):
        fn(x, y, return_grad=True, grad_out=ro)
    with pytest.raises(ValueError, match="grad_out is given but return_grad is False"):
        fn(x, y, grad_out=np.zeros((4, 3)))


def _spy(monkeypatch, module, name):
    # records the `new_pages` keyword of each call of the kernel `name` (then runs it)
    seen = []
    kernel = getattr(module._kernels, name)

    def spy(*args, **kwargs):
        seen.append(kwargs["new_pages"])
        return kernel(*args, **kwargs)

    monkeypatch.setattr(module._kernels, name, spy)
    return seen


def test_kernels_told_whether_the_output_has_new_pages(monkeypatch, rng):
    # `new_pages` (such an output leaves the tiles by ordinary stores, one whose pages were
    # written before by non-temporal stores) is true exactly when the call allocated the array
    # the kernel writes on a new block (cxent._memory): not for grad_out= / out=, not for a
    # block kept from an earlier output, yes for the temporary an overlapping out= is written
    # through.  Every output of more than 64 bytes takes the large outputs' path here.
    from cxent import _losses, _memory, _softmax

    monkeypatch.setattr(_memory, "NEW_PAGES_BYTES", 64)
    _memory.release_memory()
    x = rng.standard_normal((20, 6))
    y = rng.integers(0, 6, 20)
    buf = np.empty_like(x)
    fast = _spy(monkeypatch, _losses, "cross_entropy_c")
    g = cxent.cross_entropy(x, y, return_grad=True)[1]
    cxent.cross_entropy(x, y, return_grad=True)  # g still holds the first block
    del g  # its block is kept, the second one too
    cxent.cross_entropy(x, y, return_grad=True)
    cxent.cross_entropy(x, y, return_grad=True, grad_out=buf)
    assert fast == [True, True, False, False]
    general = _spy(monkeypatch, _losses, "cross_entropy_labels")
    _memory.release_memory()
    cxent.cross_entropy(x, y, return_grad=True, label_smoothing=0.1)
    cxent.cross_entropy(x, y, return_grad=True, label_smoothing=0.1)
    cxent.cross_entropy(x, y, return_grad=True, label_smoothing=0.1, grad_out=buf)
    cxent.cross_entropy(x.T, y, axis=0, return_grad=True, grad_out=buf.T)
    assert general == [True, False, False, False]
    nll = _spy(monkeypatch, _losses, "nll_labels")
    _memory.release_memory()
    cxent.nll_loss(x, y, return_grad=True)
    cxent.nll_loss(x, y, return_grad=True, grad_out=buf)
    assert nll == [True, False]
    rows = _spy(monkeypatch, _softmax, "softmax_rows")
    _memory.release_memory()
    cxent.softmax(x.T, axis=0)
    cxent.softmax(x, out=buf)
    xc = x.copy()
    cxent.softmax(xc[:, ::2], out=xc[:, 1::2])  # overlaps its input: a new temporary
    assert rows == [True, False, True]
    small = _spy(monkeypatch, _softmax, "softmax_c")
    _memory.release_memory()
    cxent.softmax(x)
    cxent.softmax(x)
    assert small == [True, False]
    monkeypatch.setattr(_memory, "NEW_PAGES_BYTES", 1 << 40)  # no output is large
    cxent.softmax(x)
    assert small == [True, False, False]
