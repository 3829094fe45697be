"""cxent.fit_temperature against scikit-learn's temperature scaling and a float64 NumPy
minimisation written plainly."""

import numpy as np
import pytest

import cxent


def _data(n=5000, K=7, factor=3.0, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, K)) * 1.5
    p = cxent.softmax(z)
    y = (p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    return factor * z, np.minimum(y, K - 1)


def ref_temperature(x, y, sw=None):
    """argmin over T of the mean cross-entropy of x / T: a fine grid in log T, then golden
    section, in float64 NumPy."""
    sw = np.ones(len(y)) if sw is None else sw

    def loss(logt):
        z = x / np.exp(logt)
        m = z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0]
        return np.dot(sw, lse - z[np.arange(len(y)), y]) / sw.sum()

    grid = np.linspace(-5, 5, 201)
    i = int(np.argmin([loss(g) for g in grid]))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, 200)]
    r = (np.sqrt(5) - 1) / 2
    for _ in range(80):
        c, d = b - r * (b - a), a + r * (b - a)
        if loss(c) < loss(d):
            b = d
        else:
            a = c
    return float(np.exp((a + b) / 2))


@pytest.mark.parametrize("factor", [0.2, 1.0, 3.0, 20.0])
def test_against_reference(factor):
    x, y = _data(factor=factor)
    T, info = cxent.fit_temperature(x, y, return_info=True)
    np.testing.assert_allclose(T, ref_temperature(x, y), rtol=1e-6)
    assert info["passes"] <= 15
    assert abs(info["gradient"]) < 1e-8


def test_against_scikit_learn():
    calibration = pytest.importorskip("sklearn.calibration")
    x, y = _data(n=20000, K=10)
    sw = np.random.default_rng(1).random(len(y))
    for w in (None, sw):
        want = 1 / calibration._TemperatureScaling().fit(x, y, sample_weight=w).beta_
        np.testing.assert_allclose(cxent.fit_temperature(x, y, sample_weight=w), want,
                                   rtol=1e-4)


def test_float32_layouts_and_weights():
    x, y = _data(K=4)
    T64 = cxent.fit_temperature(x, y)
    np.testing.assert_allclose(cxent.fit_temperature(x.astype(np.float32), y), T64, rtol=1e-5)
    # classes along axis 1 of an (N, K, 1) array; the same positions
    np.testing.assert_allclose(cxent.fit_temperature(x[:, :, None], y[:, None], axis=1), T64,
                               rtol=1e-12)
    sw = np.random.default_rng(2).random(len(y))
    np.testing.assert_allclose(cxent.fit_temperature(x, y, sample_weight=sw),
                               ref_temperature(x, y, sw), rtol=1e-6)
    # duplicated rows = a weight of 2
    np.testing.assert_allclose(cxent.fit_temperature(np.vstack([x, x[:100]]),
                                                     np.concatenate([y, y[:100]])),
                               cxent.fit_temperature(x, y, sample_weight=np.r_[np.full(100, 2.0),
                                                                               np.ones(len(y)
                                                                                       - 100)]),
                               rtol=1e-9)


def test_errors_from_the_label_pipeline():
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"labels hold class index 3 at position \(2,\)"):
        cxent.fit_temperature(x, np.array([0, 1, 3, 2]))
    with pytest.raises(ValueError, match=r"class index -1 at position \(0,\)"):
        cxent.fit_temperature(x, np.array([-1, 1, 0, 2]))
    with pytest.raises(TypeError, match="integer class indices"):
        cxent.fit_temperature(x, np.zeros(4))
    with pytest.raises(ValueError, match="sample_weight"):
        cxent.fit_temperature(x, [0, 1, 2, 0], sample_weight=[1, -1, 1, 1])


def test_kernel_derivatives_against_differences():
    # the fused pass's first and second derivatives in beta, with sample weights, against
    # central differences of its own (weighted) loss
    from cxent._isa import kernels

    x, y = _data(n=300, K=6)
    sw = np.random.default_rng(3).random(300) * 2
    rows, lab, w = x.reshape(1, 300, 6), y.reshape(1, 300), sw.reshape(1, 300)

    def stats(beta):
        return kernels.temperature_stats(rows, lab, sample_weight=w, beta=beta, n_threads=1)

    h = 1e-4
    for beta in (0.2, 0.7, 1.5):
        loss, d1, d2, bad = stats(beta)
        assert bad == -1
        lp, d1p = stats(beta + h)[:2]
        lm, d1m = stats(beta - h)[:2]
        np.testing.assert_allclose(d1, (lp - lm) / (2 * h), rtol=1e-7)
        np.testing.assert_allclose(d2, (d1p - d1m) / (2 * h), rtol=1e-7)
        z = beta * x
        m = z.max(axis=1, keepdims=True)
        per = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0] - z[np.arange(300), y]
        np.testing.assert_allclose(loss, np.dot(sw, per), rtol=1e-13)
