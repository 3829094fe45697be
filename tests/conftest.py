"""Shared fixtures and plain float64 references for the tests.

The references here are written directly from the definitions, in float64 NumPy or mpmath, so they
share no code with cxent.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import mpmath
import numpy as np
import pytest

from cxent import _isa
from cxent._isa import kernels as _kernels

TESTS = pathlib.Path(__file__).resolve().parent
# test_isa.py: the whole suite again on every other instruction-set build this CPU runs; not
# in those nested runs (nor where CXENT_ISA_SWEEP=0 asks for one build only), which also skip
# the largest tests (test_reliability.py)
OTHER_BUILDS = [n for n in _isa.available() if n != _isa.name]
ISA_SWEEP = os.environ.get("CXENT_ISA_SWEEP") != "0"
_sweep_runs = {}


def start_isa_sweep():
    """The whole suite again with the kernels of each other build, all started at once (once
    per session); returns {build: (process, log file)}.

    The runs are single-threaded for the most part, so on a machine with two or more cores they
    go side by side with each other and with this suite (each build's result is still its own
    test in test_isa.py).  test_isa.py and the command-line tests, which time peers, are left
    out: --ignore takes paths, --deselect only node ids relative to the rootdir, which an
    absolute path never matched.  The output goes to files, not pipes, so that a long report
    cannot block one run while another is awaited."""
    if _sweep_runs or not OTHER_BUILDS:
        return _sweep_runs
    out = pathlib.Path(tempfile.mkdtemp(prefix="cxent-isa-sweep-"))
    for name in OTHER_BUILDS:
        log = out / f"{name}.log"
        with open(log, "w") as f:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(
                [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                 str(TESTS), "--ignore", str(TESTS / "test_isa.py"),
                 "--ignore", str(TESTS / "test_main.py")],
                env={**os.environ, "CXENT_ISA": name, "CXENT_ISA_SWEEP": "0"},
                stdout=f, stderr=subprocess.STDOUT, cwd=TESTS.parent)
        _sweep_runs[name] = (proc, log)
    return _sweep_runs


def pytest_collection_finish(session):
    """Start the other builds' runs as soon as the test that awaits them is collected, so that
    they go beside the tests before it, not after them."""
    if ISA_SWEEP and any(getattr(item, "originalname", None)
                         == "test_suite_passes_on_every_other_build" for item in session.items):
        start_isa_sweep()


def pytest_sessionfinish(session):
    logs = set()
    for proc, log in _sweep_runs.values():
        if proc.poll() is None:  # the session stopped before awaiting it
            proc.kill()
            proc.wait()
        logs.add(log.parent)
    for d in logs:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def force_parallel():
    """Make every call, however small, take the multi-threaded path (prange over blocks)."""
    old = _kernels._set_grain(0)
    yield
    _kernels._set_grain(old)


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


def ref_log_softmax(x, axis=-1):
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def ref_softmax(x, axis=-1):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def ref_logsumexp(x, axis=-1):
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def ref_xent_labels(x, y, axis=-1):
    """Per-position losses -log softmax(x)[y] in float64."""
    lsm = np.moveaxis(ref_log_softmax(x, axis), axis, -1)
    y = np.asarray(y)
    return -np.take_along_axis(lsm, y[..., None], axis=-1)[..., 0]


def ref_xent_labels_grad(x, y, axis=-1):
    """Gradient of the summed loss: softmax - onehot, in float64."""
    p = np.moveaxis(ref_softmax(x, axis), axis, -1).copy()
    y = np.asarray(y)
    np.put_along_axis(p, y[..., None], np.take_along_axis(p, y[..., None], -1) - 1.0, -1)
    return np.moveaxis(p, -1, axis)


def mp_xent_row(row, y, dps=60):
    """-log softmax(row)[y] with mpmath at `dps` digits, from the exact values of `row`."""
    with mpmath.workdps(dps):
        vals = [mpmath.mpf(float(v)) for v in row]
        return mpmath.log(mpmath.fsum(mpmath.exp(v) for v in vals)) - vals[y]


def central_difference(f, x, h=1e-6):
    """The gradient of the scalar function f at x by central differences (float64)."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (2 * h)
    return g


def as_bits(a):
    """The bytes of an array, to compare results bit for bit (nan included)."""
    a = np.ascontiguousarray(a)
    return a.view(np.uint8).tobytes()


# --- loss references: PyTorch's rules written out in float64 NumPy (no torch needed) -----------

def _classes_last(x, axis):
    return np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)


def _reduce(per, grad_rows, denom, reduction):
    """(loss, gradient of the returned loss) from per-position losses and gradients."""
    if reduction == "none":
        return per, grad_rows
    if reduction == "sum":
        return per.sum(), grad_rows
    return per.sum() / denom, grad_rows / denom


def ref_ce(x, y, w=None, ignore=-100, eps=0.0, reduction="mean", axis=1, sw=None):
    """PyTorch's class-index cross-entropy in float64: (loss, gradient wrt x).

    The effective target of a position is a_k = w_k ((1 - eps) [k == y] + eps / K); its loss is
    -sum_k a_k log p_k, its gradient p * sum_k a_k - a, both times its sample weight sw;
    ignored positions give 0 and are not counted; "mean" divides by the sum of sw * w[y] over
    the positions not ignored."""
    z = _classes_last(x, axis)
    K = z.shape[-1]
    lp = ref_log_softmax(z, -1)
    p = np.exp(lp)
    w = np.ones(K) if w is None else np.asarray(w, np.float64)
    y = np.asarray(y)
    keep = y != ignore
    yy = np.where(keep, y, 0)
    a = (1 - eps) * np.eye(K)[yy] * w + eps / K * w
    a = np.where(keep[..., None], a, 0.0)
    s = np.ones(y.shape) if sw is None else np.asarray(sw, np.float64)
    per = -(a * lp).sum(-1) * s
    g = (p * a.sum(-1, keepdims=True) - a) * s[..., None]
    loss, g = _reduce(per, g, (s * w[yy])[keep].sum(), reduction)
    return loss, np.moveaxis(g, -1, axis)


def ref_ce_probs(x, t, w=None, eps=0.0, reduction="mean", axis=1, sw=None):
    """Cross-entropy with probability targets in float64: a_k = w_k ((1 - eps) t_k + eps / K),
    loss -sum_k a_k log p_k (0 log 0 = 0), gradient p sum(a) - a, "mean" over positions."""
    z = _classes_last(x, axis)
    K = z.shape[-1]
    lp = ref_log_softmax(z, -1)
    w = np.ones(K) if w is None else np.asarray(w, np.float64)
    a = ((1 - eps) * _classes_last(t, axis) + eps / K) * w
    s = np.ones(z.shape[:-1]) if sw is None else np.asarray(sw, np.float64)
    per = -np.where(a != 0, a * lp, 0.0).sum(-1) * s
    g = (np.exp(lp) * a.sum(-1, keepdims=True) - a) * s[..., None]
    loss, g = _reduce(per, g, s.sum(), reduction)
    return loss, np.moveaxis(g, -1, axis)


def ref_nll(lp, y, w=None, ignore=-100, reduction="mean", axis=1, sw=None):
    """PyTorch's nll_loss in float64: -w[y] lp[y]; gradient -w[y] at y."""
    z = _classes_last(lp, axis)
    K = z.shape[-1]
    w = np.ones(K) if w is None else np.asarray(w, np.float64)
    y = np.asarray(y)
    keep = y != ignore
    yy = np.where(keep, y, 0)
    s = np.ones(y.shape) if sw is None else np.asarray(sw, np.float64)
    a = np.where(keep[..., None], np.eye(K)[yy] * w, 0.0) * s[..., None]
    per = -(a * z).sum(-1)
    loss, g = _reduce(per, -a, (s * w[yy])[keep].sum(), reduction)
    return loss, np.moveaxis(g, -1, axis)


def ref_bce(x, t, w=None, pw=None, reduction="mean"):
    """Binary cross-entropy with logits in float64:
    w [pw t log(1 + e^-x) + (1 - t) log(1 + e^x)], gradient w [(1 - t) s(x) - pw t s(-x)]."""
    x = np.asarray(x, np.float64)
    t = np.asarray(t, np.float64)
    w = 1.0 if w is None else np.asarray(w, np.float64)
    pw = 1.0 if pw is None else np.asarray(pw, np.float64)
    sp_pos = np.logaddexp(0.0, -x)   # -log sigmoid(x)
    sp_neg = np.logaddexp(0.0, x)    # -log(1 - sigmoid(x))
    per = w * (pw * t * sp_pos + (1 - t) * sp_neg)
    s = 1.0 / (1.0 + np.exp(-x))
    g = w * ((1 - t) * s - pw * t * (1 - s)) * np.ones_like(x)
    per = per * np.ones_like(x)
    return _reduce(per, g, per.size, reduction)
