"""Large outputs on kept blocks (cxent._memory): an output's memory is reused only once the
array and every view of it are gone, the values are those of a new array, and what is kept is
bounded and can be released."""

import threading

import numpy as np
import pytest

import cxent
from cxent import _memory


@pytest.fixture
def small_blocks(monkeypatch):
    # outputs of more than 256 bytes take the large outputs' path; nothing kept before or after
    monkeypatch.setattr(_memory, "NEW_PAGES_BYTES", 256)
    _memory.release_memory()
    yield
    _memory.release_memory()


def _address(a):
    return a.__array_interface__["data"][0]


def _reference_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_a_dropped_output_lends_its_memory_to_the_next(small_blocks, rng):
    x = rng.standard_normal((50, 8))
    p = cxent.softmax(x)
    assert type(p) is np.ndarray and p.flags.c_contiguous and p.flags.writeable
    assert p.shape == x.shape and p.dtype == x.dtype
    first = _address(p)
    del p
    q = cxent.softmax(x * 2.0)
    assert _address(q) == first
    np.testing.assert_allclose(q, _reference_softmax(x * 2.0), rtol=1e-15, atol=0)


def test_a_view_keeps_the_memory_of_its_output(small_blocks, rng):
    x = rng.standard_normal((50, 8))
    p = cxent.softmax(x)
    row = p[3]
    col = p.T[:, 5]
    kept = row.copy(), col.copy()
    first = _address(p)
    del p
    q = cxent.softmax(-x)  # must not be written over the rows still seen through row / col
    assert _address(q) != first
    np.testing.assert_array_equal(row, kept[0])
    np.testing.assert_array_equal(col, kept[1])
    del row, col, q
    assert _address(cxent.softmax(x)) == first  # kept first, taken first


def test_gradients_on_kept_blocks_are_those_of_new_arrays(small_blocks, rng):
    x = rng.standard_normal((40, 7))
    y = rng.integers(0, 7, 40)
    p = _reference_softmax(x)
    onehot = np.eye(7)[y]
    for _ in range(3):  # new block, then kept ones holding the previous call's values
        loss, grad = cxent.cross_entropy(x, y, return_grad=True)
        np.testing.assert_allclose(grad, (p - onehot) / 40, rtol=1e-13, atol=1e-17)
        np.testing.assert_allclose(loss, -np.mean(np.log(p[np.arange(40), y])), rtol=1e-14)
        x = x[::-1].copy()
        y = y[::-1].copy()
        p = p[::-1]
        onehot = onehot[::-1]


def test_blocks_are_matched_by_size(small_blocks, rng):
    a = cxent.softmax(rng.standard_normal((30, 8)))
    first = _address(a)
    del a
    b = cxent.softmax(rng.standard_normal((31, 8)))  # another size: a new block
    assert _address(b) != first
    c = cxent.softmax(rng.standard_normal((60, 4)))  # the same number of bytes: the kept one
    assert _address(c) == first and c.shape == (60, 4)


def test_any_kept_block_is_found(small_blocks, rng):
    # several kept blocks, of other sizes and of the same size: the one asked for is found
    # wherever it sits (a search by ==, as ndarrays compare, would fail or compare elements)
    a, b, c = (cxent.softmax(np.zeros((n, 8))) for n in (10, 11, 11))
    where = [_address(a), _address(b), _address(c)]
    del a, b, c
    assert [blk.nbytes for blk in _memory._free] == [640, 704, 704]
    d = cxent.softmax(rng.standard_normal((11, 8)))
    assert _address(d) == where[1]
    e = cxent.softmax(rng.standard_normal((11, 8)))
    assert _address(e) == where[2]
    assert [blk.nbytes for blk in _memory._free] == [640]


def test_what_is_kept_is_bounded_and_released(small_blocks, monkeypatch, rng):
    n = _memory.KEEP_BLOCKS + 3
    outs = [cxent.softmax(rng.standard_normal((10 + i, 8))) for i in range(n)]
    sizes = [o.nbytes for o in outs]
    while outs:
        outs.pop(0)  # dropped in order: the last ones are the most recently freed
    assert len(_memory._free) == _memory.KEEP_BLOCKS  # the most recently freed
    assert sorted(b.nbytes for b in _memory._free) == sorted(sizes)[-_memory.KEEP_BLOCKS:]
    assert _memory.release_memory() == sum(sorted(sizes)[-_memory.KEEP_BLOCKS:])
    assert len(_memory._free) == 0 and _memory.release_memory() == 0
    monkeypatch.setattr(_memory, "keep_bytes", 1000)
    a, b = cxent.softmax(np.zeros((20, 8))), cxent.softmax(np.zeros((10, 8)))  # 1280, 640 bytes
    del a, b
    assert [blk.nbytes for blk in _memory._free] == [640]
    a = cxent.softmax(np.zeros((20, 8)))
    del a  # more than the limit alone: not kept, and the kept block stays
    assert [blk.nbytes for blk in _memory._free] == [640]
    monkeypatch.setattr(_memory, "keep_bytes", 0)
    assert _memory.release_memory() == 640
    p = cxent.softmax(np.zeros((20, 8)))
    del p
    assert len(_memory._free) == 0


def test_keep_bytes_from_the_environment(monkeypatch):
    for text, want in (("", 1 << 30), ("0", 0), (" 5000 ", 5000), ("-3", 0)):
        monkeypatch.setenv("CXENT_KEEP_BYTES", text)
        assert _memory._keep_bytes_from_env() == want
    monkeypatch.setenv("CXENT_KEEP_BYTES", "1GB")
    with pytest.warns(RuntimeWarning, match="CXENT_KEEP_BYTES='1GB' is not a whole number"):
        assert _memory._keep_bytes_from_env() == 1 << 30


def test_small_outputs_are_plain_arrays(rng):
    p = cxent.softmax(rng.standard_normal((5, 3)))
    assert p.base is None and p.flags.owndata


def test_large_outputs_from_many_threads(small_blocks, rng):
    # threads allocate and drop outputs of a few sizes at once: each result is its own call's
    xs = [rng.standard_normal((20 + 5 * (i % 3), 9)) for i in range(8)]
    ys = [rng.integers(0, 9, len(x)) for x in xs]
    want = []
    for x, y in zip(xs, ys, strict=True):
        loss, grad = cxent.cross_entropy(x, y, return_grad=True, n_threads=1)
        want.append((loss, grad.copy()))
    errors = []

    def work(i):
        try:
            for _ in range(200):
                loss, grad = cxent.cross_entropy(xs[i], ys[i], return_grad=True, n_threads=1)
                if loss != want[i][0] or not np.array_equal(grad, want[i][1]):
                    errors.append(i)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(_memory._free) <= _memory.KEEP_BLOCKS


def test_one_large_call_reuses_its_block(rng):
    # the real threshold: a 4,194,305-element float64 gradient (just over 32 MiB)
    _memory.release_memory()
    x = rng.standard_normal((838_861, 5)).astype(np.float64)
    y = rng.integers(0, 5, len(x))
    g1 = cxent.cross_entropy(x, y, return_grad=True, reduction="sum")[1]
    assert g1.nbytes > _memory.NEW_PAGES_BYTES and _memory.new_pages(g1)
    first = _address(g1)
    expect = g1[:1000].copy()
    del g1
    g2 = cxent.cross_entropy(x, y, return_grad=True, reduction="sum")[1]
    assert _address(g2) == first and not _memory.new_pages(g2)
    np.testing.assert_array_equal(g2[:1000], expect)
    del g2
    assert _memory.release_memory() == 838_861 * 5 * 8
