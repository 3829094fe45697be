"""The compiled layer's two paths give the same bits.

With at most 64 classes in float32 and 40 in float64 the kernels take rows a tile at a time (one
row per vector lane); with more, or when the tile path is switched off (``_set_small_k(0)``),
contiguous rows go in groups (each row's sums, then the group's logarithms one row per lane:
cross-entropy to 512 classes, log_softmax and logsumexp in float32 to 128) and longer or
strided rows one by one.  All use the same per-row formulas (_rows.h), so every operation and
option must give bit-identical results on every path: the tiles, the groups (tile path off) and
the strided row loops.
"""

import contextlib
import itertools
import subprocess

import numpy as np
import pytest

import cxent
from cxent._isa import kernels

DTYPES = (np.float32, np.float64)
TILE_K = {np.float32: 64, np.float64: 40}  # the tiles' largest K (_simd.h, CX_SMALL_K_OF)
KS = (1, 2, 3, 5, 8, 13, 16, 17, 24, 32, 33, 40)
# (K, dtype) within the tiles' reach: past it, strided rows still sum element by element and
# contiguous ones by blocks of 16 lanes (the same formulas, another order of the additions)
KDT = [(K, dt) for dt in DTYPES for K in KS + ((41, 48, 57, 64) if dt is np.float32 else ())]


def _bits(a):
    a = np.ascontiguousarray(a)
    u = {4: np.uint32, 8: np.uint64}[a.dtype.itemsize]
    b = a.view(u).copy()
    b[np.isnan(a)] = 0  # nan payloads are not part of the contract
    return b


def _same(got, want):
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(_bits(g), _bits(w))


@pytest.fixture
def row_path():
    """Run the body with the tile path off (rows in groups, or one by one)."""
    old = kernels._set_small_k(0)
    try:
        yield
    finally:
        kernels._set_small_k(old)


def _logits(K, dt, seed=0):
    rng = np.random.default_rng(seed + K)
    x = rng.standard_normal((101, K)) * 4
    x[0] = 0.0                       # all equal
    x[1, 0] = 40.0                   # a confident row
    x[2, :] = x[2].max()             # tied maxima
    x[3, K // 2] = -np.inf           # a -inf logit (or a row of them when K == 1)
    x[4, 0] = np.nan                 # nan stays in its row
    x[5, -1] = np.inf                # +inf makes the row nan
    x[6] = -np.inf                   # a row without a maximum
    x[7] = rng.standard_normal(K) * 1e-3
    x[8, max(K - 16, 0)] = np.nan    # nan in a row's last 16 elements, in its first lane
    x[9, :] = -30.0
    x[9, 0], x[9, -1] = -0.0, 0.0    # a maximum of zeros of both signs
    x[40] = x[40].max()              # ties in a group of rows whose terms are all normal
    x[41, -1] = x[41, 0]             # (the tiles' short exp; for K = 2 its pairs)
    return x.astype(dt)


def _compare(fn, x):
    """fn(x, axis) on the tile path, then on the row path contiguous and strided."""
    tile = fn(x, -1)
    strided = fn(np.ascontiguousarray(x.T), 0)
    strided = tuple(np.moveaxis(s, 0, -1) if np.ndim(s) == 2 else s for s in strided) \
        if isinstance(strided, tuple) else (np.moveaxis(strided, 0, -1)
                                            if np.ndim(strided) == 2 else strided)
    old = kernels._set_small_k(0)
    try:
        rows = fn(x, -1)
    finally:
        kernels._set_small_k(old)
    _same(rows, tile)
    _same(strided, tile)


@pytest.mark.parametrize("K,dt", KDT)
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_family(op, K, dt):
    x = _logits(K, dt)
    f = getattr(cxent, op)
    with np.errstate(invalid="ignore"):
        _compare(lambda a, ax: f(a, axis=ax), x)


LABEL_OPTIONS = list(itertools.product(
    (False, True),           # class weights
    (0.0, 0.3),              # label smoothing
    (-100, 1),               # ignore_index outside / inside [0, K)
    (False, True),           # sample weights (some zero)
    ("none", "sum", "mean"),
))


@pytest.mark.parametrize("K,dt", KDT)
@pytest.mark.parametrize("weighted,eps,ignore,sampled,red", LABEL_OPTIONS)
def test_class_index_cross_entropy(K, dt, weighted, eps, ignore, sampled, red):
    x = _logits(K, dt)
    rng = np.random.default_rng(K)
    y = rng.integers(0, K, len(x))
    y[::7] = ignore
    w = (rng.random(K) + 0.5).astype(dt) if weighted else None
    sw = None
    if sampled:
        sw = rng.random(len(x)) * 2
        sw[::5] = 0.0
    with np.errstate(invalid="ignore"):
        _compare(lambda a, ax: cxent.cross_entropy(
            a, y, axis=ax, weight=w, ignore_index=ignore, label_smoothing=eps, sample_weight=sw,
            reduction=red, return_grad=True), x)


@pytest.mark.parametrize("K,dt", KDT)
@pytest.mark.parametrize("red", ["sum", "mean"])
def test_sample_weighted_reductions(K, dt, red):
    # finite logits (a nan row would make every sum nan and hide a difference): each path adds
    # the sample-weighted losses with the same rounding
    rng = np.random.default_rng(K)
    x = (rng.standard_normal((300, K)) * 3).astype(dt)
    y = rng.integers(0, K, len(x))
    sw = rng.random(len(x)) * 2
    _compare(lambda a, ax: cxent.cross_entropy(a, y, axis=ax, sample_weight=sw, reduction=red,
                                               return_grad=True), x)


@pytest.mark.parametrize("K,dt", KDT)
@pytest.mark.parametrize("weighted,eps,sampled", list(itertools.product(
    (False, True), (0.0, 0.2), (False, True))))
def test_probability_targets(K, dt, weighted, eps, sampled):
    x = _logits(K, dt)
    rng = np.random.default_rng(K)
    t = rng.random((len(x), K))
    if K > 1:
        t[::3, 0] = 0.0  # zero targets meet -inf logits
    t = (t / t.sum(axis=1, keepdims=True)).astype(dt)
    w = (rng.random(K) + 0.5).astype(dt) if weighted else None
    sw = None
    if sampled:
        sw = rng.random(len(x))
        sw[::4] = 0.0

    def f(a, ax):
        tt = t if ax == -1 else np.ascontiguousarray(t.T)
        return cxent.cross_entropy(a, tt, axis=ax, weight=w, label_smoothing=eps,
                                   sample_weight=sw, reduction="none", return_grad=True)

    with np.errstate(invalid="ignore"):
        _compare(f, x)


@pytest.mark.parametrize("K,dt", KDT)
def test_score(K, dt):
    # cxent.score's tiles (contiguous rows), rows (tile path off) and strided rows: the same
    # per-row losses and the same figures (each row's conf, rank, Brier term and entropy feed
    # them)
    x = _logits(K, dt)
    y = np.random.default_rng(K).integers(0, K, len(x))

    def run(a):
        out = np.empty(len(a), dt)
        r = cxent.score(a, y[-len(a):], out=out, topk=2)
        return out, np.array([r.mean_loss, r.ece, r.brier, r.entropy, r.accuracy,
                              r.topk_accuracy])

    for a in (x, x[10:]):  # (the figures of rows without nan, -inf or +inf too)
        with np.errstate(invalid="ignore"):
            tile = run(a)
            strided = run(np.asfortranarray(a))
            old = kernels._set_small_k(0)
            try:
                rows = run(a)
            finally:
                kernels._set_small_k(old)
        _same(rows, tile)
        _same(strided, tile)


def test_row_path_switch_is_restored(row_path):
    assert kernels._set_small_k(32) == 0
    kernels._set_small_k(0)


LOSS_OPTIONS = [  # (z_loss, softcap, focal_gamma, label smoothing, class weights, sample weights)
    (1e-3, None, 0.0, 0.0, False, False), (0.0, 3.0, 0.0, 0.2, True, False),
    (0.0, None, 2.0, 0.0, False, True), (0.0, None, 0.5, 0.3, True, True),
    (1e-2, 4.0, 1.5, 0.1, True, True),
]


@pytest.mark.parametrize("K,dt", KDT)
@pytest.mark.parametrize("z,cap,gamma,eps,weighted,sampled", LOSS_OPTIONS)
def test_loss_options(K, dt, z, cap, gamma, eps, weighted, sampled):
    x = _logits(K, dt)
    rng = np.random.default_rng(K)
    y = rng.integers(0, K, len(x))
    y[::7] = -100
    w = (rng.random(K) + 0.5).astype(dt) if weighted else None
    sw = rng.random(len(x)) if sampled else None
    t = rng.random((len(x), K))
    t = (t / t.sum(axis=1, keepdims=True)).astype(dt)
    opts = {"weight": w, "sample_weight": sw, "label_smoothing": eps, "z_loss": z,
            "softcap": cap, "focal_gamma": gamma, "return_grad": True, "return_lse": True,
            "reduction": "none"}

    def labels(a, ax):
        return cxent.cross_entropy(a, y, axis=ax, **opts)

    def probs(a, ax):
        return cxent.cross_entropy(a, t if ax == -1 else np.ascontiguousarray(t.T), axis=ax,
                                   **opts)

    with np.errstate(invalid="ignore", over="ignore"):
        _compare(labels, x)
        _compare(probs, x)


@pytest.mark.parametrize("K", [3, 40])
def test_the_first_bad_label_is_reported_across_blocks(K, force_parallel):
    # blocks hold 16384 / K rows; two invalid labels in different blocks: the first is named
    n = 3 * (16384 // K) + 5
    x = np.zeros((n, K), np.float32)
    y = np.zeros(n, np.int64)
    y[7], y[n - 3] = K, -5
    for kw in ({}, {"n_threads": 2}, {"reduction": "none", "return_grad": True}):
        with pytest.raises(ValueError, match=rf"class index {K} at position \(7,\)"):
            cxent.cross_entropy(x, y, **kw)
        with pytest.raises(ValueError, match=rf"class index {K} at position \(7,\)"):
            cxent.score(x, y)


@contextlib.contextmanager
def _streaming():
    """Every tile output copied out by non-temporal stores (where the rows allow them: 128 bytes
    or more, aligned), as outputs larger than the L3 cache are."""
    old = kernels._set_stream_bytes(0)
    try:
        yield
    finally:
        kernels._set_stream_bytes(old)


@pytest.fixture
def streamed():
    with _streaming():
        yield


def _streamed_vs_plain(fn):
    with _streaming():
        got = fn()
    _same(got, fn())


@pytest.mark.parametrize("K,dt", KDT + [(K, dt) for dt in DTYPES for K in (19, 21)])
# (float64 odd K from 19: by pairs of rows)
@pytest.mark.parametrize("offset", [0, 1])  # an output 16-byte aligned or not
def test_streamed_copy_out_same_bits(K, dt, offset):
    # 101 rows: three whole tiles and one of 5 rows (a group of 4 and one row alone)
    x = _logits(K, dt)
    rng = np.random.default_rng(K)
    y = rng.integers(0, K, len(x))
    y[::7] = -100
    sw = rng.random(len(x))
    sw[::5] = 0.0
    w = (rng.random(K) + 0.5).astype(dt)
    raw = np.empty(x.size + 8, dt)
    base = (-raw.ctypes.data // raw.itemsize) % (16 // raw.itemsize)  # 16-byte aligned
    out = raw[base + offset:base + offset + x.size].reshape(x.shape)

    def into(f):
        def g():
            out.fill(np.nan)  # every element must be written, not left from the last call
            f(out)
            return out.copy()
        return g

    calls = [
        lambda: cxent.cross_entropy(x, y, reduction="none", return_grad=True),
        lambda: cxent.cross_entropy(x, y, weight=w, label_smoothing=0.2, sample_weight=sw,
                                    reduction="none", return_grad=True),
        lambda: cxent.cross_entropy(x, y, z_loss=1e-3, reduction="none", return_grad=True),
        lambda: cxent.cross_entropy(x, y, softcap=3.0, reduction="none", return_grad=True),
        lambda: cxent.cross_entropy(x, y, return_grad=True, n_threads=2),
        into(lambda o: cxent.cross_entropy(x, y, return_grad=True, grad_out=o)),
        into(lambda o: cxent.softmax(x, out=o)),
        into(lambda o: cxent.log_softmax(x, out=o)),
        lambda: cxent.softmax(x, n_threads=2),
    ]
    with np.errstate(invalid="ignore"):
        for call in calls:
            _streamed_vs_plain(call)


@pytest.mark.parametrize("K", [19, 21, 25])
def test_streamed_odd_k_every_tile_shape(K):
    # float64 rows of odd K go out by pairs of rows: every row count of a tile (1-32, with and
    # without a whole group of 4), from a 16-byte aligned output and from one 8 bytes past it;
    # the elements just before and after the output are never written
    rng = np.random.default_rng(K)
    for n in list(range(1, 40)) + [63, 64, 65]:
        x = rng.standard_normal((n, K)) * 3
        y = rng.integers(0, K, n)
        raw = np.full(x.size + 6, -7.0)
        base = 2 + (-raw.ctypes.data // 8) % 2
        for offset in (0, 1):
            lo, hi = base + offset, base + offset + x.size
            raw.fill(-7.0)
            out = raw[lo:hi].reshape(x.shape)

            def grad(x=x, y=y, out=out):
                out.fill(np.nan)
                cxent.cross_entropy(x, y, return_grad=True, grad_out=out)
                return out.copy()

            def soft(x=x, out=out):
                out.fill(np.nan)
                cxent.softmax(x, out=out)
                return out.copy()

            _streamed_vs_plain(grad)
            _streamed_vs_plain(soft)
            assert (raw[:lo] == -7.0).all() and (raw[hi:] == -7.0).all()


@pytest.mark.parametrize("K,dt", [(32, np.float32), (16, np.float64), (21, np.float64),
                                  (33, np.float64)])
def test_streamed_copy_out_threads(force_parallel, K, dt):
    # several blocks on two threads, each ending with its store fence
    rng = np.random.default_rng(K)
    x = (rng.standard_normal((3000, K)) * 3).astype(dt)
    y = rng.integers(0, K, 3000)
    _streamed_vs_plain(lambda: cxent.cross_entropy(x, y, return_grad=True, n_threads=2))
    _streamed_vs_plain(lambda: cxent.softmax(x, n_threads=2))


@pytest.mark.parametrize("K,dt", [(32, np.float32), (16, np.float64)])
def test_streamed_gradient_against_formula(streamed, K, dt):
    # the label's entries of a streamed gradient, against the float64 formula p - onehot
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((1000, K)) * 3).astype(dt)
    y = rng.integers(0, K, 1000)
    _, g = cxent.cross_entropy(x, y, reduction="sum", return_grad=True)
    z = x.astype(np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(1000), y] -= 1.0
    np.testing.assert_allclose(g, p, rtol=1e-6, atol=1e-7)


def test_stream_switch_is_restored(streamed):
    assert kernels._set_stream_bytes(1 << 23) == 0
    kernels._set_stream_bytes(0)


def test_default_stream_threshold():
    # outputs stream from 8 MiB, or from the size of the L3 cache as glibc's sysconf reports
    # it (getconf asks the same), whichever is more; 8 MiB where the size is unknown
    default, l3_reported = kernels.stream_info()
    assert cxent.show_config("dicts")["stores"] == {"non_temporal_from": default,
                                                    "l3": l3_reported}
    try:
        out = subprocess.run(["getconf", "LEVEL3_CACHE_SIZE"], capture_output=True, text=True,
                             check=False).stdout.strip()
    except OSError:
        pytest.skip("no getconf here")
    l3 = int(out) if out.isdigit() else 0
    assert l3_reported == l3
    assert default == max(8 << 20, l3)


# ---- rows of normal terms: the exp without the tests for tiny, nan and infinite results ----

SPAN = {np.float32: 86.0, np.float64: 700.0}  # cx_max_*: the row's reach below its maximum


def _nan_with_payload(dt):
    """A quiet nan whose low bits are set: added to an exponent field, they would make it a
    number, so such a row must not take the short exp."""
    bits = {np.float32: np.uint32(0x7FC001FF), np.float64: np.uint64(0x7FF80000000001FF)}[dt]
    return np.array([bits]).view(dt)[0]


def _wide_logits(K, dt):
    # 14 rows at the edges of the short exp's rule, each in a group of 16 rows of its own (the
    # tiles decide for 16 rows at a time) among ordinary rows, at rows 16 i + 7
    rng = np.random.default_rng(K)
    x = rng.standard_normal((14, K)) * 3
    span = SPAN[dt]
    x[1, K // 2] = x[1].max() - (span - 0.5)  # a term near the smallest normal one: the short exp
    x[2, K // 2] = x[2].max() - (span + 0.5)  # just past the reach: the exp with its tests
    x[3, K // 3] = x[3].max() - 2000.0        # a term that is 0
    x[4, K // 4] = -np.inf
    x[5, K - 1] = np.inf                 # (in the row's last, overlapping block)
    x[6, K // 5] = np.nan
    x[7] = 1e30 * (1.0 + rng.standard_normal(K) * 1e-6)  # large logits within a small span
    x[8] = 0.0
    x[9, :] = x[9].max()                 # tied maxima
    x[10, K // 2] = x[10].max() + 30.0   # a confident row
    x = x.astype(dt)
    x[11, 0] = _nan_with_payload(dt)
    x[12, K - 1] = _nan_with_payload(dt)
    full = (rng.standard_normal((16 * 14, K)) * 3).astype(dt)
    full[7::16] = x
    return full


def test_which_rows_take_the_short_exp():
    for dt, span in SPAN.items():
        n = TILE_K[dt] + 1
        row = np.zeros(n, dt)
        assert kernels._fast_row(row)
        assert not kernels._fast_row(row[:-1])  # rows the tiles take: the element loop
        for i in (0, 17, n - 1):
            r = row.copy()
            r[i] = -(span - 1.0)
            assert kernels._fast_row(r), (dt, i)
            r[i] = -(span + 1.0)
            assert not kernels._fast_row(r), (dt, i)
            for v in (np.nan, _nan_with_payload(dt), np.inf, -np.inf):
                r[i] = v
                assert not kernels._fast_row(r), (dt, i, v)
        old = kernels._set_fast_rows(False)
        try:
            assert not kernels._fast_row(row)
        finally:
            assert kernels._set_fast_rows(old) is False


def test_which_tiles_take_the_short_exp():
    # the tiles decide for groups of 16 rows (cx_tile_rowsum): all of them must pass the rule
    for dt, span in SPAN.items():
        for K in (2, 4, 5, 40, TILE_K[dt]):
            tile = np.zeros((32, K), dt)
            assert kernels._fast_tile(tile) == 2, (dt, K)
            assert kernels._fast_tile(tile[:17]) == 2  # a partial group, zero-padded
            assert kernels._fast_tile(tile[:16]) == 1
            for r, k in ((0, 0), (17, K - 1), (31, K // 2)):
                t = tile.copy()
                t[r, k] = -(span - 1.0)
                assert kernels._fast_tile(t) == 2, (dt, K, r)
                t[r, k] = -(span + 1.0)
                assert kernels._fast_tile(t) == 1, (dt, K, r)
                for v in (np.nan, _nan_with_payload(dt), np.inf, -np.inf):
                    t = tile.copy()
                    t[r, k] = v
                    assert kernels._fast_tile(t) == 1, (dt, K, r, v)
            assert kernels._fast_tile(np.full((32, K), 1e30, dt)) == 2  # large, within the span
        assert kernels._fast_tile(np.zeros((32, 3), dt)) == 0  # (CX_TILE_FAST_K, but K = 2)
        old = kernels._set_fast_rows(False)
        try:
            assert kernels._fast_tile(np.zeros((32, 4), dt)) == 0
        finally:
            kernels._set_fast_rows(old)
    with pytest.raises(ValueError, match="1 to 32 rows of 1 to 40 classes, got 33 x 3"):
        kernels._fast_tile(np.zeros((33, 3)))
    with pytest.raises(ValueError, match="1 to 32 rows of 1 to 64 classes, got 1 x 65"):
        kernels._fast_tile(np.zeros((1, 65), np.float32))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("K", [3, 16, 17, 33, 40, 41, 64, 100, 1000])
def test_short_exp_same_bits(K, dt):
    x = _wide_logits(K, dt)
    y = np.arange(len(x)) % K
    t = np.random.default_rng(1).random(x.shape).astype(dt)
    t /= t.sum(axis=1, keepdims=True)
    calls = [
        lambda: cxent.softmax(x),
        lambda: cxent.log_softmax(x),
        lambda: cxent.logsumexp(x),
        lambda: cxent.cross_entropy(x, y, reduction="none", return_grad=True),
        lambda: cxent.cross_entropy(x, y, reduction="none", return_grad=True,
                                    label_smoothing=0.1, z_loss=1e-4),
        lambda: cxent.cross_entropy(x, y, reduction="none", return_grad=True, focal_gamma=2.0),
        lambda: cxent.cross_entropy(x, t, reduction="none", return_grad=True),
    ]
    short = [c() for c in calls]
    old = kernels._set_fast_rows(False)
    try:
        tested = [c() for c in calls]
    finally:
        kernels._set_fast_rows(old)
    for s, w in zip(short, tested, strict=True):
        _same(s, w)
    p = short[0]
    assert np.isnan(p[7::16][[5, 6, 11, 12]]).all()  # nan rows stay nan, whatever the payload
    assert np.isnan(p).sum() == 4 * K
    z = x[7:24:16].astype(np.float64)  # and the short exp's terms against float64
    ref = np.exp(z - z.max(axis=1, keepdims=True))
    ref /= ref.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p[7:24:16], ref, rtol=4 * np.finfo(dt).eps, atol=0)
