"""Large output arrays, kept for the next call of the same size when the caller drops them.

An output of more than 32 MiB costs more than its writing the first time: glibc's malloc maps
such a block anew at every allocation (its mmap threshold grows to 32 MiB at most; other
allocators behave alike), and the kernel zero-fills each page at its first store.  For a
1,000,000 x 10 float64 gradient that is about 8 ms of a 37 ms call (AVX2 build, one thread); a
training or scoring loop pays it at every step.  So the arrays the public functions allocate
for their large outputs take their memory from `empty`: when such an array (and every view of
it) is gone, its block stays here, and the next output of the same number of bytes reuses it.

At most `KEEP_BLOCKS` blocks and `keep_bytes` bytes are kept (`CXENT_KEEP_BYTES` in the
environment sets the latter at import; 0 keeps nothing); `release_memory` frees them all.
Smaller outputs come from ``np.empty`` unchanged: malloc reuses them from its heap by itself.
"""

import collections
import os
import warnings

import numpy as np

__all__ = ["KEEP_BLOCKS", "NEW_PAGES_BYTES", "empty", "empty_like", "kept_bytes", "new_pages",
           "release_memory"]

# Outputs of more than this many bytes are mapped anew at every allocation (see above); the
# kernels write them by ordinary stores when their pages are new (`new_pages`), by
# non-temporal ones when they are reused
NEW_PAGES_BYTES = (1 << 25) - (1 << 12)
KEEP_BLOCKS = 4
DEFAULT_KEEP_BYTES = 1 << 30


def _keep_bytes_from_env():
    text = os.environ.get("CXENT_KEEP_BYTES", "").strip()
    if not text:
        return DEFAULT_KEEP_BYTES
    try:
        return max(int(text), 0)
    except ValueError:
        warnings.warn(f"CXENT_KEEP_BYTES={text!r} is not a whole number of bytes; keeping at "
                      f"most {DEFAULT_KEEP_BYTES} bytes", RuntimeWarning, stacklevel=2)
        return DEFAULT_KEEP_BYTES


keep_bytes = _keep_bytes_from_env()


class _Block:
    """A block of memory (a uint8 array).  Compared by identity, so that finding one in `_free`
    never compares arrays element by element."""

    __slots__ = ("array", "nbytes")

    def __init__(self, nbytes):
        self.array = np.empty(nbytes, np.uint8)
        self.nbytes = nbytes


# blocks no output uses, most recently freed last
_free: collections.deque[_Block] = collections.deque()


class _Lease:
    """The base of an output array on a kept block: gives the block back when it is deleted,
    which is when the array and all its views are gone."""

    __slots__ = ("__array_interface__", "block", "new")

    def __init__(self, block, shape, dtype, new):
        self.block = block
        self.new = new  # the block was allocated for this array (its pages are new)
        self.__array_interface__ = {
            "shape": shape, "typestr": dtype.str, "version": 3,
            "data": (block.array.__array_interface__["data"][0], False)}

    def __del__(self):
        _give_back(self.block)


def _give_back(block):
    if block.nbytes > keep_bytes:
        return
    _free.append(block)
    total = kept_bytes()
    while _free and (len(_free) > KEEP_BLOCKS or total > keep_bytes):
        try:
            total -= _free.popleft().nbytes
        except IndexError:  # emptied by another thread
            break


def _take(nbytes):
    for block in list(_free):
        if block.nbytes == nbytes:
            try:
                _free.remove(block)
            except ValueError:  # taken by another thread (identity: _Block)
                continue
            return block
    return None


def empty(shape, dtype):
    """``np.empty(shape, dtype)`` (C order); above NEW_PAGES_BYTES on a kept block."""
    dtype = np.dtype(dtype)
    shape = tuple(shape)
    nbytes = dtype.itemsize
    for n in shape:
        nbytes *= n
    if nbytes <= NEW_PAGES_BYTES:
        return np.empty(shape, dtype)
    return _leased(nbytes, shape, dtype)


def empty_like(x):
    """``(empty(x.shape, x.dtype), its new_pages)`` for an ndarray `x`, in one call (the small
    calls' fast paths)."""
    if x.nbytes <= NEW_PAGES_BYTES:
        return np.empty(x.shape, x.dtype), False
    arr = _leased(x.nbytes, x.shape, x.dtype)
    return arr, arr.base.new


def _leased(nbytes, shape, dtype):
    block = _take(nbytes)
    lease = _Lease(_Block(nbytes) if block is None else block, shape, dtype, block is None)
    return np.asarray(lease)


def new_pages(arr):
    """Whether `arr`, just allocated by `empty` (or a view of it), has pages no store has
    touched: a new block of more than NEW_PAGES_BYTES."""
    base = arr.base
    while isinstance(base, np.ndarray):
        base = base.base
    return type(base) is _Lease and base.new


def kept_bytes() -> int:
    """The bytes of the blocks kept now (summed over a copy of `_free`: iterating the deque
    itself raises if another thread gives a block back meanwhile)."""
    return sum(b.nbytes for b in list(_free))


def release_memory() -> int:
    """Free the memory cxent keeps for its next large outputs.

    An output array of more than 32 MiB that cxent allocated (a gradient, a softmax) gives its
    memory back to cxent when the array and all its views are gone, and the next output of the
    same number of bytes reuses it: a loop then does not pay for new pages at every call.  At
    most 4 such blocks and 1 GiB are kept (the environment variable ``CXENT_KEEP_BYTES``, read
    at import, sets the bytes; 0 keeps nothing).  This frees them now.

    Returns
    -------
    int
        The number of bytes freed.

    Examples
    --------
    >>> import numpy as np
    >>> import cxent
    >>> _ = cxent.release_memory()                  # start with nothing kept
    >>> g = cxent.softmax(np.zeros((1_100_000, 4)))  # 35.2 MB
    >>> del g                                       # its memory is kept for the next one
    >>> cxent.release_memory()
    35200000
    >>> cxent.release_memory()
    0
    """
    total = 0
    while _free:
        try:
            total += _free.popleft().nbytes
        except IndexError:
            break
    return total
