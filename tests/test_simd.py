"""The vectorizable exp and log1p of _simd.h, in every instruction-set build this CPU can run,
against mpmath and correctly rounded references over the whole input range."""

import importlib
import math

import mpmath
import numpy as np
import pytest

import cxent
from cxent import _isa


def _modules():
    return [pytest.param(_isa._load(name), id=name) for name in _isa.available()]


def ulp_error(got, ref):
    """|got - ref| in units of the last place of ref (subnormal spacing below the normals)."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref)
    return np.abs(got - ref.astype(np.float64)) / np.spacing(np.abs(ref)).astype(np.float64)


@pytest.mark.parametrize("mod", _modules())
def test_exp_float64_within_2_ulp_of_mpmath(mod):
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-745.13, 709.78, 4000),      # whole range
                        rng.uniform(-745.13, -708.4, 1000),      # subnormal results
                        rng.uniform(-1e-3, 1e-3, 500), rng.uniform(-40, 0, 1000)])
    out = np.empty_like(x)
    mod.exp_array(x, out)
    with mpmath.workdps(40):
        ref = np.array([float(mpmath.exp(mpmath.mpf(v))) for v in x])
    err = ulp_error(out, ref)
    assert err.max() <= 2.0, (x[np.argmax(err)], err.max())


@pytest.mark.parametrize("mod", _modules())
def test_exp_float32_within_2_ulp_of_correctly_rounded(mod):
    # every float32 in [-104, 89) at a stride, and all of [-1, 1) near 0
    neg = -np.arange(0, np.float32(104).view(np.int32), 97, dtype=np.int32).view(np.float32)
    pos = np.arange(0, np.float32(89).view(np.int32), 97, dtype=np.int32).view(np.float32)
    x = np.concatenate([neg, pos, np.linspace(-1, 1, 100001, dtype=np.float32)])
    out = np.empty_like(x)
    mod.exp_array(x, out)
    with np.errstate(over="ignore", invalid="ignore"):
        ref = np.exp(x.astype(np.float64)).astype(np.float32)  # correctly rounded here
    ok = np.isfinite(ref)
    err = ulp_error(out[ok], ref[ok])
    assert err.max() <= 2.0, (x[ok][np.argmax(err)], err.max())
    np.testing.assert_array_equal(out[~ok], np.inf)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mod", _modules())
def test_exp_special_values(mod, dtype):
    big = 709.7828 if dtype == np.float64 else 88.7228394  # just past the largest finite
    tiny = -745.2 if dtype == np.float64 else -104.0
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, big, 1000.0, tiny, -1e30, 1e30], dtype)
    out = np.empty_like(x)
    mod.exp_array(x, out)
    assert out[0] == 1.0
    assert out[1] == 1.0
    assert out[2] == np.inf
    assert out[3] == 0.0
    assert np.isnan(out[4])
    assert out[5] == np.inf
    assert out[6] == np.inf
    assert out[7] == 0.0
    assert out[8] == 0.0
    assert out[9] == np.inf
    # the smallest subnormal results, exactly as the C library rounds them
    if dtype == np.float64:
        x = np.array([-745.1332191019411, -744.0, -740.0, -709.5])
        out = np.empty_like(x)
        mod.exp_array(x, out)
        np.testing.assert_array_equal(out, [math.exp(v) for v in x])
        assert out[0] == 5e-324


@pytest.mark.parametrize("mod", _modules())
def test_log1p_within_3_ulp_of_mpmath(mod):
    rng = np.random.default_rng(3)
    u = np.concatenate([rng.uniform(-1, 1, 2000), 10.0 ** rng.uniform(-300, 300, 2000),
                        rng.uniform(0, 20, 1000)])
    out = np.empty_like(u)
    mod.log1p_array(u, out)
    with mpmath.workdps(40):
        ref = np.array([float(mpmath.log1p(mpmath.mpf(v))) for v in u])
    nz = ref != 0
    assert ulp_error(out[nz], ref[nz]).max() <= 3.0
    spec = np.array([0.0, -1.0, np.inf, np.nan, -2.0, 5e-324, 1e-300])
    out = np.empty_like(spec)
    mod.log1p_array(spec, out)
    np.testing.assert_array_equal(out[:2], [0.0, -np.inf])
    assert out[2] == np.inf
    assert np.isnan(out[3])
    assert np.isnan(out[4])
    assert out[5] == 5e-324
    assert out[6] == 1e-300


def test_available_builds_are_importable():
    names = _isa.available()
    assert names[-1] == "baseline"
    assert _isa.name in names
    for name in names:
        if name != "baseline":
            importlib.import_module(f"cxent._kernels_{name}")
    assert math.isfinite(_isa.kernels.cpu_features())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mod", _modules())
def test_nan_payloads_stay_nan(mod, dtype):
    # the exponent is added to the polynomial's bit pattern as an integer: a nan whose payload
    # bits are set must still come out as nan, in exp and through the row kernels
    bits = np.array([0x7FC00001, 0x7FFFFFFF, 0xFFC12345, 0x7F800001], np.uint32)
    if dtype == np.float64:
        bits = np.array([0x7FF8000000000001, 0x7FFFFFFFFFFFFFFF, 0xFFF8123456789ABC,
                         0x7FF0000000000001], np.uint64)
    x = bits.view(dtype)
    assert np.isnan(x).all()
    out = np.empty_like(x)
    mod.exp_array(x, out)
    assert np.isnan(out).all()
    for K in (3, 20, 40):
        rows = np.zeros((len(x), K), dtype)
        rows[:, K // 2] = x
        assert np.isnan(cxent.softmax(rows)).all()
        assert np.isnan(cxent.log_softmax(rows)).all()
        assert np.isnan(cxent.logsumexp(rows)).all()
        loss = cxent.cross_entropy(rows, np.zeros(len(x), np.int64), reduction="none")
        assert np.isnan(loss).all()


@pytest.mark.parametrize("mod", _modules())
def test_float32_output_scaling_rounds_once(mod):
    # softmax / gradient outputs e * c (e float32, c the float64 factor): the product rounded
    # once, within half an ulp of the exact value (plus 2^-20 for the split factor), in the row
    # path (scale_array) and the tile path (scale_lanes_array); dropping the low part of the
    # split factor gives errors up to about 1 ulp
    rng = np.random.default_rng(11)
    e = rng.uniform(0, 1, 200000).astype(np.float32)
    e[:1000] = rng.uniform(0, 1e-38, 1000).astype(np.float32)   # subnormal results too
    cs = 1.0 / rng.uniform(1.0, 1000.0, 200000)
    exact = e.astype(np.float64) * cs[0]
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    out = np.empty_like(e)
    mod.scale_array(e, float(cs[0]), out)
    assert (np.abs(out - exact) / ulp).max() <= 0.5 + 2**-20
    lanes = e.copy()
    mod.scale_lanes_array(lanes, cs)
    exact = e.astype(np.float64) * cs
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert (np.abs(lanes - exact) / ulp).max() <= 0.5 + 2**-20
    # float64: one multiplication
    e64 = e.astype(np.float64)
    out64 = np.empty_like(e64)
    mod.scale_array(e64, float(cs[0]), out64)
    np.testing.assert_array_equal(out64, e64 * cs[0])


@pytest.mark.parametrize("mod", _modules())
def test_tanh_within_2_ulp_of_mpmath(mod):
    # the soft cap's tanh: both branches (|v| < 0.625 polynomial, above from exp), the switch
    # point, tiny and huge arguments, and the special values
    rng = np.random.default_rng(4)
    v = np.concatenate([rng.uniform(-0.7, 0.7, 3000), rng.uniform(-25, 25, 3000),
                        10.0 ** rng.uniform(-300, 0, 1000), [0.625, np.nextafter(0.625, 0)]])
    v = np.concatenate([v, -v])
    out = np.empty_like(v)
    mod.tanh_array(v, out)
    with mpmath.workdps(40):
        ref = np.array([float(mpmath.tanh(mpmath.mpf(x))) for x in v])
    assert ulp_error(out, ref).max() <= 2.0
    spec = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -1e-310])
    out = np.empty_like(spec)
    mod.tanh_array(spec, out)
    assert out[0] == 0 and not np.signbit(out[0]) and out[1] == 0 and np.signbit(out[1])
    np.testing.assert_array_equal(out[2:4], [1.0, -1.0])
    assert np.isnan(out[4])
    np.testing.assert_array_equal(out[5:], spec[5:])
