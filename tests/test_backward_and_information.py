"""softmax_backward / log_softmax_backward, logsumexp with b and return_sign, and the
information measures, against PyTorch autograd, SciPy and plain references."""

import numpy as np
import pytest

import cxent
from conftest import ref_log_softmax, ref_softmax


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_backward_against_plain_formulas(dtype, axis, rng):
    x = rng.standard_normal((6, 5, 4))
    go = rng.standard_normal((6, 5, 4))
    y = ref_softmax(x, axis)
    want = y * (go - (go * y).sum(axis, keepdims=True))
    got = cxent.softmax_backward(go.astype(dtype), y.astype(dtype), axis)
    assert got.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    ly = ref_log_softmax(x, axis)
    want = go - np.exp(ly) * go.sum(axis, keepdims=True)
    got = cxent.log_softmax_backward(go.astype(dtype), ly.astype(dtype), axis)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("log", [False, True])
def test_backward_against_torch_autograd(log, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 7, 3))
    go = rng.standard_normal((4, 7, 3))
    tx = torch.tensor(x, requires_grad=True)
    fn = torch.log_softmax if log else torch.softmax
    ty = fn(tx, 1)
    (gin,) = torch.autograd.grad(ty, tx, torch.tensor(go))
    back = cxent.log_softmax_backward if log else cxent.softmax_backward
    np.testing.assert_allclose(back(go, ty.detach().numpy(), axis=1), gin.numpy(), rtol=1e-12,
                               atol=1e-15)


def test_backward_chain_rule_gives_cross_entropy_gradient(rng):
    x = rng.standard_normal((5, 4))
    y = rng.integers(0, 4, 5)
    onehot = np.eye(4)[y]
    _, g = cxent.cross_entropy(x, y, reduction="sum", return_grad=True)
    lp = cxent.log_softmax(x)
    np.testing.assert_allclose(cxent.log_softmax_backward(-onehot, lp), g, rtol=1e-13,
                               atol=1e-16)
    p = cxent.softmax(x)
    np.testing.assert_allclose(cxent.softmax_backward(-onehot / p, p), g, rtol=1e-12,
                               atol=1e-15)


def test_backward_out_and_errors(rng):
    y = ref_softmax(rng.standard_normal((3, 4)))
    go = rng.standard_normal((3, 4))
    out = np.empty((3, 4))
    assert cxent.softmax_backward(go, y, out=out) is out
    np.testing.assert_allclose(out, y * (go - (go * y).sum(1, keepdims=True)), rtol=1e-13)
    g2 = go.copy()
    cxent.softmax_backward(g2, y, out=g2)  # in place over grad_output
    np.testing.assert_allclose(g2, out, rtol=1e-15)
    with pytest.raises(ValueError, match=r"grad_output has shape \(3, 3\), output has shape "
                                         r"\(3, 4\)"):
        cxent.softmax_backward(go[:, :3], y)
    assert cxent.log_softmax_backward(go.astype(np.float32), y).dtype == np.float64


@pytest.fixture(scope="module")
def special():
    return pytest.importorskip("scipy.special")


@pytest.mark.parametrize("axis", [-1, 0, None, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_b_against_scipy(special, axis, keepdims, rng):
    x = rng.standard_normal((4, 3, 5)) * 3
    b = rng.standard_normal((4, 3, 5))
    b[0, 0, :2] = 0.0
    r, s = cxent.logsumexp(x, axis, b=b, keepdims=keepdims, return_sign=True)
    rr, ss = special.logsumexp(x, axis, b=b, keepdims=keepdims, return_sign=True)
    # with signed b the sums cancel: compare at an absolute tolerance of a few ulps
    np.testing.assert_allclose(r, rr, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(s, ss)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(cxent.logsumexp(x, axis, b=b, keepdims=keepdims),
                                   special.logsumexp(x, axis, b=b, keepdims=keepdims),
                                   rtol=1e-12, atol=1e-14)
    # b broadcasts
    bb = rng.random(5)
    np.testing.assert_allclose(cxent.logsumexp(x, axis, b=bb), special.logsumexp(x, axis, b=bb),
                               rtol=1e-12)


LSE_B_CASES = [
    ([1.0, 2.0], [1, -1]), ([1.0, 2.0], [-1, -1]), ([1.0, 2.0], [0, 0]),
    ([np.inf, 1.0], [0, 1]), ([np.inf, 1.0], [1, 1]), ([np.inf, 1.0], [-1, 1]),
    ([np.inf, np.inf], [1, -1]), ([-np.inf, -np.inf], [1, 1]), ([1.0, np.nan], [1, 0]),
    ([2.0, 2.0], [1, -1]), ([1.0, 2.0], [2, 0.5]), ([np.inf, 1.0], [np.nan, 1]),
]


@pytest.mark.parametrize(("x", "b"), LSE_B_CASES)
def test_logsumexp_b_special_values_match_scipy(special, x, b):
    with np.errstate(all="ignore"):
        want = special.logsumexp(x, b=b, return_sign=True)
        want_plain = special.logsumexp(x, b=b)
    got = cxent.logsumexp(x, b=b, return_sign=True)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(cxent.logsumexp(x, b=b), want_plain)


def test_logsumexp_sign_without_b(special):
    x = np.array([[1.0, 2.0], [-np.inf, -np.inf], [np.inf, 0.0], [np.nan, 0.0]])
    r, s = cxent.logsumexp(x, return_sign=True)
    rr, ss = special.logsumexp(x, axis=-1, return_sign=True)
    np.testing.assert_array_equal(r, rr)
    np.testing.assert_array_equal(s, ss)


def test_logsumexp_b_dtype_and_errors():
    assert cxent.logsumexp(np.float32([1, 2]), b=np.float32([1, 1])).dtype == np.float32
    assert cxent.logsumexp(np.float32([1, 2]), b=[1.0, 1.0]).dtype == np.float64
    with pytest.raises(ValueError, match=r"b of shape \(3,\) does not broadcast against x of "
                                         r"shape \(2,\)"):
        cxent.logsumexp([1.0, 2.0], b=[1.0, 2.0, 3.0])


def _entr(p):
    return np.where(p > 0, -p * np.log(np.where(p > 0, p, 1)), np.where(p < 0, -np.inf, 0.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [-1, 0])
def test_information_measures_against_plain_references(dtype, axis, rng):
    p = rng.random((6, 5))
    q = rng.random((6, 5))
    p[0, 1] = 0.0
    p /= p.sum(axis, keepdims=True)
    q /= q.sum(axis, keepdims=True)
    p32, q32 = p.astype(dtype), q.astype(dtype)
    pp, qq = p32.astype(float), q32.astype(float)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    H = _entr(pp).sum(axis)
    X = -np.where(pp > 0, pp * np.log(qq), 0.0).sum(axis)
    D = np.where(pp > 0, pp * np.log(np.where(pp > 0, pp, 1) / qq), 0.0).sum(axis)
    np.testing.assert_allclose(cxent.entropy(p32, axis), H, rtol=tol)
    np.testing.assert_allclose(cxent.cross_entropy_dist(p32, q32, axis), X, rtol=tol)
    np.testing.assert_allclose(cxent.kl_divergence(p32, q32, axis), D, rtol=tol, atol=tol)
    # D(p || q) = H(p, q) - H(p)
    np.testing.assert_allclose(cxent.kl_divergence(p32, q32, axis),
                               cxent.cross_entropy_dist(p32, q32, axis) -
                               cxent.entropy(p32, axis), rtol=1e-4, atol=tol * 10)
    assert cxent.entropy(p32, axis).dtype == dtype
    np.testing.assert_allclose(cxent.entropy(p32, axis, base=2), H / np.log(2), rtol=tol)


def test_information_measures_against_scipy(rng):
    stats = pytest.importorskip("scipy.stats")
    special = pytest.importorskip("scipy.special")
    p = rng.random((4, 7))
    q = rng.random((4, 7))
    p[1, :3] = 0
    pn, qn = p / p.sum(1, keepdims=True), q / q.sum(1, keepdims=True)
    np.testing.assert_allclose(cxent.entropy(pn), stats.entropy(pn, axis=1), rtol=1e-13)
    np.testing.assert_allclose(cxent.kl_divergence(pn, qn, base=3),
                               stats.entropy(pn, qn, base=3, axis=1), rtol=1e-13)
    # unnormalised input: sums of scipy.special's entr / rel_entr (no renormalisation)
    np.testing.assert_allclose(cxent.entropy(p), special.entr(p).sum(1), rtol=1e-13)
    np.testing.assert_allclose(cxent.kl_divergence(p, q), special.rel_entr(p, q).sum(1),
                               rtol=1e-13)
    bad_p = np.array([[0.5, -0.1, 0.6], [0.0, 0.5, 0.5], [np.nan, 0.5, 0.5]])
    bad_q = np.array([[0.3, 0.3, 0.4], [0.5, 0.5, 0.0], [0.3, 0.3, 0.4]])
    np.testing.assert_array_equal(cxent.entropy(bad_p), special.entr(bad_p).sum(1))
    np.testing.assert_array_equal(cxent.kl_divergence(bad_p, bad_q),
                                  special.rel_entr(bad_p, bad_q).sum(1))


def test_information_edge_cases():
    assert cxent.entropy([1.0, 0.0]) == 0.0
    assert cxent.kl_divergence([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert cxent.cross_entropy_dist([0.0, 1.0], [0.0, 1.0]) == 0.0
    assert cxent.cross_entropy_dist([0.5, 0.5], [0.0, 1.0]) == np.inf
    np.testing.assert_allclose(cxent.kl_divergence([[0.2, 0.8]], [0.5, 0.5]),  # broadcasting
                               [0.2 * np.log(0.4) + 0.8 * np.log(1.6)], rtol=1e-15)
    with pytest.raises(ValueError, match="base must be a positive number other than 1, got 1"):
        cxent.entropy([0.5, 0.5], base=1)
    with pytest.raises(ValueError, match=r"p of shape \(2,\) and q of shape \(3,\) do not "
                                         r"broadcast"):
        cxent.kl_divergence([0.5, 0.5], [0.2, 0.3, 0.5])
    with pytest.raises(TypeError, match="p must hold real numbers"):
        cxent.entropy(["a"])
