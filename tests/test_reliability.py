"""Reliability: bad input never crashes (each case in a fresh process), fuzzing against a float64
reference, no memory growth, 64-bit indexing, thread and fork safety, Ctrl-C."""

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cxent
from conftest import ISA_SWEEP, as_bits

# (code, exception type, message pattern): run each in a fresh interpreter, so that a crash is a
# failed test rather than a dead test run
BAD_INPUT = [
    ("cxent.softmax(['a', 'b'])", "TypeError", "x must hold real numbers; got an array of dtype"),
    ("cxent.softmax(np.array([1, None], dtype=object))", "TypeError", "dtype object"),
    ("cxent.log_softmax(np.array([1+1j]))", "TypeError", "dtype complex128"),
    ("cxent.cross_entropy(np.zeros((4, 3)), np.zeros(5, int))", "ValueError",
     r"target of class indices has shape \(5,\); logits of shape \(4, 3\)"),
    ("cxent.cross_entropy(np.zeros((4, 3)), [0, 1, 2, 3])", "ValueError",
     r"class index 3 at position \(3,\), outside \[0, 3\)"),
    ("cxent.cross_entropy(np.zeros((2, 3)), [0, 2**40])", "ValueError",
     r"class index 1099511627776 at position \(1,\)"),
    ("cxent.cross_entropy(np.zeros((2, 3)), [-5, 0])", "ValueError", "class index -5"),
    ("cxent.cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))", "TypeError",
     "target holds floats"),
    ("cxent.cross_entropy(np.zeros((2, 3)), [0, 1], weight=[1.0, 2.0])", "ValueError",
     r"weight must have shape \(3,\)"),
    ("cxent.cross_entropy(np.zeros((2, 0)), [0, 1])", "ValueError", "no classes"),
    ("cxent.cross_entropy(np.zeros((2, 3)), [0, 1], reduction='avg')", "ValueError",
     "reduction must be one of"),
    ("cxent.cross_entropy(np.zeros((2, 3)), [0, 1], label_smoothing=1.5)", "ValueError",
     r"label_smoothing must be in \[0, 1\]"),
    ("cxent.softmax(np.zeros((2, 3)), n_threads=0)", "ValueError", "n_threads must be"),
    ("cxent.softmax(np.zeros((2, 3)), n_threads=-1)", "ValueError", "n_threads must be"),
    ("cxent.softmax(np.zeros((2, 3)), axis=5)", "AxisError", "axis 5 is out of bounds"),
    ("cxent.softmax(np.zeros((2, 3)), out=np.zeros((3, 2)))", "ValueError",
     r"out has shape \(3, 2\), expected \(2, 3\)"),
    ("cxent.softmax(np.zeros((2, 3)), out=np.zeros((2, 3), np.float32))", "TypeError",
     "out has dtype float32"),
    ("cxent.logsumexp(np.zeros(3), b=np.zeros(4))", "ValueError",
     r"b of shape \(4,\) does not broadcast"),
    ("cxent.nll_loss(np.zeros((2, 3)), [0, 7])", "ValueError", "class index 7"),
    ("cxent.binary_cross_entropy_with_logits(np.zeros(3), np.zeros(2))", "ValueError",
     r"target has shape \(2,\)"),
    ("cxent.softmax_backward(np.zeros(3), np.zeros(4))", "ValueError", "grad_output has shape"),
    ("cxent.entropy([0.5, 0.5], base=-2)", "ValueError", "base must be"),
    ("cxent.cross_entropy(np.zeros((2, 3)), np.zeros((2, 3)), ignore_index=0)", "ValueError",
     "ignore_index is not supported"),
    ("cxent.log_loss([0, 1], [[0.5, 1.5], [0.5, 0.5]])", "ValueError",
     "y_prob contains values greater than 1"),
]


def test_bad_input_raises_in_a_fresh_process():
    # one interpreter runs every case, each guarded; a crash would end it with a signal
    code = textwrap.dedent("""
        import re, sys, numpy as np, cxent
        cases = {cases!r}
        for i, (src, exc, pat) in enumerate(cases):
            try:
                eval(src)
            except Exception as e:
                ok = type(e).__name__ == exc and re.search(pat, str(e))
                print(i, "ok" if ok else f"WRONG {{type(e).__name__}}: {{e}}", flush=True)
            else:
                print(i, "NO EXCEPTION", flush=True)
    """).format(cases=BAD_INPUT)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, f"crashed (returncode {res.returncode}): {res.stderr[-2000:]}"
    lines = res.stdout.split("\n")
    for i, case in enumerate(BAD_INPUT):
        assert f"{i} ok" in lines, (case, [ln for ln in lines if ln.startswith(f"{i} ")])


def test_empty_batches_behave_like_pytorch():
    x = np.zeros((0, 4))
    y = np.zeros(0, np.int64)
    assert cxent.cross_entropy(x, y, reduction="none").shape == (0,)
    assert np.isnan(cxent.cross_entropy(x, y))
    assert cxent.cross_entropy(x, y, reduction="sum") == 0.0


FINITE_EXTREMES = {  # zeros, subnormals, the largest magnitudes, values whose exp over/underflows
    np.float64: [0.0, -0.0, 1e-310, -1e-310, 5e-324, 1.0, -1.0, 30.0, -30.0, 700.0, -750.0,
                 1e308, -1e308],
    np.float32: [0.0, -0.0, 1e-40, -1e-40, 1.0, -1.0, 30.0, -30.0, 88.0, -104.0, 3e38, -3e38],
}


def assert_close(got, want, rtol, atol=0.0):
    """|got - want| <= rtol |want| + atol elementwise (atol may be an array), where `want` is
    first rounded to got's dtype (a float32 result is compared with the float32 rounding of the
    float64 reference: overflow to inf, underflow to 0); equal values (inf too) always pass."""
    got = np.asarray(got)
    with np.errstate(over="ignore"):
        want = np.asarray(want).astype(got.dtype).astype(np.float64)
    got = got.astype(np.float64)
    with np.errstate(invalid="ignore"):
        err = np.where(got == want, 0.0, np.abs(got - want))
    bound = rtol * np.abs(want) + atol
    assert np.all(err <= bound), (got, want)


def ref_rows(x):
    """float64 reference for rows of finite values: shift by the max; log of the sum as
    log1p(sum of the other terms), so that it stays accurate when they are tiny."""
    m = x.max(-1, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore"):
        d = x - m                      # may be -inf for |x| ~ 1e308: exp gives 0, as it should
        e = np.exp(d)
    np.put_along_axis(e, np.argmax(x, -1)[..., None], 0.0, -1)   # leave out one max term (=1)
    log_s = np.log1p(e.sum(-1, keepdims=True))
    return d - log_s, m[..., 0] + log_s[..., 0]


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_fuzz_every_function_against_float64_reference(data):
    ndim = data.draw(st.integers(1, 3))
    shape = data.draw(st.tuples(*[st.integers(1, 6)] * ndim))
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    elements = st.one_of(st.sampled_from(FINITE_EXTREMES[dtype]), st.floats(-50, 50, width=64))
    base = data.draw(hnp.arrays(np.float64, tuple(2 * n for n in shape), elements=elements))
    # strided / transposed / reversed views
    view = base[tuple(slice(None, None, data.draw(st.sampled_from([2, -2]))) for _ in shape)]
    if ndim > 1 and data.draw(st.booleans()):
        view = view.T
    x = view.astype(dtype) if dtype is np.float32 else view
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    x64 = np.moveaxis(x.astype(np.float64), axis, -1)
    ref_lsm, ref_lse = ref_rows(x64)
    tol = 1e-5 if dtype is np.float32 else 1e-12
    lsm = np.moveaxis(cxent.log_softmax(x, axis), axis, -1)
    assert_close(lsm, ref_lsm, tol, tol * (1 + np.abs(ref_lse[..., None])))
    lse = cxent.logsumexp(x, axis)
    # each exp is rounded in the working precision: terms below its smallest subnormal vanish
    # even where their sum would not, hence an absolute tolerance at that scale
    tiny = 8 * np.finfo(dtype).smallest_subnormal
    assert_close(lse, ref_lse, tol, tiny)
    p = np.moveaxis(cxent.softmax(x, axis).astype(np.float64), axis, -1)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-5)
    K = x64.shape[-1]
    y = data.draw(hnp.arrays(np.int64, x64.shape[:-1], elements=st.integers(0, K - 1)))
    loss, g = cxent.cross_entropy(x, y, axis=axis, reduction="none", return_grad=True)
    want = -np.take_along_axis(ref_lsm, y[..., None], -1)[..., 0]
    assert_close(loss, want, tol, tol * (1 + np.abs(ref_lse)))
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(np.moveaxis(g, axis, -1).astype(np.float64).sum(-1), 0.0,
                               atol=1e-5)
    bce = cxent.binary_cross_entropy_with_logits(x, (x > 0).astype(dtype), reduction="none")
    assert np.all(np.isfinite(bce))
    assert np.all(bce >= 0)


def _rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_no_memory_growth_over_100000_calls():
    x = np.random.default_rng(0).standard_normal((8, 5)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 4, 0, 1, 2])
    bad = y.copy()
    bad[3] = 9

    def burst(n):
        for _ in range(n):
            cxent.cross_entropy(x, y, return_grad=True)
            cxent.softmax(x)
            cxent.logsumexp(x, b=x)
        for _ in range(n // 10):
            with contextlib.suppress(ValueError):
                cxent.cross_entropy(x, bad)

    burst(5000)  # warm up caches and allocator pools
    before = _rss_kib()
    burst(100_000 // 3)
    grown = _rss_kib() - before
    assert grown < 4096, f"RSS grew by {grown} KiB"


@pytest.mark.skipif(not ISA_SWEEP, reason="large; run once, not per instruction-set build")
def test_zero_stride_view_of_4_billion_elements_without_copy():
    row = np.linspace(-3, 3, 1024).astype(np.float32)
    n = 2**22 + 3
    x = np.broadcast_to(row, (n, 1024))           # 4.3e9 elements, 4 KiB of memory
    y = np.full(n, 700, np.int64)
    loss = cxent.cross_entropy(x, y, n_threads=2)
    one = cxent.cross_entropy(row[None], [700])
    np.testing.assert_allclose(loss, one, rtol=1e-6)


@pytest.mark.skipif(not ISA_SWEEP, reason="large; run once, not per instruction-set build")
@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="relies on Linux mapping untouched calloc'd pages to the zero page")
def test_more_than_2_31_elements():
    # calloc'd zeros: 8.6 GB of address space that reads as the zero page, so little memory
    n = 2**21 + 1                                  # n * 1024 > 2**31
    x = np.zeros((n, 1024), np.float32)
    x[-1, 5] = 10.0                                # only the last row differs, past 2**31
    y = np.full(n, 5, np.int64)
    loss = cxent.cross_entropy(x, y, reduction="none", n_threads=2)
    assert loss.shape == (n,)
    np.testing.assert_allclose(loss[0], np.log(1024), rtol=1e-6)
    np.testing.assert_allclose(loss[-1], np.log1p(1023 * np.exp(-10.0)), rtol=1e-5)
    assert loss[-2] == loss[0]


def test_threads_hammering_give_serial_results(force_parallel):
    rng = np.random.default_rng(5)
    inputs = [rng.standard_normal((3000, 17)).astype(dt) for dt in (np.float32, np.float64)] * 2
    labels = [rng.integers(0, 17, 3000) for _ in inputs]
    shared = inputs[0]

    def work(i):
        x = shared if i % 2 else inputs[i % len(inputs)]
        y = labels[0] if i % 2 else labels[i % len(inputs)]
        return as_bits(cxent.cross_entropy(x, y, return_grad=True, n_threads=2)[1]) + \
            as_bits(cxent.log_softmax(x, n_threads=2))

    serial = [work(i) for i in range(8)]
    results = [None] * 8

    def run(i):
        for _ in range(20):
            r = work(i)
            if r != serial[i]:
                results[i] = "mismatch"
                return
        results[i] = "ok"

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == ["ok"] * 8


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="fork() without exec: the case of Linux pre-fork servers")
def test_fork_after_parallel_work_does_not_hang():
    code = textwrap.dedent("""
        import multiprocessing as mp, numpy as np, cxent
        x = np.random.default_rng(0).standard_normal((200000, 50)); y = np.zeros(200000, int)
        ref = float(cxent.cross_entropy(x, y, n_threads=2))   # the parent's threads exist now
        def child(q):
            q.put(float(cxent.cross_entropy(x, y, n_threads=2)))
        ctx = mp.get_context("fork")
        q = ctx.Queue()
        p = ctx.Process(target=child, args=(q,))
        p.start()
        p.join(30)
        print("alive" if p.is_alive() else f"exit {p.exitcode} same {q.get(timeout=5) == ref}")
        if p.is_alive():
            p.kill()
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.stdout.strip() == "exit 0 same True", res.stdout + res.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_interrupts_a_long_call_quickly():
    code = textwrap.dedent("""
        import signal, time, numpy as np, cxent
        # a process started in the background by a shell inherits SIGINT ignored, and Python
        # then installs no KeyboardInterrupt handler: install it
        signal.signal(signal.SIGINT, signal.default_int_handler)
        x = np.broadcast_to(np.linspace(-1, 1, 1024), (2**22 + 3, 1024))
        y = np.zeros(2**22 + 3, np.int64)
        print("ready", flush=True)
        t = time.perf_counter()
        try:
            cxent.cross_entropy(x, y, n_threads=2)
            print("finished", flush=True)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    t0 = time.perf_counter()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    waited = time.perf_counter() - t0
    assert out.strip() == "interrupted"
    assert p.returncode == 0
    assert waited < 0.5, waited
