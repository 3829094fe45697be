"""Input checking and array layout for the public functions; nothing else.

Every public function turns its array-likes into float32/float64 arrays (`as_real_array`),
checks its keywords, and describes the data to the compiled kernels through a `Layout`: a strided
3-D view ``(A, B, K)`` whose last axis is the class axis and whose ``M = A * B`` rows are all
other positions.
"""

import math
import operator

import numpy as np

from . import _memory

try:  # NumPy >= 2
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index

__all__ = [
    "NATIVE_FLOATS",
    "NO_LOSS_OPTIONS",
    "REDUCTIONS",
    "Layout",
    "as_array",
    "as_real_array",
    "broadcast_pair",
    "check_class_weights",
    "check_ignore_index",
    "check_label_smoothing",
    "check_n_threads",
    "check_out",
    "check_reduction",
    "check_scalar_axis",
    "check_topk",
    "fast_threads",
    "finish_out",
    "loss_options",
    "merge_axes",
    "new_pages",
    "normalize_axes",
    "normalize_axis",
    "prepare_out",
]

NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
REDUCTIONS = ("mean", "sum", "none")


def as_array(x, name):
    """Any array-like as an ndarray, without a copy where its memory allows.

    ndarrays pass through; objects with ``__array__`` (CPU torch tensors among them) go through
    ``np.asarray``, objects with only ``__dlpack__`` through ``np.from_dlpack``.  A torch tensor
    that requires grad or lives on another device is a TypeError that says what to do.
    """
    if type(x) is np.ndarray:
        return x
    if type(x).__module__.partition(".")[0] == "torch":
        if getattr(x, "requires_grad", False):
            raise TypeError(f"{name} is a tensor that requires grad: use cxent.torch for "
                            f"autograd, or pass {name}.detach()")
        device = getattr(x, "device", None)
        if device is not None and device.type != "cpu":
            raise TypeError(f"{name} is a tensor on device {device}; cxent computes on the CPU "
                            f"(move it with .cpu())")
    if not hasattr(x, "__array__") and hasattr(x, "__dlpack__"):
        return np.from_dlpack(x)
    return np.asarray(x)


def as_real_array(x, name):
    """`x` as an aligned, native-byte-order float32 or float64 ndarray.

    float32 and float64 pass through without a copy; other real dtypes (bool, integers, float16,
    longdouble) are converted to float64.  Complex, object, string and time dtypes raise TypeError.
    """
    a = as_array(x, name)
    dt = a.dtype
    if dt not in NATIVE_FLOATS:
        if dt.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers; got an array of dtype {dt}")
        if dt.kind == "f" and dt.itemsize in (4, 8):  # non-native byte order
            a = a.astype(dt.newbyteorder("="))
        else:
            a = a.astype(np.float64)
    if not a.flags.aligned:
        a = a.copy()
    return a


def broadcast_pair(a, b, message):
    """Two real arrays broadcast together, in their common float dtype.

    `message` is the ValueError's text, formatted with the shapes ``{a}`` and ``{b}``.
    """
    try:
        a2, b2 = np.broadcast_arrays(a, b)
    except ValueError:
        raise ValueError(message.format(a=a.shape, b=b.shape)) from None
    dt = np.result_type(a.dtype, b.dtype)
    return a2.astype(dt, copy=False), b2.astype(dt, copy=False)


def _as_int(value, message):
    """An integer keyword as an int; bools, floats and other objects are TypeError(message)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(message)
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(message) from None


def check_n_threads(n_threads):
    """None -> 0 (OpenMP's default for the calling thread); a positive integer -> itself."""
    if n_threads is None:
        return 0
    n = _as_int(n_threads, f"n_threads must be None or a positive integer, got {n_threads!r}")
    if n < 1:
        raise ValueError(f"n_threads must be None or a positive integer, got {n}")
    return min(n, 1 << 16)


def fast_threads(n_threads):
    """n_threads for a fast path: None -> 0, a plain int in [1, 65536] -> itself, else -1 (the
    general path checks it and reports the error)."""
    if n_threads is None:
        return 0
    if type(n_threads) is int and 0 < n_threads <= 65536:
        return n_threads
    return -1


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


def check_scalar_axis(axis, name):
    """The axes a 0-d input may be reduced along: None, 0, -1 or a tuple of those (it counts as
    one element along axis 0 / -1, PyTorch's rule)."""
    for ax in () if axis is None else axis if isinstance(axis, tuple) else (axis,):
        try:
            ok = operator.index(ax) in (0, -1)
        except TypeError:
            raise TypeError(f"axis must be an integer, got {ax!r}") from None
        if not ok:
            raise np.exceptions.AxisError(f"{name}: axis {ax} is out of bounds for a 0-d array "
                                          f"(only axis 0 or -1)")


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


def prepare_out(lay, out, dtype, inputs, name="out", in_place=True):
    """Where a full-shape result goes: ``(result, (A, B, K) view for the kernel, temp)``.

    Without `out` a new array in the input's memory order.  With `out` (checked, and named
    `name` in errors), the kernel writes through a view of it, unless it overlaps one of the
    `inputs` (ndarrays; other entries are skipped) other than exactly (same data, same strides:
    in place, which the row kernels allow; not `in_place` kernels) or cannot be viewed as rows;
    then the kernel writes into `temp`, which `finish_out` copies into `out`.
    """
    if out is None:
        res, o3 = lay.new(dtype)
        return res, o3, None
    check_out(out, lay.shape, dtype, name)
    if all(not np.may_share_memory(out, a) or (in_place and _same_view(out, a))
           for a in inputs if isinstance(a, np.ndarray)):
        o3 = lay.out_rows(out)
        if o3 is not None:
            return out, o3, None
    tmp, o3 = lay.new(dtype)
    return out, o3, tmp


def new_pages(out, result, tmp):
    """The kernels' ``new_pages``: whether the array they write (`tmp` where prepare_out gave
    one, else `result`) was allocated for this call on pages no store has touched yet
    (cxent._memory); never the caller's `out`."""
    if tmp is not None:
        return _memory.new_pages(tmp)
    return out is None and result is not None and _memory.new_pages(result)


def finish_out(result, tmp):
    if tmp is not None:
        np.copyto(result, tmp)
    return result


def _same_view(u, v):
    return (u.__array_interface__["data"][0] == v.__array_interface__["data"][0]
            and u.strides == v.strides)


class Layout:
    """How the kernels see an array: rows along `axis`, merged into a ``(A, B, K)`` view.

    The non-class axes are ordered by decreasing stride and merged where their strides allow, so
    C-ordered, Fortran-ordered, transposed, sliced and broadcast (zero-stride) arrays become a
    view without a copy.  Only when the axes do not merge into two strided dimensions does `rows`
    copy.  Outputs are allocated in the same memory order as the input, which NumPy calls
    ``order="K"``.
    """

    __slots__ = ("shape", "axis", "K", "A", "B", "M", "natural", "order", "memorder", "tshape",
                 "inv", "lorder", "linv")

    def __init__(self, x, axis):
        shape, strides = x.shape, x.strides
        nd = len(shape)
        if axis == nd - 1 and x.flags.c_contiguous:
            # the common case, without sorting: rows are (1, M) in C order
            self.shape, self.axis, self.K, self.natural = shape, axis, shape[axis], True
            self.tshape = shape[:-1]
            M = 1
            for n in self.tshape:
                M *= n
            self.A, self.B, self.M = 1, M, M
            return
        self.natural = False
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
        if self.natural:
            return self.tshape
        return self.shape[:self.axis] + self.shape[self.axis + 1:]

    def rows(self, a):
        """(A, B, K) view of an array of the full shape (a copy where its strides do not allow)."""
        if self.natural:
            return a.reshape(self.A, self.B, self.K)
        return a.transpose(self.order).reshape(self.A, self.B, self.K)

    def label_rows(self, y):
        """(A, B) view of an array of the reduced shape (a copy where its strides do not allow)."""
        if self.natural:
            return y.reshape(self.A, self.B)
        return y.transpose(self.lorder).reshape(self.A, self.B)

    def out_rows(self, out):
        """(A, B, K) view of a caller's array, or None when it cannot be written through a view."""
        v = self.rows(out)
        return v if np.may_share_memory(v, out) else None

    def new(self, dtype):
        """A new full-shape array in the input's memory order: (array, its (A, B, K) view)."""
        if self.natural:
            arr = _memory.empty(self.shape, dtype)
            return arr, arr.reshape(self.A, self.B, self.K)
        full = self.memorder
        arr = _memory.empty([self.shape[i] for i in full], dtype).transpose(_inverse(full))
        v = self.rows(arr)
        if np.may_share_memory(v, arr):
            return arr, v
        # the class axis sits between axes that only merge in the input: rows first, then classes
        buf = _memory.empty(self.tshape + (self.K,), dtype)
        return buf.transpose(self.inv), buf.reshape(self.A, self.B, self.K)

    def new_reduced(self, dtype):
        """A new reduced-shape array: (array, its (A, B) view)."""
        buf = _memory.empty(self.tshape, dtype)
        if self.natural:
            return buf, buf.reshape(self.A, self.B)
        return buf.transpose(self.linv), buf.reshape(self.A, self.B)

    def position(self, row):
        """Index, in the reduced shape, of kernel row number `row`."""
        idx = np.unravel_index(row, self.tshape)
        if self.natural:
            return tuple(int(i) for i in idx)
        pos = [0] * len(idx)
        for j, ax in enumerate(self.lorder):
            pos[ax] = int(idx[j])
        return tuple(pos)


def _inverse(perm):
    inv = [0] * len(perm)
    for j, i in enumerate(perm):
        inv[i] = j
    return inv


def check_class_weights(weight, K, dtype):
    """Per-class weights: None, or a 1-D array of length K converted to `dtype`."""
    if weight is None:
        return None
    w = as_real_array(weight, "weight")
    if w.shape != (K,):
        raise ValueError(f"weight must have shape ({K},), one value per class; got shape "
                         f"{w.shape}")
    return np.ascontiguousarray(w, dtype=dtype)


def check_ignore_index(ignore_index):
    ii = _as_int(ignore_index, f"ignore_index must be an integer, got {ignore_index!r}")
    if not -(2**63) <= ii < 2**63:
        raise ValueError(f"ignore_index {ii} does not fit in 64 bits")
    return ii


def check_topk(topk, name="topk"):
    """A positive int (bools and floats are a TypeError)."""
    k = _as_int(topk, f"{name} must be a positive integer, got {topk!r}")
    if k < 1:
        raise ValueError(f"{name} must be a positive integer, got {k}")
    return k


def check_label_smoothing(label_smoothing):
    try:
        eps = float(label_smoothing)
    except (TypeError, ValueError):
        raise TypeError(
            f"label_smoothing must be a number in [0, 1], got {label_smoothing!r}") from None
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
    return eps


def _real(value, name, what):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be {what}, got {value!r}") from None
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    return v


def loss_options(z_loss, softcap, focal_gamma):
    """The kernels' keywords of cross-entropy's options, checked: z_loss and focal_gamma finite
    and >= 0, softcap None (0.0 for the kernels) or a finite positive number."""
    z = _real(z_loss, "z_loss", "a non-negative number")
    if not (z >= 0 and math.isfinite(z)):
        raise ValueError(f"z_loss must be a finite non-negative number, got {z_loss!r}")
    gamma = _real(focal_gamma, "focal_gamma", "a non-negative number")
    if not (gamma >= 0 and math.isfinite(gamma)):
        raise ValueError(f"focal_gamma must be a finite non-negative number, got {focal_gamma!r}")
    cap = 0.0
    if softcap is not None:
        cap = _real(softcap, "softcap", "a positive number or None")
        if not (cap > 0 and math.isfinite(cap)):
            raise ValueError(f"softcap must be a finite positive number or None, got {softcap!r}")
    return {"z_loss": z, "softcap": cap, "focal_gamma": gamma}


NO_LOSS_OPTIONS = {"z_loss": 0.0, "softcap": 0.0, "focal_gamma": 0.0}  # plain cross-entropy


def merge_axes(a, axes):
    """Move `axes` of `a` to the end and merge them into one (a view where strides allow)."""
    nd = a.ndim
    kept = [i for i in range(nd) if i not in axes]
    n = 1
    for i in axes:
        n *= a.shape[i]
    return a.transpose(kept + list(axes)).reshape(tuple(a.shape[i] for i in kept) + (n,))


def normalize_axes(axis, ndim, name):
    """None or a tuple of axes -> sorted-as-given tuple of distinct indices."""
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(normalize_axis(ax, ndim, name) for ax in axis)
    if len(set(axes)) != len(axes):
        raise ValueError(f"axis {axis} repeats an axis")
    return axes
