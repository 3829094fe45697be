"""Scale: batch scoring (cxent.score and `python -m cxent score`), linear_cross_entropy, Dask."""

import subprocess
import sys
import threading
import tracemalloc

import numpy as np
import pytest

import cxent
from conftest import ref_ce, ref_ce_probs, ref_log_softmax, ref_logsumexp, ref_xent_labels


def _ref_score(x, y, k):
    lp = ref_log_softmax(x.astype(np.float64))
    loss = -lp[np.arange(len(y)), y]
    rank = (x > x[np.arange(len(y)), y][:, None]).sum(1)
    return loss, (rank == 0).mean(), (rank < k).mean()


@pytest.mark.parametrize("batch_size", [1, 7, 1000, None])
def test_score_matches_reference(tmp_path, batch_size, rng):
    x = rng.standard_normal((503, 11)).astype(np.float32)
    y = rng.integers(0, 11, 503)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    xm = np.load(tmp_path / "x.npy", mmap_mode="r")
    ym = np.load(tmp_path / "y.npy", mmap_mode="r")
    out = np.lib.format.open_memmap(tmp_path / "l.npy", mode="w+", dtype=np.float32,
                                    shape=(503,))
    seen = []
    res = cxent.score(xm, ym, batch_size=batch_size, topk=3, out=out, progress=seen.append)
    loss, acc, top3 = _ref_score(x, y, 3)
    np.testing.assert_allclose(res.mean_loss, loss.mean(), rtol=1e-6)
    np.testing.assert_allclose(out, loss, rtol=2e-6)
    assert res.n_samples == 503
    assert res.accuracy == acc
    assert res.topk_accuracy == top3
    assert seen[-1] == 503
    assert res.samples_per_second > 0


def test_score_errors(rng):
    x = rng.standard_normal((5, 3))
    with pytest.raises(ValueError, match=r"labels have shape \(4,\)"):
        cxent.score(x, np.zeros(4, int))
    with pytest.raises(ValueError,
                       match=r"labels hold class index 3 at position \(2,\), outside \[0, 3\)"):
        cxent.score(x, np.array([0, 1, 3, 0, 0]), batch_size=2)
    with pytest.raises(TypeError, match="labels must hold integer class indices; got dtype float"):
        cxent.score(x, np.zeros(5))
    with pytest.raises(ValueError, match=r"logits must have shape \(n_samples, n_classes\)"):
        cxent.score(x[0], np.zeros(3, int))
    with pytest.raises(ValueError, match="logits have no classes"):
        cxent.score(np.zeros((5, 0)), np.zeros(5, int))
    with pytest.raises(ValueError, match="topk must be a positive integer"):
        cxent.score(x, np.zeros(5, int), topk=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        cxent.score(x, np.zeros(5, int), batch_size=0)
    with pytest.raises(ValueError, match=r"out has shape \(4,\), expected \(5,\)"):
        cxent.score(x, np.zeros(5, int), out=np.zeros(4))
    with pytest.raises(TypeError, match=r"out must be a numpy\.ndarray, got list"):
        cxent.score(x, np.zeros(5, int), out=[0.0] * 5)
    for k in (2.7, True, "3"):
        with pytest.raises(TypeError, match="topk must be a positive integer"):
            cxent.score(x, np.zeros(5, int), topk=k)
    # the most negative int64 is an invalid label like any other (not an IndexError)
    with pytest.raises(ValueError, match=r"class index -9223372036854775808 at position \(3,\)"):
        cxent.score(x, np.array([0, 1, 2, -(2**63), 0]), batch_size=2)
    with pytest.raises(ValueError, match="n_threads"):
        cxent.score(x, np.zeros(5, int), n_threads=0)
    with pytest.raises(ValueError, match=r"class index -1 at position \(4,\)"):
        cxent.score(x, np.array([0, 1, 2, 0, -1]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_score_ties_threads_and_dtypes(dtype, force_parallel):
    # ties count in the label's favour for accuracy and top-k
    x = np.array([[1, 1, 0], [0, 2, 2], [3, 1, 2], [0, 0, 0], [1, 2, 3]], dtype)
    y = np.array([1, 2, 1, 2, 0])
    res = cxent.score(x, y, topk=2, n_threads=2, batch_size=2)
    assert res.accuracy == 3 / 5
    assert res.topk_accuracy == 3 / 5
    assert res.topk == 2
    loss, _, _ = _ref_score(x.astype(np.float64), y, 2)
    np.testing.assert_allclose(res.mean_loss, loss.mean(), rtol=1e-6)
    assert cxent.score(x, y, topk=3).topk_accuracy == 1.0
    assert cxent.score(x, y, topk=1).topk_accuracy == res.accuracy


def test_score_from_many_threads(rng):
    x = rng.standard_normal((4000, 20))
    y = rng.integers(0, 20, 4000)
    want = cxent.score(x, y)
    got = []

    def run():
        got.append(cxent.score(x, y, batch_size=333))

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(g.accuracy == want.accuracy for g in got)
    np.testing.assert_allclose([g.mean_loss for g in got], want.mean_loss, rtol=1e-12)


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "cxent", "score", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def test_score_command(tmp_path, rng):
    x = rng.standard_normal((1000, 10))
    y = rng.integers(0, 10, 1000)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    res = _cli("x.npy", "y.npy", "--out", "l.npy", "--batch-size", "128", "--topk", "3",
               cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    loss, acc, top3 = _ref_score(x, y, 3)
    out = dict(line.split(None, 1) if not line.startswith(("mean", "top")) else
               (line[:20].strip(), line[20:]) for line in res.stdout.splitlines())
    assert float(out["mean cross-entropy"]) == pytest.approx(loss.mean(), abs=1e-6)
    assert float(out["accuracy"]) == pytest.approx(acc, abs=1e-4)
    assert float(out["top-3 accuracy"]) == pytest.approx(top3, abs=1e-4)
    np.testing.assert_allclose(np.load(tmp_path / "l.npy"), loss, rtol=1e-12)
    # errors: exit code 2 and a clear message
    np.save(tmp_path / "short.npy", y[:10])
    bad = y.copy()
    bad[5] = 10
    np.save(tmp_path / "bad.npy", bad)
    for args, msg in [(("nope.npy", "y.npy"), "no such file: nope.npy"),
                      (("x.npy", "short.npy"), "short.npy has shape (10,) but x.npy has 1000"),
                      (("x.npy", "bad.npy"), "class index 10 at position (5,)")]:
        res = _cli(*args, cwd=tmp_path)
        assert res.returncode == 2
        assert msg in res.stderr


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 3])
def test_linear_cross_entropy_against_reference(dtype, reduction, with_bias, ignore_index, rng,
                                                force_parallel):
    N, D, V = 300, 16, 97
    h = rng.standard_normal((N, D)).astype(dtype)
    W = (rng.standard_normal((V, D)) * 0.3).astype(dtype)
    b = rng.standard_normal(V).astype(dtype) if with_bias else None
    y = rng.integers(0, V, N)
    y[::13] = ignore_index
    loss, (gh, gw, gb) = cxent.linear_cross_entropy(
        h, W, y, bias=b, return_grad=True, chunk_size=37, reduction=reduction,
        label_smoothing=0.1, ignore_index=ignore_index, n_threads=2)
    h64, W64 = h.astype(np.float64), W.astype(np.float64)
    z = h64 @ W64.T + (0 if b is None else b.astype(np.float64))
    want, g = ref_ce(z, y, None, ignore_index, 0.1, reduction)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    assert loss.dtype == dtype and gh.dtype == dtype and gw.dtype == dtype
    np.testing.assert_allclose(loss, want, rtol=tol)
    np.testing.assert_allclose(gh, g @ W64, rtol=tol, atol=tol * np.abs(g @ W64).max())
    np.testing.assert_allclose(gw, g.T @ h64, rtol=tol * 10, atol=tol * np.abs(g.T @ h64).max())
    if with_bias:
        np.testing.assert_allclose(gb, g.sum(0), rtol=tol * 10, atol=tol * np.abs(g).max())
    else:
        assert gb is None
    # the loss alone, and the same call in one chunk, agree
    alone = cxent.linear_cross_entropy(h, W, y, bias=b, reduction=reduction,
                                       label_smoothing=0.1, ignore_index=ignore_index)
    np.testing.assert_allclose(alone, loss, rtol=tol)


@pytest.mark.parametrize(("args", "kw", "exc", "msg"), [
    (((3, 4), (5, 3), (3,)), {}, ValueError, r"hidden \(N, D\) and weight \(V, D\) must share D"),
    (((3, 4), (0, 4), (3,)), {}, ValueError, r"weight has no rows"),
    (((3, 4), (5, 4), (3,)), {"bias": np.zeros(4)}, ValueError, r"bias must have shape \(5,\)"),
    (((3, 4), (5, 4), (4,)), {}, ValueError, r"target of class indices has shape \(4,\)"),
    (((3, 4), (5, 4), "float"), {}, TypeError, r"target must hold integer class indices"),
    (((3, 4), (5, 4), "bad"), {}, ValueError, r"class index 5 at position \(1,\)"),
    (((3, 4), (5, 4), (3,)), {"reduction": "avg"}, ValueError, r"reduction"),
    (((3, 4), (5, 4), (3,)), {"label_smoothing": 2.0}, ValueError, r"label_smoothing"),
    (((3, 4), (5, 4), (3,)), {"ignore_index": 0.5}, TypeError, r"ignore_index"),
    (((3, 4), (5, 4), (3,)), {"n_threads": 0}, ValueError, r"n_threads"),
])
def test_linear_cross_entropy_errors(args, kw, exc, msg):
    hs, ws, ts = args
    t = {"float": np.zeros(3), "bad": np.array([0, 5, 1])}.get(ts) if isinstance(ts, str) \
        else np.zeros(ts, np.int64)
    with pytest.raises(exc, match=msg):
        cxent.linear_cross_entropy(np.zeros(hs), np.zeros(ws), t, **kw)


def test_linear_cross_entropy_against_torch(rng):
    torch = pytest.importorskip("torch")
    N, D, V = 64, 8, 50
    h = rng.standard_normal((N, D))
    W = rng.standard_normal((V, D))
    b = rng.standard_normal(V)
    y = rng.integers(0, V, N)
    th, tw, tb = (torch.tensor(a, requires_grad=True) for a in (h, W, b))
    tl = torch.nn.functional.cross_entropy(torch.nn.functional.linear(th, tw, tb),
                                           torch.tensor(y))
    tl.backward()
    loss, (gh, gw, gb) = cxent.linear_cross_entropy(h, W, y, bias=b, return_grad=True,
                                                    chunk_size=10)
    np.testing.assert_allclose(loss, tl.item(), rtol=1e-12)
    for ours, theirs in ((gh, th), (gw, tw), (gb, tb)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_linear_cross_entropy_peak_memory_is_a_small_fraction(rng):
    N, D, V = 2048, 32, 8192
    h = rng.standard_normal((N, D)).astype(np.float32)
    W = (rng.standard_normal((V, D)) * 0.1).astype(np.float32)
    y = rng.integers(0, V, N)
    full = N * V * 4
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    loss, _ = cxent.linear_cross_entropy(h, W, y, return_grad=True, chunk_size=128)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    # two chunks of logits (2 x 4 MiB) plus the gradients (V x D, N x D): not the 64 MiB logits
    chunks = 2 * 128 * V * 4
    grads = (2 * V * D + N * D) * 4
    assert peak < chunks + grads + (1 << 20), (peak, chunks, grads)
    assert peak < 0.2 * full
    want = ref_xent_labels(h.astype(np.float64) @ W.T.astype(np.float64), y).mean()
    np.testing.assert_allclose(loss, want, rtol=2e-6)


@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    # ":0": the dashboard on any free port (None still takes 8787), so that suites run side by
    # side (test_isa.py's sweep of the other builds) do not collide
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=40)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_on_a_local_cluster(dask_client, rng):
    import dask.array as da

    import cxent.dask as cxd

    x = rng.standard_normal((2000, 9))
    y = rng.integers(0, 9, 2000)
    y[::7] = -100
    w = rng.random(9) + 0.5
    X = da.from_array(x, chunks=(300, 9))
    Y = da.from_array(y, chunks=(500,))
    for kw in ({}, {"weight": w}, {"label_smoothing": 0.2}, {"reduction": "sum"}):
        got = cxd.cross_entropy(X, Y, **kw).compute()
        np.testing.assert_allclose(got, cxent.cross_entropy(x, y, **kw), rtol=1e-12)
    np.testing.assert_allclose(cxd.cross_entropy(X, Y, reduction="none").compute(),
                               cxent.cross_entropy(x, y, reduction="none"), rtol=1e-15)
    np.testing.assert_allclose(cxd.softmax(X).compute(), cxent.softmax(x), rtol=1e-15)
    np.testing.assert_allclose(cxd.log_softmax(X, axis=0).compute(),
                               cxent.log_softmax(x, axis=0), rtol=1e-14)
    np.testing.assert_allclose(cxd.logsumexp(X).compute(), cxent.logsumexp(x), rtol=1e-15)
    # probability targets and PyTorch's layout (classes along axis 1)
    t = cxent.softmax(rng.standard_normal((2000, 9)))
    got = cxd.cross_entropy(X, da.from_array(t, chunks=(400, 9))).compute()
    np.testing.assert_allclose(got, cxent.cross_entropy(x, t), rtol=1e-12)
    x3 = rng.standard_normal((40, 5, 6))
    y3 = rng.integers(0, 5, (40, 6))
    got = cxd.cross_entropy(da.from_array(x3, chunks=(7, 5, 3)), da.from_array(y3, chunks=7),
                            axis=1).compute()
    np.testing.assert_allclose(got, cxent.cross_entropy(x3, y3, axis=1), rtol=1e-12)
    # the work ran on the workers
    assert len(dask_client.scheduler_info()["workers"]) == 2


def test_dask_wrappers_against_references(rng):
    da = pytest.importorskip("dask.array")
    import cxent.dask as cxd

    x = rng.standard_normal((60, 4, 7))
    X = da.from_array(x, chunks=(13, 2, 7))
    for axis in (-1, 1, 0):
        for keepdims in (False, True):
            got = cxd.logsumexp(X, axis=axis, keepdims=keepdims).compute()
            want = ref_logsumexp(x, axis)
            want = np.expand_dims(want, axis) if keepdims else want
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-14)
        want = np.moveaxis(ref_log_softmax(np.moveaxis(x, axis, -1)), -1, axis)
        np.testing.assert_allclose(cxd.log_softmax(X, axis=axis).compute(), want, rtol=1e-13)
        np.testing.assert_allclose(cxd.softmax(X, axis=axis).compute(), np.exp(want),
                                   rtol=1e-13)
    # class indices, classes along axis 1, weights and ignored positions
    y = rng.integers(0, 4, (60, 7))
    y[::5, 2] = -100
    w = rng.random(4) + 0.5
    Y = da.from_array(y, chunks=(13, 7))
    for red in ("mean", "sum", "none"):
        got = cxd.cross_entropy(X, Y, axis=1, weight=w, reduction=red).compute()
        np.testing.assert_allclose(got, ref_ce(x, y, w, reduction=red)[0], rtol=1e-13)
    # probability targets, every reduction
    t = rng.random(x.shape)
    t /= t.sum(1, keepdims=True)
    T = da.from_array(t, chunks=(13, 2, 7))
    for red in ("mean", "sum", "none"):
        got = cxd.cross_entropy(X, T, axis=1, label_smoothing=0.2, reduction=red).compute()
        np.testing.assert_allclose(got, ref_ce_probs(x, t, None, 0.2, red)[0], rtol=1e-13)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_linear_cross_entropy_sample_weight(reduction, rng):
    N, D, V = 90, 6, 23
    h = rng.standard_normal((N, D))
    W = rng.standard_normal((V, D)) * 0.5
    y = rng.integers(0, V, N)
    y[::9] = 4
    sw = rng.random(N) * 2
    sw[::11] = 0.0
    loss, (gh, gw, _) = cxent.linear_cross_entropy(h, W, y, ignore_index=4, sample_weight=sw,
                                                   reduction=reduction, return_grad=True,
                                                   chunk_size=16)
    want, g = ref_ce(h @ W.T, y, None, 4, 0.0, reduction, sw=sw)
    np.testing.assert_allclose(loss, want, rtol=1e-12)
    np.testing.assert_allclose(gh, g @ W, rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(gw, g.T @ h, rtol=1e-11, atol=1e-15)


def test_dask_sample_weight(rng):
    da = pytest.importorskip("dask.array")
    import cxent.dask as cxd

    x = rng.standard_normal((50, 6))
    y = rng.integers(0, 6, 50)
    y[::4] = -100
    sw = rng.random(50)
    w = rng.random(6) + 0.5
    X, Y = da.from_array(x, chunks=(7, 6)), da.from_array(y, chunks=7)
    for red in ("mean", "sum", "none"):
        got = cxd.cross_entropy(X, Y, weight=w, sample_weight=da.from_array(sw, chunks=13),
                                reduction=red).compute()
        np.testing.assert_allclose(got, ref_ce(x, y, w, reduction=red, sw=sw)[0], rtol=1e-13)
