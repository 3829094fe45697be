"""Input checking and array layout for the public functions; nothing else.

Every public function turns its array-likes into float32/float64 arrays (`as_real_array`),
checks its keywords, and describes the data to the compiled kernels through a `Layout`: a strided
3-D view ``(A, B, K)`` whose last axis is the class axis and whose ``M = A * B`` rows are all
other positions.
"""

import operator

import numpy as np

try:  # NumPy >= 2
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index

__all__ = ["Layout", "as_real_array", "check_n_threads", "check_out", "check_reduction",
           "normalize_axis"]

_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
REDUCTIONS = ("mean", "sum", "none")


def as_real_array(x, name):
    """`x` as an aligned, native-byte-order float32 or float64 ndarray.

    float32 and float64 pass through without a copy; other real dtypes (bool, integers, float16,
    longdouble) are converted to float64.  Complex, object, string and time dtypes raise TypeError.
    """
    a = x if type(x) is np.ndarray else np.asarray(x)
    dt = a.dtype
    if dt not in _NATIVE_FLOATS:
        if dt.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers; got an array of dtype {dt}")
        if dt.kind == "f" and dt.itemsize in (4, 8):  # non-native byte order
            a = a.astype(dt.newbyteorder("="))
        else:
            a = a.astype(np.float64)
    if not a.flags.aligned:
        a = a.copy()
    return a


def check_n_threads(n_threads):
    """None -> 0 (OpenMP's default for the calling thread); a positive integer -> itself."""
    if n_threads is None:
        return 0
    if isinstance(n_threads, (bool, np.bool_)):
        raise TypeError(f"n_threads must be None or a positive integer, got {n_threads!r}")
    try:
        n = operator.index(n_threads)
    except TypeError:
        raise TypeError(
            f"n_threads must be None or a positive integer, got {n_threads!r}") from None
    if n < 1:
        raise ValueError(f"n_threads must be None or a positive integer, got {n}")
    return min(n, 1 << 16)


def check_reduction(reduction):
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def normalize_axis(axis, ndim, name):
    """An axis index in [0, ndim); a clear error naming `name` and its number of dimensions."""
    try:
        ax = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an integer, got {axis!r}") from None
    return normalize_axis_index(ax, ndim, name)


def check_out(out, shape, dtype, name="out"):
    """`out` must be a writeable ndarray of exactly `shape` and `dtype`."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"{name} has shape {out.shape}, expected {shape}")
    if out.dtype != dtype:
        raise TypeError(f"{name} has dtype {out.dtype}, expected {np.dtype(dtype)}")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")


class Layout:
    """How the kernels see an array: rows along `axis`, merged into a ``(A, B, K)`` view.

    The non-class axes are ordered by decreasing stride and merged where their strides allow, so
    C-ordered, Fortran-ordered, transposed, sliced and broadcast (zero-stride) arrays become a
    view without a copy.  Only when the axes do not merge into two strided dimensions does `rows`
    copy.  Outputs are allocated in the same memory order as the input, which NumPy calls
    ``order="K"``.
    """

    __slots__ = ("shape", "axis", "K", "A", "B", "M", "order", "memorder", "tshape", "inv",
                 "lorder", "linv")

    def __init__(self, x, axis):
        shape, strides = x.shape, x.strides
        others = [i for i in range(len(shape)) if i != axis]
        def by_stride(i):
            return (shape[i] != 1, -abs(strides[i]))

        others.sort(key=by_stride)
        groups = []  # [size, stride] of merged runs of axes
        for i in others:
            n, s = shape[i], strides[i]
            if n == 1:
                continue
            if groups and groups[-1][1] == s * n:
                groups[-1] = [groups[-1][0] * n, s]
            else:
                groups.append([n, s])
        M = 1
        for i in others:
            M *= shape[i]
        if len(groups) == 2:
            A, B = groups[0][0], groups[1][0]
        else:  # one run (or none): (1, M); more than two runs: rows() copies into (1, M, K)
            A, B = 1, M
        self.shape, self.axis, self.K, self.A, self.B, self.M = shape, axis, shape[axis], A, B, M
        self.order = others + [axis]
        self.memorder = sorted(range(len(shape)), key=by_stride)
        self.tshape = tuple(shape[i] for i in others)
        self.inv = _inverse(self.order)
        self.lorder = [i if i < axis else i - 1 for i in others]
        self.linv = _inverse(self.lorder)

    @property
    def reduced_shape(self):
        """The shape without the class axis (shape of class indices, per-row results)."""
        return self.shape[:self.axis] + self.shape[self.axis + 1:]

    def rows(self, a):
        """(A, B, K) view of an array of the full shape (a copy where its strides do not allow)."""
        return a.transpose(self.order).reshape(self.A, self.B, self.K)

    def label_rows(self, y):
        """(A, B) view of an array of the reduced shape (a copy where its strides do not allow)."""
        return y.transpose(self.lorder).reshape(self.A, self.B)

    def out_rows(self, out):
        """(A, B, K) view of a caller's array, or None when it cannot be written through a view."""
        v = self.rows(out)
        return v if np.may_share_memory(v, out) else None

    def new(self, dtype):
        """A new full-shape array in the input's memory order: (array, its (A, B, K) view)."""
        full = self.memorder
        arr = np.empty([self.shape[i] for i in full], dtype).transpose(_inverse(full))
        v = self.rows(arr)
        if np.may_share_memory(v, arr):
            return arr, v
        # the class axis sits between axes that only merge in the input: rows first, then classes
        buf = np.empty(self.tshape + (self.K,), dtype)
        return buf.transpose(self.inv), buf.reshape(self.A, self.B, self.K)

    def new_reduced(self, dtype):
        """A new reduced-shape array: (array, its (A, B) view)."""
        buf = np.empty(self.tshape, dtype)
        return buf.transpose(self.linv), buf.reshape(self.A, self.B)

    def position(self, row):
        """Index, in the reduced shape, of kernel row number `row`."""
        idx = np.unravel_index(row, self.tshape)
        pos = [0] * len(idx)
        for j, ax in enumerate(self.lorder):
            pos[ax] = int(idx[j])
        return tuple(pos)


def _inverse(perm):
    inv = [0] * len(perm)
    for j, i in enumerate(perm):
        inv[i] = j
    return inv
