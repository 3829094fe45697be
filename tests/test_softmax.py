"""softmax, log_softmax and logsumexp against plain float64 references and the worked example."""

import math

import numpy as np
import pytest

import cxent
from conftest import as_bits, ref_log_softmax, ref_logsumexp, ref_softmax

W = np.array([[.1, .2, .3], [.4, .5, .6], [.7, .8, .9]])
X = np.array([1.0, 2.0, 3.0])


def test_worked_example():
    z = W @ X
    np.testing.assert_allclose(z, [1.4, 3.2, 5.0], rtol=1e-15)
    p = cxent.softmax(z)
    np.testing.assert_array_equal(p.round(2), [0.02, 0.14, 0.84])
    # exp(z) / sum(exp(z)) written out by hand
    e = [np.exp(1.4), np.exp(3.2), np.exp(5.0)]
    np.testing.assert_allclose(p, np.array(e) / sum(e), rtol=1e-15)
    np.testing.assert_allclose(cxent.log_softmax(z)[2], -0.176154756665901, rtol=1e-13)
    np.testing.assert_allclose(cxent.logsumexp(z), 5.176154756665901, rtol=1e-15)
    np.testing.assert_array_equal(cxent.softmax([1, 2, 3]).round(2), [0.09, 0.24, 0.67])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape_axis", [((7,), 0), ((5, 9), -1), ((5, 9), 0), ((3, 4, 5), 1),
                                        ((2, 3, 4, 5), 2), ((2, 3, 4, 5), 0), ((1, 6, 1), 1)])
def test_against_reference(dtype, shape_axis, rng):
    shape, axis = shape_axis
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    p = cxent.softmax(x, axis)
    assert p.dtype == dtype and p.shape == x.shape
    np.testing.assert_allclose(p, ref_softmax(x, axis), rtol=tol, atol=tol * 1e-3)
    lp = cxent.log_softmax(x, axis)
    assert lp.dtype == dtype
    np.testing.assert_allclose(lp, ref_log_softmax(x, axis), rtol=tol, atol=tol)
    lse = cxent.logsumexp(x, axis)
    assert lse.dtype == dtype and lse.shape == np.sum(x, axis).shape
    np.testing.assert_allclose(lse, ref_logsumexp(x, axis), rtol=tol)


def test_large_and_tiny_values():
    x = np.array([[1000.0, 1000.0, -1000.0], [-1e308, 0.0, 1e308], [-745.0, -745.0, -745.0]])
    p = cxent.softmax(x)
    np.testing.assert_array_equal(p[0], [0.5, 0.5, 0.0])
    np.testing.assert_array_equal(p[1], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(p[2], [1 / 3] * 3, rtol=1e-15)
    np.testing.assert_allclose(cxent.logsumexp(x), [1000 + np.log(2), 1e308, -745 + np.log(3)],
                               rtol=1e-15)
    np.testing.assert_allclose(cxent.log_softmax(x)[0], [-np.log(2), -np.log(2), -2000 - np.log(2)],
                               rtol=1e-15)


def test_float32_accumulates_in_float64():
    # 2**20 equal logits: a float32 running sum would drift; the float64 one is exact here
    x = np.zeros((1, 1 << 20), np.float32)
    np.testing.assert_allclose(cxent.logsumexp(x), [20 * np.log(2)], rtol=1e-7)
    np.testing.assert_allclose(cxent.softmax(x).sum(), 1.0, rtol=1e-6)


NONFINITE = [
    # row, softmax, log_softmax, logsumexp   (PyTorch's and SciPy's values)
    ([1.0, -np.inf], [1.0, 0.0], [0.0, -np.inf], 1.0),
    ([-np.inf, -np.inf], [np.nan, np.nan], [np.nan, np.nan], -np.inf),
    ([1.0, np.inf], [np.nan, np.nan], [np.nan, np.nan], np.inf),
    ([np.inf, np.inf], [np.nan, np.nan], [np.nan, np.nan], np.inf),
    ([-np.inf, np.inf], [np.nan, np.nan], [np.nan, np.nan], np.inf),
    ([1.0, np.nan], [np.nan, np.nan], [np.nan, np.nan], np.nan),
    ([np.inf, np.nan], [np.nan, np.nan], [np.nan, np.nan], np.nan),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("row", "sm", "lsm", "lse"), NONFINITE)
def test_nonfinite_rows(row, sm, lsm, lse, dtype):
    ok = [2.0, 1.0]  # a finite row beside it must be unaffected
    x = np.array([row, ok], dtype)
    np.testing.assert_array_equal(cxent.softmax(x)[0], np.array(sm, dtype))
    np.testing.assert_array_equal(cxent.log_softmax(x)[0], np.array(lsm, dtype))
    np.testing.assert_array_equal(cxent.logsumexp(x)[0], dtype(lse))
    np.testing.assert_allclose(cxent.softmax(x)[1], ref_softmax(ok), rtol=1e-6)
    np.testing.assert_allclose(cxent.logsumexp(x)[1], ref_logsumexp(ok), rtol=1e-6)


def test_logsumexp_axes_and_keepdims(rng):
    x = rng.standard_normal((3, 4, 5))
    np.testing.assert_allclose(cxent.logsumexp(x, axis=None), np.log(np.exp(x).sum()),
                               rtol=1e-14)
    assert isinstance(cxent.logsumexp(x, axis=None), np.float64)
    assert cxent.logsumexp(x, axis=None, keepdims=True).shape == (1, 1, 1)
    np.testing.assert_allclose(cxent.logsumexp(x, axis=(0, 2)), np.log(np.exp(x).sum((0, 2))),
                               rtol=1e-14)
    assert cxent.logsumexp(x, axis=(2, 0), keepdims=True).shape == (1, 4, 1)
    r = cxent.logsumexp(x, axis=1, keepdims=True)
    assert r.shape == (3, 1, 5)
    np.testing.assert_allclose(r, np.log(np.exp(x).sum(1, keepdims=True)), rtol=1e-14)
    assert isinstance(cxent.logsumexp([1.0, 2.0]), np.float64)
    assert isinstance(cxent.logsumexp(np.float32([1.0, 2.0])), np.float32)


def test_empty_inputs():
    assert cxent.softmax(np.zeros((0, 3))).shape == (0, 3)
    assert cxent.softmax(np.zeros((2, 0))).shape == (2, 0)
    np.testing.assert_array_equal(cxent.logsumexp(np.zeros((2, 0))), [-np.inf, -np.inf])
    assert cxent.logsumexp(np.zeros((0, 3))).shape == (0,)
    assert cxent.logsumexp(np.zeros(0)) == -np.inf
    assert cxent.logsumexp(np.zeros((0, 3)), axis=None) == -np.inf


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint16, np.bool_, np.float16])
def test_other_real_dtypes_become_float64(dtype):
    x = np.array([[1, 0, 1], [0, 1, 1]], dtype)
    p = cxent.softmax(x)
    assert p.dtype == np.float64
    np.testing.assert_allclose(p, ref_softmax(x.astype(np.float64)), rtol=1e-15)
    assert cxent.logsumexp(x).dtype == np.float64


def test_big_endian_and_lists():
    x = np.array([[0.5, 1.5, -2.0]], dtype=">f8")
    np.testing.assert_allclose(cxent.softmax(x), ref_softmax(x.astype(float)), rtol=1e-15)
    np.testing.assert_allclose(cxent.softmax([[0.5, 1.5, -2.0]]), ref_softmax(x), rtol=1e-15)
    assert cxent.softmax(x.astype(">f4")).dtype == np.float32


@pytest.mark.parametrize("fn", [cxent.softmax, cxent.log_softmax])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_counts_give_identical_bits(fn, dtype, rng, force_parallel):
    x = (rng.standard_normal((301, 67)) * 5).astype(dtype)
    x[5, 3] = np.nan
    x[7, :] = -np.inf
    base = as_bits(fn(x, n_threads=1))
    for n in (2, 3, 8):
        assert as_bits(fn(x, n_threads=n)) == base
        assert as_bits(fn(x.T, axis=0, n_threads=n)) == as_bits(fn(x.T, axis=0, n_threads=1))
    lse = as_bits(cxent.logsumexp(x, n_threads=1))
    assert as_bits(cxent.logsumexp(x, n_threads=2)) == lse
    np.testing.assert_allclose(cxent.logsumexp(x[:5]), ref_logsumexp(x[:5]), rtol=1e-6)


def test_parallel_path_is_correct(rng, force_parallel):
    x = rng.standard_normal((1000, 37))
    np.testing.assert_allclose(cxent.softmax(x, n_threads=2), ref_softmax(x), rtol=1e-14)
    np.testing.assert_allclose(cxent.softmax(x, n_threads=None), ref_softmax(x), rtol=1e-14)
    np.testing.assert_allclose(cxent.logsumexp(x, 0, n_threads=2), ref_logsumexp(x, 0),
                               rtol=1e-14)


def test_subnormals_survive_import():
    # -ffast-math in an extension can switch the whole process to flush-to-zero on import
    import cxent._kernels

    tiny = np.float64(1e-310)
    assert tiny * np.float64(1.0) != 0.0
    assert np.float32(1e-40) * np.float32(1.0) != 0.0
    assert cxent.softmax(np.array([0.0, -709.5]))[1] > 0  # exp of it is subnormal


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [15, 16, 17, 31, 33, 47, 100, 600])
def test_in_place_rows_of_every_tail_length(K, dtype, rng):
    # the last partial block of 16 lanes is re-read from the row: in place it must not
    # re-exponentiate the probabilities already written there
    x = (rng.standard_normal((5, K)) * 3).astype(dtype)
    want = ref_softmax(x)
    y = x.copy()
    cxent.softmax(y, out=y)
    tol = 2e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(y, want, rtol=tol, atol=0)
    z = x.copy()
    cxent.log_softmax(z, out=z)
    np.testing.assert_allclose(z, ref_log_softmax(x), rtol=tol, atol=tol)
    s = x[:, ::-1].copy()
    cxent.softmax(s, out=s)   # also through a general (non-fast) path call
    np.testing.assert_allclose(s, want[:, ::-1], rtol=tol, atol=0)


@pytest.mark.parametrize("K", [5, 40, 1000])
def test_float32_log_softmax_within_2_ulp(K, rng):
    # float32 log-probabilities are formed in float32 ((x - max) - hi - lo of the log of the
    # normaliser): within 2 ulp of the float64 reference, including the tiny ones of a dominant
    # maximum (-log1p(rest), relative accuracy kept)
    x = (rng.standard_normal((300, K)) * 4).astype(np.float32)
    x[:100, 0] += 25.0            # p_max = 1 - ~1e-9: log p_max ~ -1e-9
    got = cxent.log_softmax(x).astype(np.float64)
    # float64 reference with log1p, accurate for log-probabilities near 0 too
    x64 = x.astype(np.float64)
    m = x64.max(1, keepdims=True)
    e = np.exp(x64 - m)
    e[np.arange(len(x)), x64.argmax(1)] = 0.0
    want = x64 - m - np.log1p(e.sum(1, keepdims=True))
    ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    assert (np.abs(got - want) / ulp).max() <= 2.0
    assert np.all(got[:100, 0] < 0)
    np.testing.assert_allclose(got[:100, 0], want[:100, 0], rtol=2e-7)


@pytest.mark.parametrize("K", [41, 100, 1000])
def test_float64_softmax_rows_within_a_few_ulp(K, rng):
    # the row path (more than 40 classes) in float64: against a long double reference of the
    # same rounded differences x - max (the kernel forms them in float64): exp within about
    # 1 ulp, the float64 normaliser a few 2^-53 off, 1 / total and the product rounded once
    # each: 4 ulp measured at K = 1,000; rows with tied maxima, a dominant maximum, a term far
    # below it (subnormal: the exp with its tests), a term that is 0, all equal
    x = rng.standard_normal((64, K)) * 4
    x[1, :3] = x[1].max() + 1.0
    x[2, 5] += 60.0
    x[3, 7] = x[3].max() - 740.0
    x[4, 9] = -np.inf
    x[5, :] = 2.5
    e = np.exp((x - x.max(axis=1, keepdims=True)).astype(np.longdouble))
    want = (e / e.sum(axis=1, keepdims=True)).astype(np.float64)
    got = cxent.softmax(x)
    assert (np.abs(got - want) / np.spacing(np.abs(want))).max() <= 5.0
    np.testing.assert_array_equal(got[5], np.full(K, 1.0 / K))
    np.testing.assert_array_equal(got[1, :3], np.full(3, got[1, 0]))
    assert 0 < got[3, 7] < 1e-300 and got[4, 9] == 0


@pytest.mark.parametrize("K", [5, 40, 100, 191, 192, 1000, 5000])
def test_float32_softmax_within_a_few_ulp(K, rng):
    # exp within 1 ulp, float32 pair sums (2^-24), the float64 factor applied with one
    # rounding: 1.84 ulp measured on 200,000 elements with FMA, 2.01 in the baseline build.
    # From 192 classes the normaliser is the terms' compensated sum (cx_sumexp_total_f, over
    # blocks of 512): at K = 191-5,000 1.63-1.71 ulp measured with FMA, 1.88-2.11 in the
    # baseline build
    x = (rng.standard_normal((max(500, 200_000 // K), K)) * 4).astype(np.float32)
    want = ref_softmax(x)
    ulp = np.spacing(want.astype(np.float32)).astype(np.float64)
    assert (np.abs(cxent.softmax(x) - want) / ulp).max() <= 2.25
    assert (np.abs(cxent.softmax(x[:, ::-1]) - want[:, ::-1]) / ulp[:, ::-1]).max() <= 2.25


@pytest.mark.parametrize("K", [192, 1000, 5000])
def test_float32_softmax_compensated_rows_special_values(K):
    # rows of 192 classes or more add every term, the maximum's 1 too, in compensated float32
    # lanes (cx_sumexp_total_f): nan, infinities, tied and dominant maxima, large logits as in
    # float64, whose rows take the float64 sums
    rng = np.random.default_rng(K)
    x = (rng.standard_normal((9, K)) * 4).astype(np.float32)
    x[1, 3] = np.nan
    x[2, K - 5] = np.inf
    x[3, 7] = -np.inf
    x[4] = -np.inf
    x[5, :4] = x[5].max() + 1.0          # tied maxima
    x[6, K // 2] = x[6].max() + 200.0    # the other terms 0
    x[7, K // 3] = x[7].max() - 95.0     # a subnormal term (the exp with its tests)
    x[8] = np.float32(1e30) * (1 + rng.standard_normal(K).astype(np.float32) * 1e-6)
    got = cxent.softmax(x)
    want = cxent.softmax(x.astype(np.float64))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(got[[1, 2, 4]]).all() and not np.isnan(got[[0, 3, 5, 6, 7, 8]]).any()
    ok = ~np.isnan(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=3e-7, atol=2e-45)
    assert got[3, 7] == 0 and got[6, K // 2] == 1 and 0 < got[7, K // 3] < 1e-38
    np.testing.assert_array_equal(got[5, :4], np.full(4, got[5, 0]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [2, 40])
def test_subnormal_probabilities_are_rounded_once(K, dtype):
    # the row kernels' exp forms results in the subnormal range by one final rounding: next to a
    # maximum of 0 (the other entries far below), p = exp(-t) within one subnormal spacing
    ts = (np.array([88.0, 95.0, 100.0, 103.5, 103.9]) if dtype == np.float32
          else np.array([709.0, 720.0, 735.0, 744.0, 745.0]))
    x = np.full((len(ts), K), -1e4, dtype)
    x[:, 0] = 0.0
    x[:, 1] = -ts
    p = cxent.softmax(x)[:, 1]
    want = np.array([math.exp(v) for v in x[:, 1].astype(np.float64)]).astype(dtype)
    spacing = np.finfo(dtype).smallest_subnormal
    assert np.all(np.abs(p.astype(np.float64) - want.astype(np.float64)) <= spacing)
    assert np.all(p > 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_d_input_is_one_element_along_axis_0(dtype):
    # PyTorch's rule (torch.softmax(torch.tensor(3.), 0) == 1); SciPy gives the same values
    x = dtype(3.0)
    for axis in (0, -1):
        p = cxent.softmax(x, axis=axis)
        assert p.shape == () and p.dtype == dtype and p == 1.0
        lp = cxent.log_softmax(np.array(x), axis=axis)
        assert lp.shape == () and lp == 0.0
    assert cxent.logsumexp(x) == 3.0 and type(cxent.logsumexp(x)) is dtype
    assert cxent.logsumexp(x, axis=None) == 3.0
    assert cxent.logsumexp(x, axis=(0,), keepdims=True) == 3.0
    r, sign = cxent.logsumexp(x, b=dtype(-2.0), return_sign=True)
    np.testing.assert_allclose(r, 3.0 + np.log(2.0), rtol=1e-6)
    assert sign == -1.0
    assert cxent.softmax(np.inf) != cxent.softmax(np.inf)  # nan, as a 1-element +inf row
    out = np.empty((), dtype)
    assert cxent.softmax(x, out=out) is out and out == 1.0
    for f in (cxent.softmax, cxent.log_softmax, cxent.logsumexp):
        with pytest.raises(np.exceptions.AxisError, match="axis 1 is out of bounds for a 0-d"):
            f(x, axis=1)
