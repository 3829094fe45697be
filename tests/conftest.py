"""Shared fixtures and plain float64 references for the tests.

The references here are written directly from the definitions, in float64 NumPy or mpmath, so they
share no code with cxent.
"""

import mpmath
import numpy as np
import pytest

from cxent._isa import kernels as _kernels


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


def as_bits(a):
    """The bytes of an array, to compare results bit for bit (nan included)."""
    a = np.ascontiguousarray(a)
    return a.view(np.uint8).tobytes()
