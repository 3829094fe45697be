# The one driver every kernel runs on: blocks of rows, threads, chunks with signal checks, fork,
# and the block-order reduction of the per-block results.  Included by _kernels_impl.pxi.

# Work (in elements) below which a call stays on the calling thread.
cdef Py_ssize_t _grain = 1 << 16
# Work (in elements) between two checks for signals (Ctrl-C): a few milliseconds.
cdef Py_ssize_t _CHUNK = 1 << 22
# Number of elements a block of rows aims at.
cdef Py_ssize_t _BLOCK = 1 << 14

cx_install_fork_handler()


ctypedef struct Str3:
    # element strides of an (A, B, K) view
    Py_ssize_t a, b, k


ctypedef struct Str2:
    # element strides of an (A, B) view
    Py_ssize_t a, b


ctypedef struct BlockOut:
    # what one block of rows reports (the driver zeroes it, first_bad -1, before the block
    # runs) and the driver combines in block order
    double total        # sum of the rows' results (losses) in float64
    int64_t first_bad   # first row whose class index is neither in [0, K) nor ignored, or -1
    int64_t counted     # number of class indices not ignored
    double more[2]      # further sums of a family (temperature scaling: the derivatives)
    int oom             # 1: the block could not allocate its scratch


# One family's loop over rows r0 <= r < r1 of a call; `args` is the family's argument struct.
ctypedef void (*BlockFn)(const void* args, Py_ssize_t r0, Py_ssize_t r1,
                         BlockOut* out) noexcept nogil


cdef inline Py_ssize_t _block_rows(Py_ssize_t K) noexcept nogil:
    if K >= _BLOCK:
        return 1
    return _BLOCK // (K if K > 0 else 1)


cdef inline int _threads(int requested, Py_ssize_t work, Py_ssize_t nblocks) noexcept nogil:
    cdef int n
    if work < _grain or nblocks < 2 or cx_in_forked_child():
        return 1
    n = requested if requested > 0 else cx_omp_max_threads()
    if n < 1:
        return 1
    if n > nblocks:
        n = <int> nblocks
    return n


cdef int _run(BlockFn fn, const void* args, Py_ssize_t M, Py_ssize_t K, int n_threads,
              BlockOut* res) except -1:
    # All M rows of one call (K elements each), in blocks whose size depends only on K: serially
    # for small work, else spread over threads by a static schedule, with the GIL released.
    # res <- the blocks' totals added in block order (so the result does not depend on the
    # thread count), their counts, and the first bad row.  The blocks run in chunks of about
    # _CHUNK elements; between chunks the GIL is taken briefly to check for signals, so Ctrl-C
    # interrupts a long call within milliseconds (KeyboardInterrupt, no thread left running).
    # In a forked child the work stays on the calling thread (libgomp does not survive fork).
    cdef Py_ssize_t rows = _block_rows(K), nblk = (M + rows - 1) // rows, i, c0, c1
    cdef Py_ssize_t per_chunk = max(1, _CHUNK // (rows * (K if K > 0 else 1)))
    cdef int nt = _threads(n_threads, M * (K if K > 0 else 1), nblk)
    cdef BlockOut* part
    res.total, res.first_bad, res.counted, res.oom = 0.0, -1, 0, 0
    res.more[0] = res.more[1] = 0.0
    if M <= 0:
        return 0
    part = <BlockOut*> malloc(nblk * sizeof(BlockOut))
    if part == NULL:
        raise MemoryError()
    for i in range(nblk):
        part[i].total, part[i].first_bad, part[i].counted, part[i].oom = 0.0, -1, 0, 0
        part[i].more[0] = part[i].more[1] = 0.0
    c0 = 0
    while c0 < nblk:
        c1 = min(nblk, c0 + per_chunk)
        with nogil:
            if nt == 1:
                for i in range(c0, c1):
                    fn(args, i * rows, min(M, (i + 1) * rows), &part[i])
            else:
                for i in prange(c0, c1, schedule="static", num_threads=nt):
                    fn(args, i * rows, min(M, (i + 1) * rows), &part[i])
        c0 = c1
        if c0 < nblk and PyErr_CheckSignals() != 0:
            free(part)
            return -1
    for i in range(nblk):
        res.total += part[i].total
        res.counted += part[i].counted
        res.oom |= part[i].oom
        res.more[0] += part[i].more[0]
        res.more[1] += part[i].more[1]
        if res.first_bad < 0 and part[i].first_bad >= 0:
            res.first_bad = part[i].first_bad
    free(part)
    if res.oom:
        raise MemoryError()
    return 0


# ---------------------------------------------------------------------------------------------
# positions: row r of an (A, B) grid of rows is (a, b) = divmod(r, B)

ctypedef struct Pos:
    Py_ssize_t a, b, B


cdef inline Pos _pos(Py_ssize_t r, Py_ssize_t B) noexcept nogil:
    cdef Pos p
    p.B = B
    p.a = r // B if B > 0 else 0
    p.b = r - p.a * B
    return p


cdef inline void _next(Pos* p) noexcept nogil:
    p.b += 1
    if p.b == p.B:
        p.b = 0
        p.a += 1


cdef inline Py_ssize_t _at3(Str3 s, Pos p) noexcept nogil:
    return p.a * s.a + p.b * s.b


cdef inline Py_ssize_t _at2(Str2 s, Pos p) noexcept nogil:
    return p.a * s.a + p.b * s.b


cdef inline Pos _ahead(Pos p, Py_ssize_t n) noexcept nogil:
    # the position n rows after p
    return _pos(p.a * p.B + p.b + n, p.B)


cdef inline bint _offsets(Py_ssize_t sa, Py_ssize_t sb, Pos p, Py_ssize_t n,
                          Py_ssize_t* o) noexcept nogil:
    # o[r] <- the offset of the row r after p, r in [0, n), in an array with row strides (sa, sb),
    # and whether they are a run o[0] + r sb: while the rows stay in one a (always for C-ordered
    # input, where A = 1), by additions, not a multiplication per row; row by row where they
    # cross into the next a
    cdef Py_ssize_t r, v = p.a * sa + p.b * sb
    if p.b + n <= p.B:
        for r in range(n):
            o[r] = v
            v += sb
        return True
    for r in range(n):
        o[r] = p.a * sa + p.b * sb
        _next(&p)
    return False


# ---------------------------------------------------------------------------------------------
# arrays -> raw pointers and element strides, for the entry points.  Absent arrays are None and
# become NULL.

cdef inline Str3 _s3(const Py_ssize_t* strides, Py_ssize_t itemsize) noexcept:
    cdef Str3 s
    s.a = strides[0] // itemsize
    s.b = strides[1] // itemsize
    s.k = strides[2] // itemsize
    return s


cdef inline Str2 _s2(const Py_ssize_t* strides, Py_ssize_t itemsize) noexcept:
    cdef Str2 s
    s.a = strides[0] // itemsize
    s.b = strides[1] // itemsize
    return s


cdef inline Str3 _c3(Py_ssize_t K) noexcept:
    # strides of a C-contiguous (1, M, K) view
    cdef Str3 s
    s.a = 0
    s.b = K
    s.k = 1
    return s


cdef inline Str2 _c2() noexcept:
    cdef Str2 s
    s.a = 0
    s.b = 1
    return s


@cython.auto_pickle(False)
cdef class _CBuffers:
    # C-contiguous buffers of the arrays of one small call (the Python layer's fast paths),
    # through the buffer protocol: cheaper than typed memoryviews for arrays of a few elements.
    # The buffers are released when the object goes.
    cdef Py_buffer views[4]
    cdef int n

    cdef void* get(self, object a, bint writable, Py_ssize_t itemsize,
                   Py_ssize_t items) except NULL:
        # the data of `a`, which must hold `items` items of `itemsize` bytes
        cdef Py_buffer* v = &self.views[self.n]
        PyObject_GetBuffer(a, v, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT
                           | (PyBUF_WRITABLE if writable else 0))
        self.n += 1
        if v.itemsize != itemsize or v.len != items * itemsize:
            raise ValueError(f"expected {items} items of {itemsize} bytes, got {v.len} bytes "
                             f"in items of {v.itemsize}")
        return v.buf if v.buf != NULL else <void*> self  # no element: any non-NULL pointer

    def __dealloc__(self):
        cdef int i
        for i in range(self.n):
            PyBuffer_Release(&self.views[i])


def openmp_info():
    """Return ``(built with OpenMP, _OPENMP date or 0, omp_get_max_threads(), path of the OpenMP
    runtime library this module uses or None)``."""
    cdef bytes path = cx_omp_runtime_path()
    return (bool(CX_HAVE_OPENMP), int(CX_OPENMP_VERSION), int(cx_omp_max_threads()),
            path.decode("utf-8", "replace") or None)


def cpu_features():
    """Instruction sets this CPU and OS support: bit 0 AVX2+FMA, bit 1 AVX-512 (F, DQ, VL, BW)."""
    return cx_cpu_features()


def _set_grain(Py_ssize_t elements):
    """Set the serial/parallel threshold (elements); return the previous one.  For tests."""
    global _grain
    old = _grain
    _grain = max(elements, 0)
    return old
