# The kernels' numeric primitives on plain arrays, for the accuracy tests (tests/test_simd.py).
# Included by _kernels_impl.pxi.

def exp_array(const floating[::1] x,  # IN
              floating[::1] out):     # OUT
    """``out = exp(x)`` with the kernels' vectorized exp (for testing its accuracy)."""
    cdef Py_ssize_t k, n = x.shape[0]
    with nogil:
        for k in range(n):
            out[k] = _exp(x[k])


def scale_array(const floating[::1] e,  # IN
                double c,
                floating[::1] out):     # OUT
    """``out = e * c`` with the kernels' output scaling of one row (for testing its accuracy)."""
    if out.shape[0] != e.shape[0]:
        raise ValueError("e and out must have the same length")
    if e.shape[0] == 0:
        return
    with nogil:
        _scale(&e[0], &out[0], e.shape[0], c)


def scale_lanes_array(floating[::1] e,      # IN/OUT
                      const double[::1] c):  # IN
    """``e *= c`` elementwise with the kernels' scaling of a tile column (for testing)."""
    cdef Py_ssize_t i = 0, n = e.shape[0]
    if c.shape[0] != n:
        raise ValueError("e and c must have the same length")
    with nogil:
        while i < n:  # one-column tiles
            _tile_scale(&e[i], &c[i], min(<Py_ssize_t> _TILE, n - i), 1, NULL, NULL)
            i += _TILE


def log1p_array(const double[::1] x,  # IN
                double[::1] out):     # OUT
    """``out = log1p(x)`` with the kernels' vectorizable log1p (for testing its accuracy)."""
    cdef Py_ssize_t k, n = x.shape[0]
    with nogil:
        for k in range(n):
            out[k] = cx_log1p_d(x[k])


def tanh_array(const double[::1] x,  # IN
               double[::1] out):     # OUT
    """``out = tanh(x)`` with the kernels' vectorizable tanh (the soft cap; for its accuracy)."""
    cdef Py_ssize_t k, n = x.shape[0]
    with nogil:
        for k in range(n):
            out[k] = cx_tanh_d(x[k])
