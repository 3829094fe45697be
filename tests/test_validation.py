"""Bad input gets a clear Python exception that names the offending value, shape or dtype."""

import numpy as np
import pytest

import cxent

X = np.zeros((4, 3))
Y = np.array([0, 1, 2, 1])


@pytest.mark.parametrize("fn", [cxent.softmax, cxent.log_softmax, cxent.logsumexp])
@pytest.mark.parametrize(("bad", "msg"), [
    (np.array([1 + 2j, 3j]), "x must hold real numbers; got an array of dtype complex128"),
    (np.array([None, 1.0], dtype=object), "dtype object"),
    (["a", "b"], "dtype <U1"),
    (np.array(["2020-01-01"], dtype="datetime64[D]"), "dtype datetime64"),
])
def test_non_real_input_is_type_error(fn, bad, msg):
    with pytest.raises(TypeError, match=msg):
        fn(bad)


@pytest.mark.parametrize("fn", [cxent.softmax, cxent.log_softmax, cxent.logsumexp])
def test_bad_axis(fn):
    with pytest.raises(ValueError, match="axis 2 is out of bounds for array of dimension 2"):
        fn(X, axis=2)
    with pytest.raises(ValueError, match="axis -3 is out of bounds"):
        fn(X, axis=-3)
    with pytest.raises(TypeError, match=r"axis must be an integer, got 1\.0"):
        fn(X, axis=1.0)
    with pytest.raises(ValueError, match="axis 1 is out of bounds for a 0-d array"):
        fn(3.0, axis=1)  # a 0-d input is one element along axis 0 / -1


@pytest.mark.parametrize("n", [0, -1])
def test_bad_thread_count_value(n):
    with pytest.raises(ValueError, match=f"n_threads must be None or a positive integer, got {n}"):
        cxent.softmax(X, n_threads=n)
    with pytest.raises(ValueError, match="n_threads"):
        cxent.cross_entropy(X, Y, n_threads=n)


@pytest.mark.parametrize("n", [1.5, "2", True])
def test_bad_thread_count_type(n):
    with pytest.raises(TypeError, match="n_threads must be None or a positive integer"):
        cxent.logsumexp(X, n_threads=n)


def test_numpy_integer_thread_count():
    np.testing.assert_array_equal(cxent.softmax(X, n_threads=np.int64(2)), np.full((4, 3), 1 / 3))


def test_logsumexp_repeated_axis():
    with pytest.raises(ValueError, match=r"axis \(0, -2\) repeats an axis"):
        cxent.logsumexp(X, axis=(0, -2))


@pytest.mark.parametrize(("label", "pos"), [(3, 2), (-1, 0), (2**40, 3), (-(2**40), 1)])
def test_label_out_of_range(label, pos):
    y = Y.copy()
    y[pos] = label
    with pytest.raises(ValueError, match=rf"class index {label} at position \({pos},\), outside "
                                         r"\[0, 3\) for logits with 3 classes along axis 1"):
        cxent.cross_entropy(X, y)


def test_label_out_of_range_nd_and_unsigned():
    x = np.zeros((2, 3, 4, 5))  # classes along axis 1
    y = np.zeros((2, 4, 5), np.uint8)
    y[1, 2, 3] = 200
    with pytest.raises(ValueError, match=r"class index 200 at position \(1, 2, 3\)"):
        cxent.cross_entropy(x, y, axis=1)
    y64 = np.zeros((2, 4, 5), np.uint64)
    y64[0, 1, 1] = 2**64 - 1
    with pytest.raises(ValueError, match=rf"class index {2**64 - 1} at position \(0, 1, 1\)"):
        cxent.cross_entropy(x, y64, axis=1)


def test_target_shape_mismatch():
    with pytest.raises(ValueError, match=r"target of class indices has shape \(5,\); logits of "
                                         r"shape \(4, 3\) with classes along axis 1 need shape "
                                         r"\(4,\)"):
        cxent.cross_entropy(X, np.zeros(5, int))
    with pytest.raises(ValueError, match=r"target has shape \(4, 4\); logits of shape \(4, 3\)"):
        cxent.cross_entropy(X, np.zeros((4, 4)))


def test_target_dtype_errors():
    with pytest.raises(TypeError, match=r"target holds floats \(float64\) in the shape of class "
                                        r"indices \(4,\)"):
        cxent.cross_entropy(X, Y.astype(float))
    with pytest.raises(TypeError, match="target must hold integer class indices or float "
                                        "probabilities; got dtype bool"):
        cxent.cross_entropy(X, Y > 0)
    with pytest.raises(TypeError, match="got dtype <U1"):
        cxent.cross_entropy(X, ["a", "b", "c", "d"])
    with pytest.raises(TypeError, match="logits must hold real numbers; got an array of dtype "
                                        "complex128"):
        cxent.cross_entropy(X.astype(complex), Y)


@pytest.mark.parametrize("reduction", ["avg", "", None, "MEAN"])
def test_bad_reduction(reduction):
    with pytest.raises(ValueError, match=r"reduction must be one of \('mean', 'sum', 'none'\), "
                                         rf"got {reduction!r}"):
        cxent.cross_entropy(X, Y, reduction=reduction)


def test_zero_classes():
    with pytest.raises(ValueError, match=r"logits of shape \(4, 0\) have no classes along axis 1"):
        cxent.cross_entropy(np.zeros((4, 0)), np.zeros(4, int))


def test_keyword_only_arguments():
    with pytest.raises(TypeError):
        cxent.cross_entropy(X, Y, -1)  # axis is keyword-only
    with pytest.raises(TypeError):
        cxent.softmax(X, -1, None)  # out is keyword-only
