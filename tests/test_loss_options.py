"""cross_entropy's options: z_loss, softcap, focal_gamma, return_lse (and their combinations
with class weights, ignore_index, label smoothing, sample weights, every reduction, both dtypes,
the tile path K <= 32 and the row path, another class axis).

The reference is the definition written plainly in float64 NumPy; the gradient is checked
against central differences of that reference without PyTorch, and against PyTorch's autograd of
the same formulas written in PyTorch (float64, 1e-10) when PyTorch is installed.
"""

import itertools

import numpy as np
import pytest

import cxent
from conftest import central_difference

OPTIONS = [  # (z_loss, softcap, focal_gamma)
    (0.0, None, 0.0), (1e-3, None, 0.0), (0.0, 4.0, 0.0), (0.0, None, 2.0), (0.0, None, 0.5),
    (1e-2, 3.0, 0.0), (1e-2, None, 1.5), (0.0, 2.5, 2.0), (5e-3, 6.0, 1.0),
]
EXTRAS = [  # (class weights, label smoothing, sample weights, ignore_index, reduction)
    (False, 0.0, False, -100, "mean"), (True, 0.0, False, -100, "sum"),
    (False, 0.2, False, 1, "none"), (True, 0.1, True, -100, "mean"),
    (False, 0.0, True, 1, "mean"), (True, 0.3, False, 1, "none"),
]


def ref_loss(x, target, *, w=None, eps=0.0, sw=None, ignore=-100, z=0.0, cap=None, gamma=0.0,
             red="mean"):
    """The definition, rows of (N, K) float64 logits; returns (reduced loss, lse)."""
    xp = np
    x = cap * xp.tanh(x / cap) if cap else x
    m = x.max(axis=1, keepdims=True)
    lse = (xp.log(xp.exp(x - m).sum(axis=1, keepdims=True)) + m)[:, 0]
    logp = x - lse[:, None]
    p = xp.exp(logp)
    N, K = x.shape
    wv = xp.ones(K, dtype=x.dtype) if w is None else w
    if target.dtype.kind in "iu":
        y = target
        keep = y != ignore
        onehot = xp.zeros_like(x)
        onehot[np.flatnonzero(np.asarray(keep)), np.asarray(y)[np.asarray(keep)]] = 1.0
        cw = wv[xp.where(keep, y, 0)]
    else:
        keep = xp.ones(N, dtype=bool)
        onehot = target
        cw = None
    t = (1 - eps) * onehot + eps / K
    focal = (1 - p) ** gamma if gamma else 1.0
    terms = t * wv * focal * logp
    terms = xp.where(t * wv != 0, terms, 0 * terms)  # 0 log 0 = 0
    per = -terms.sum(axis=1) + z * lse**2
    per = xp.where(keep, per, 0 * per)
    s = xp.ones(N, dtype=x.dtype) if sw is None else sw
    per = per * s
    if red == "none":
        return per, lse
    if red == "sum":
        return per.sum(), lse
    denom = s.sum() if cw is None else (xp.where(keep, cw, 0 * cw) * s).sum()
    return per.sum() / denom, lse


def _case(K, dt, extras, seed=0):
    rng = np.random.default_rng(seed + 7 * K)
    weighted, eps, sampled, ignore, red = extras
    x = rng.standard_normal((9, K)) * 3
    x[0, 1 % K] = 12.0  # a confident row
    y = rng.integers(0, K, 9)
    y[2] = ignore if ignore != 1 or K > 1 else y[2]
    w = rng.random(K) + 0.5 if weighted else None
    sw = rng.random(9) * 2 if sampled else None
    if sampled:
        sw[4] = 0.0
    return x.astype(dt), y, w, eps, sw, ignore, red


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("K", [3, 40])
@pytest.mark.parametrize("z,cap,gamma", OPTIONS)
def test_class_indices_against_reference(z, cap, gamma, K, dt):
    tol = {"rtol": 1e-10, "atol": 1e-12} if dt == np.float64 else {"rtol": 2e-5, "atol": 2e-6}
    for extras in EXTRAS:
        x, y, w, eps, sw, ignore, red = _case(K, dt, extras)
        wd = None if w is None else w.astype(dt)
        loss, grad, lse = cxent.cross_entropy(
            x, y, weight=wd, label_smoothing=eps, sample_weight=sw, ignore_index=ignore,
            reduction=red, z_loss=z, softcap=cap, focal_gamma=gamma, return_grad=True,
            return_lse=True)
        x64 = x.astype(np.float64)
        w64 = None if w is None else wd.astype(np.float64)
        kw = {"w": w64, "eps": eps, "sw": sw, "ignore": ignore, "z": z, "cap": cap,
              "gamma": gamma, "red": red}
        want, want_lse = ref_loss(x64, y, **kw)
        np.testing.assert_allclose(loss, want, **tol)
        np.testing.assert_allclose(lse, want_lse, **tol)
        assert loss.dtype == dt and grad.dtype == dt and lse.dtype == dt
        assert lse.shape == y.shape
        g = central_difference(lambda a, y=y, kw=kw: float(np.sum(ref_loss(a, y, **kw)[0])), x64)
        np.testing.assert_allclose(grad, g, rtol=1e-5 if dt == np.float64 else 1e-4,
                                   atol=1e-7 if dt == np.float64 else 2e-5)
        if ignore != 1:
            assert not grad[2].any()  # the ignored position: exact zeros


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("K", [4, 40])
@pytest.mark.parametrize("z,cap,gamma", OPTIONS)
def test_probability_targets_against_reference(z, cap, gamma, K, dt):
    tol = {"rtol": 1e-10, "atol": 1e-12} if dt == np.float64 else {"rtol": 2e-5, "atol": 2e-6}
    rng = np.random.default_rng(K)
    x = (rng.standard_normal((7, K)) * 2).astype(dt)
    t = rng.random((7, K))
    t[:, 0] = 0.0
    t = (t / t.sum(axis=1, keepdims=True)).astype(dt)
    w = (rng.random(K) + 0.5).astype(dt)
    sw = rng.random(7)
    for eps, wt, s, red in ((0.0, None, None, "mean"), (0.2, w, sw, "none"), (0.1, None, sw,
                                                                                "sum")):
        loss, grad, lse = cxent.cross_entropy(x, t, weight=wt, label_smoothing=eps,
                                              sample_weight=s, reduction=red, z_loss=z,
                                              softcap=cap, focal_gamma=gamma, return_grad=True,
                                              return_lse=True)
        kw = {"w": None if wt is None else wt.astype(np.float64), "eps": eps, "sw": s, "z": z,
              "cap": cap, "gamma": gamma, "red": red}
        x64, t64 = x.astype(np.float64), t.astype(np.float64)
        want, want_lse = ref_loss(x64, t64, **kw)
        np.testing.assert_allclose(loss, want, **tol)
        np.testing.assert_allclose(lse, want_lse, **tol)
        g = central_difference(lambda a, t64=t64, kw=kw: float(np.sum(ref_loss(a, t64, **kw)[0])),
                         x64)
        np.testing.assert_allclose(grad, g, rtol=1e-5 if dt == np.float64 else 1e-4,
                                   atol=1e-7 if dt == np.float64 else 2e-5)


def torch_loss(torch, x, y, *, w=None, eps=0.0, sw=None, ignore=-100, z=0.0, cap=None,
               gamma=0.0, red="mean"):
    """The same definition written plainly in PyTorch (class indices), for autograd."""
    if cap:
        x = cap * torch.tanh(x / cap)
    lse = torch.logsumexp(x, dim=1)
    logp = x - lse[:, None]
    p = logp.exp()
    K = x.shape[1]
    wv = torch.ones(K, dtype=x.dtype) if w is None else w
    keep = y != ignore
    t = torch.nn.functional.one_hot(torch.where(keep, y, 0), K).to(x.dtype)
    t = (1 - eps) * t + eps / K
    per = -(t * wv * (1 - p) ** gamma * logp).sum(dim=1) + z * lse**2
    per = torch.where(keep, per, torch.zeros_like(per))
    s = torch.ones_like(per) if sw is None else sw
    per = per * s
    if red == "none":
        return per, lse
    if red == "sum":
        return per.sum(), lse
    return per.sum() / (torch.where(keep, wv[torch.where(keep, y, 0)], 0.0) * s).sum(), lse


@pytest.mark.parametrize("z,cap,gamma", OPTIONS)
def test_against_torch_autograd(z, cap, gamma):
    torch = pytest.importorskip("torch")
    for K, extras in itertools.product((3, 17, 40), EXTRAS):
        x, y, w, eps, sw, ignore, red = _case(K, np.float64, extras, seed=1)
        xt = torch.tensor(x, requires_grad=True)
        want, want_lse = torch_loss(torch, xt, torch.tensor(y),
                                    w=None if w is None else torch.tensor(w), eps=eps,
                                    sw=None if sw is None else torch.tensor(sw), ignore=ignore,
                                    z=z, cap=cap, gamma=gamma, red=red)
        want.sum().backward()
        loss, grad, lse = cxent.cross_entropy(x, y, weight=w, label_smoothing=eps,
                                              sample_weight=sw, ignore_index=ignore,
                                              reduction=red, z_loss=z, softcap=cap,
                                              focal_gamma=gamma, return_grad=True,
                                              return_lse=True)
        np.testing.assert_allclose(loss, want.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(lse, want_lse.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_defaults_are_plain_cross_entropy_to_the_bit():
    rng = np.random.default_rng(3)
    for K in (3, 40):
        x = rng.standard_normal((50, K)).astype(np.float32)
        y = rng.integers(0, K, 50)
        a = cxent.cross_entropy(x, y, return_grad=True, weight=np.ones(K, np.float32))
        b = cxent.cross_entropy(x, y, return_grad=True, weight=np.ones(K, np.float32),
                                z_loss=0.0, softcap=None, focal_gamma=0.0)
        assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()


def test_lse_is_logsumexp_of_every_position():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 5, 4))
    y = rng.integers(0, 5, (3, 4))
    y[0, 0] = -100
    loss, lse = cxent.cross_entropy(x, y, axis=1, return_lse=True, reduction="none")
    np.testing.assert_allclose(lse, cxent.logsumexp(x, axis=1), rtol=1e-15)
    assert loss[0, 0] == 0
    _, _grad, lse2 = cxent.cross_entropy(x, y, axis=1, return_grad=True, return_lse=True,
                                        softcap=2.0)
    np.testing.assert_allclose(lse2, cxent.logsumexp(2.0 * np.tanh(x / 2.0), axis=1),
                               rtol=1e-14)


@pytest.mark.parametrize("kw,match", [
    ({"z_loss": -1.0}, "z_loss"), ({"z_loss": np.nan}, "z_loss"),
    ({"focal_gamma": -0.5}, "focal_gamma"), ({"focal_gamma": np.inf}, "focal_gamma"),
    ({"softcap": 0.0}, "softcap"), ({"softcap": -3.0}, "softcap"), ({"softcap": np.nan}, "softcap"),
])
def test_bad_options(kw, match):
    with pytest.raises(ValueError, match=match):
        cxent.cross_entropy(np.zeros((2, 3)), [0, 1], **kw)


def test_option_types():
    with pytest.raises(TypeError, match="z_loss"):
        cxent.cross_entropy(np.zeros((2, 3)), [0, 1], z_loss="big")
    with pytest.raises(TypeError, match="softcap"):
        cxent.cross_entropy(np.zeros((2, 3)), [0, 1], softcap=True)


def test_linear_cross_entropy_options_match_cross_entropy():
    rng = np.random.default_rng(5)
    h = rng.standard_normal((40, 8))
    W = rng.standard_normal((30, 8))
    b = rng.standard_normal(30)
    y = rng.integers(0, 30, 40)
    y[3] = -100
    sw = rng.random(40)
    for z, cap, gamma in OPTIONS:
        kw = {"z_loss": z, "softcap": cap, "focal_gamma": gamma, "label_smoothing": 0.1,
                  "sample_weight": sw}
        loss, (gh, gw, gb), lse = cxent.linear_cross_entropy(h, W, y, bias=b, return_grad=True,
                                                             return_lse=True, chunk_size=7, **kw)
        want, g, want_lse = cxent.cross_entropy(h @ W.T + b, y, return_grad=True,
                                                return_lse=True, **kw)
        np.testing.assert_allclose(loss, want, rtol=1e-13)
        np.testing.assert_allclose(lse, want_lse, rtol=1e-13)
        np.testing.assert_allclose(gh, g @ W, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(gw, g.T @ h, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(gb, g.sum(axis=0), rtol=1e-10, atol=1e-15)
    with pytest.raises(ValueError, match="softcap"):
        cxent.linear_cross_entropy(h, W, y, softcap=-1.0)


def test_dask_options_match_cross_entropy():
    da = pytest.importorskip("dask.array")
    import cxent.dask as cdask

    rng = np.random.default_rng(6)
    x = rng.standard_normal((50, 7))
    y = rng.integers(0, 7, 50)
    y[::9] = -100
    kw = {"z_loss": 1e-2, "softcap": 3.0, "focal_gamma": 1.0, "weight": rng.random(7) + 0.5}
    dx, dy = da.from_array(x, chunks=(13, 7)), da.from_array(y, chunks=13)
    for red in ("mean", "sum", "none"):
        got, lse = cdask.cross_entropy(dx, dy, reduction=red, return_lse=True, **kw)
        want, want_lse = cxent.cross_entropy(x, y, reduction=red, return_lse=True, **kw)
        np.testing.assert_allclose(got.compute(), want, rtol=1e-13)
        np.testing.assert_allclose(lse.compute(), want_lse, rtol=1e-15)
    with pytest.raises(ValueError, match="focal_gamma"):
        cdask.cross_entropy(dx, dy, focal_gamma=-1.0)


@pytest.mark.parametrize("K", [3, 40])
@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_focal_loss_of_confident_rows_keeps_relative_accuracy(K, gamma):
    # p_y close to 1: (1 - p_y)**gamma and the label's gradient entry need 1 - p_y without the
    # cancellation 1 - p_y; mpmath (50 digits) is the reference
    mpmath = pytest.importorskip("mpmath")
    for margin in (12.0, 25.0, 33.0):
        x = np.zeros((1, K))
        x[0, 0] = margin
        loss, grad = cxent.cross_entropy(x, [0], focal_gamma=gamma, return_grad=True)
        with mpmath.workdps(50):
            z = [mpmath.mpf(float(v)) for v in x[0]]
            s = sum(mpmath.exp(v) for v in z)
            p = [mpmath.exp(v) / s for v in z]
            omp = 1 - p[0]
            want = -(omp ** gamma) * mpmath.log(p[0])
            # d/dz_0 of -(1 - p0)^g log p0, with dp0/dz0 = p0 (1 - p0)
            d0 = (gamma * omp ** (gamma - 1) * p[0] * mpmath.log(p[0]) - omp ** gamma) * omp
        np.testing.assert_allclose(loss, float(want), rtol=1e-12)
        np.testing.assert_allclose(grad[0, 0], float(d0), rtol=1e-12)


@pytest.mark.parametrize("z,cap,gamma", OPTIONS[1:])
def test_options_on_calls_the_fast_path_would_take(z, cap, gamma):
    # C-contiguous (N, K) logits and int64 labels with default keywords take the fast path of
    # small calls; with an option set they must not
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 4))
    y = rng.integers(0, 4, 6)
    loss, grad = cxent.cross_entropy(x, y, z_loss=z, softcap=cap, focal_gamma=gamma,
                                     return_grad=True)
    want, _ = ref_loss(x, y, z=z, cap=cap, gamma=gamma)
    np.testing.assert_allclose(loss, want, rtol=1e-12)
    g = central_difference(lambda a: float(ref_loss(a, y, z=z, cap=cap, gamma=gamma)[0]), x)
    np.testing.assert_allclose(grad, g, rtol=1e-5, atol=1e-8)
