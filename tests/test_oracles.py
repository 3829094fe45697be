"""SciPy and PyTorch as oracles (skipped cleanly when they are not installed)."""

import numpy as np
import pytest

import cxent


@pytest.fixture(scope="module")
def sp():
    return pytest.importorskip("scipy.special")


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scipy_softmax_family(sp, axis, dtype, rng):
    x = (rng.standard_normal((13, 6, 5)) * 10).astype(dtype)
    tol = 2e-6 if dtype == np.float32 else 1e-13
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(cxent.softmax(x, axis), sp.softmax(x64, axis), rtol=tol, atol=1e-30)
    np.testing.assert_allclose(cxent.log_softmax(x, axis), sp.log_softmax(x64, axis), rtol=tol,
                               atol=tol)
    np.testing.assert_allclose(cxent.logsumexp(x, axis), sp.logsumexp(x64, axis), rtol=tol)
    np.testing.assert_allclose(cxent.logsumexp(x, None), sp.logsumexp(x64), rtol=tol)
    np.testing.assert_allclose(cxent.logsumexp(x, (0, 2), keepdims=True),
                               sp.logsumexp(x64, (0, 2), keepdims=True), rtol=tol)


def test_scipy_nonfinite(sp):
    rows = np.array([[1.0, -np.inf], [-np.inf, -np.inf], [1.0, np.inf], [np.nan, 1.0],
                     [np.inf, np.inf]])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(cxent.logsumexp(rows), sp.logsumexp(rows, axis=-1))
        np.testing.assert_array_equal(cxent.softmax(rows), sp.softmax(rows, axis=-1))


def _t(torch, a, grad=False):
    return torch.tensor(np.ascontiguousarray(a), requires_grad=grad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("shape", "axis"), [((17, 5), -1), ((4, 6, 3, 2), 1), ((3, 4, 7), 2)])
def test_torch_softmax_family(torch, dtype, shape, axis, rng):
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    tx = _t(torch, x)
    tol = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(cxent.softmax(x, axis), torch.softmax(tx, axis).numpy(),
                               rtol=tol, atol=1e-7 if dtype == np.float32 else 1e-16)
    np.testing.assert_allclose(cxent.log_softmax(x, axis), torch.log_softmax(tx, axis).numpy(),
                               rtol=tol, atol=tol)
    np.testing.assert_allclose(cxent.logsumexp(x, axis), torch.logsumexp(tx, axis).numpy(),
                               rtol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("shape", [(33, 7), (4, 5, 3, 2)])
def test_torch_cross_entropy_and_autograd(torch, dtype, reduction, soft, shape, rng):
    # PyTorch's layout: classes along axis 1
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    lshape = (shape[0],) + shape[2:]
    if soft:
        t = rng.random(shape).astype(dtype)
        t /= t.sum(1, keepdims=True)
        tt = _t(torch, t)
    else:
        t = rng.integers(0, shape[1], lshape)
        tt = torch.tensor(t)
    tx = _t(torch, x, grad=True)
    tl = torch.nn.functional.cross_entropy(tx, tt, reduction=reduction)
    tl.sum().backward()
    loss, grad = cxent.cross_entropy(x, t, axis=1, reduction=reduction, return_grad=True)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss, tl.detach().numpy(), rtol=tol)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=tol, atol=tol * 1e-2)


def test_torch_nonfinite_cross_entropy(torch):
    x = np.array([[1.0, np.inf], [-np.inf, -np.inf], [1.0, np.nan], [1.0, -np.inf],
                  [1.0, -np.inf]])
    y = np.array([0, 1, 0, 0, 1])
    tl = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(y), reduction="none")
    np.testing.assert_array_equal(cxent.cross_entropy(x, y, reduction="none"), tl.numpy())
    for row in x:
        tr = torch.tensor(row)
        np.testing.assert_array_equal(cxent.softmax(row), torch.softmax(tr, 0).numpy())
        np.testing.assert_array_equal(cxent.log_softmax(row), torch.log_softmax(tr, 0).numpy())
        np.testing.assert_array_equal(cxent.logsumexp(row), torch.logsumexp(tr, 0).numpy())


def test_torch_empty_batch(torch):
    x = np.zeros((0, 3))
    y = np.zeros(0, np.int64)
    for red in ("mean", "sum"):
        want = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(y), reduction=red)
        np.testing.assert_array_equal(cxent.cross_entropy(x, y, reduction=red), want.numpy())


def test_float32_more_accurate_than_torch_on_small_losses(torch):
    # a confident correct prediction: the exact loss is log1p(9 exp(-16)) ~ 1.0e-6
    x = np.zeros((1, 10), np.float32)
    x[0, 3] = 16
    exact = np.log1p(9 * np.exp(-16.0))
    ours = float(cxent.cross_entropy(x, [3]))
    assert abs(ours - exact) <= 1e-6 * exact
    theirs = float(torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor([3])))
    assert abs(theirs - exact) > abs(ours - exact)
