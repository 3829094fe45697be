"""cxent.score's calibration figures (ECE, Brier score, mean entropy) against references
written plainly in float64 NumPy and scikit-learn's multiclass brier_score_loss; batch sizes do
not change them."""

import numpy as np
import pytest

import cxent


def ref_figures(x, y, n_bins=15):
    """(ece, brier, entropy) of (N, K) logits and labels, by the definitions."""
    x = x.astype(np.float64)
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    n, K = p.shape
    conf = p.max(axis=1)
    right = x[np.arange(n), y] >= x.max(axis=1)  # ties count in the label's favour
    ece = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        inb = (conf > lo) & (conf <= hi) if b else (conf <= hi)
        if inb.any():
            ece += inb.sum() / n * abs(right[inb].mean() - conf[inb].mean())
    onehot = np.eye(K)[y]
    brier = ((p - onehot) ** 2).sum(axis=1).mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1).mean()
    return ece, brier, ent


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("K", [2, 10, 300])
def test_figures_against_reference(K, dt):
    rng = np.random.default_rng(K)
    x = (rng.standard_normal((2000, K)) * 3).astype(dt)
    x[:5] = 0.0                 # conf = 1/K exactly, ties everywhere
    x[5, 0] = 60.0              # p = 1 to float precision
    y = rng.integers(0, K, 2000)
    tol = 1e-12 if dt == np.float64 else 2e-6
    for n_bins in (15, 7):
        r = cxent.score(x, y, n_bins=n_bins)
        ece, brier, ent = ref_figures(x, y, n_bins)
        np.testing.assert_allclose([r.ece, r.brier, r.entropy], [ece, brier, ent], rtol=tol,
                                   atol=tol)
        assert r.n_bins == n_bins


def test_brier_against_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((500, 6)) * 2
    y = rng.integers(0, 6, 500)
    r = cxent.score(x, y)
    p = cxent.softmax(x)
    want = metrics.brier_score_loss(y, p, labels=np.arange(6))
    np.testing.assert_allclose(r.brier, want, rtol=1e-12)


def test_batches_give_the_figures_of_one_pass():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1001, 37)).astype(np.float32)
    y = rng.integers(0, 37, 1001)
    one = cxent.score(x, y, batch_size=10**6)
    for bs in (1, 7, 100, 1000):
        r = cxent.score(x, y, batch_size=bs)
        assert (r.n_samples, r.accuracy, r.topk_accuracy) == (one.n_samples, one.accuracy,
                                                              one.topk_accuracy)
        np.testing.assert_allclose([r.mean_loss, r.ece, r.brier, r.entropy],
                                   [one.mean_loss, one.ece, one.brier, one.entropy], rtol=1e-12)


def test_per_sample_losses_are_cross_entropys_bits():
    rng = np.random.default_rng(3)
    for K in (3, 40):
        x = rng.standard_normal((300, K)).astype(np.float32)
        y = rng.integers(0, K, 300)
        out = np.empty(300, np.float32)
        cxent.score(x, y, out=out)
        assert out.tobytes() == cxent.cross_entropy(x, y, reduction="none").tobytes()


def test_bad_n_bins_and_labels():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match="n_bins"):
        cxent.score(x, [0, 1, 2], n_bins=0)
    with pytest.raises(TypeError, match="n_bins"):
        cxent.score(x, [0, 1, 2], n_bins=2.5)
    with pytest.raises(ValueError, match=r"class index 4 at position \(1,\)"):
        cxent.score(x, [0, 4, 2])
    with pytest.raises(ValueError, match=r"class index -9223372036854775808 at position \(2,\)"):
        cxent.score(x, np.array([0, 1, -2**63]))


def test_bins_are_closed_on_the_right():
    # a confidence of exactly 1/2 belongs to the bin (0, 1/2], not to (1/2, 1]
    x = np.array([[0.0, 0.0], [np.log(3.0), 0.0]])   # confidences 1/2 and 3/4
    y = np.array([0, 1])                             # the first right (a tie), the second wrong
    r = cxent.score(x, y, n_bins=2)
    assert r.ece == pytest.approx(0.5 * abs(1 - 0.5) + 0.5 * abs(0 - 0.75), rel=1e-12)
    np.testing.assert_allclose(r.ece, ref_figures(x, y, 2)[0], rtol=1e-12)
    # every row tied: confidence 1/K, every label counted right (ties in its favour)
    r = cxent.score(np.zeros((3, 15)), [0, 1, 2], n_bins=15)
    assert r.ece == pytest.approx(abs(1.0 - 1 / 15), rel=1e-12)
