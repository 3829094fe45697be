# cython: language_level=3
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# cython: freethreading_compatible=True
"""Compiled kernels of cxent.

Layering
--------
The public functions (``cxent._softmax``, ``cxent._losses``) validate their input and present
every array to this module as a strided 3-D view ``(A, B, K)``: ``K`` runs along the class axis and
the ``M = A * B`` rows are all other positions, merged into at most two strided dimensions without
copying (``cxent._validate.Layout``).  Each ``def`` below runs one public operation over all rows:

* Rows are cut into blocks whose size depends only on ``K`` (never on the thread count).  A
  reduction over rows adds the block sums in block order, so every result is bit-identical whatever
  ``n_threads`` is.
* Blocks are spread over threads by ``prange(schedule="static")`` with the GIL released.  Small work
  (fewer than ``_grain`` elements) runs on the calling thread and never enters an OpenMP region.
* Per-row work is a ``cdef inline ... noexcept nogil`` function on raw pointers with an element
  stride; its stride-1 branch is a plain loop the C compiler can vectorise.

Numerics
--------
Each row is shifted by its maximum.  Sums of exponentials and losses are accumulated in float64,
for float32 data too.  Non-finite values follow PyTorch: a +inf logit makes its row nan (logsumexp
gives +inf), an all -inf row gives logsumexp -inf and nan elsewhere, nan stays in its row.

Array arguments are marked ``# IN`` (read, never written: ``const`` memoryviews, so read-only
arrays and memory maps are accepted) or ``# OUT`` (written).
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, expf, log, log1p, INFINITY, NAN
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, free

cdef extern from "_cxent_omp.h" nogil:
    int cx_omp_max_threads()
    int CX_HAVE_OPENMP
    int CX_OPENMP_VERSION


# Work (in elements) below which a call stays on the calling thread.
cdef Py_ssize_t _grain = 1 << 16
# Number of elements a block of rows aims at.
cdef Py_ssize_t _BLOCK = 1 << 14


ctypedef struct Str3:
    # element strides of a (A, B, K) view
    Py_ssize_t a, b, k


ctypedef struct Str2:
    # element strides of a (A, B) view
    Py_ssize_t a, b


def openmp_info():
    """Return ``(built with OpenMP, _OPENMP date or 0, omp_get_max_threads())``."""
    return bool(CX_HAVE_OPENMP), int(CX_OPENMP_VERSION), int(cx_omp_max_threads())


def _set_grain(Py_ssize_t elements):
    """Set the serial/parallel threshold (elements); return the previous one.  For tests."""
    global _grain
    old = _grain
    _grain = max(elements, 0)
    return old


# ---------------------------------------------------------------------------------------------
# helpers

cdef inline Py_ssize_t _block_rows(Py_ssize_t K) noexcept nogil:
    if K >= _BLOCK:
        return 1
    return _BLOCK // (K if K > 0 else 1)


cdef inline int _threads(int requested, Py_ssize_t work, Py_ssize_t nblocks) noexcept nogil:
    cdef int n = requested if requested > 0 else cx_omp_max_threads()
    if work < _grain or nblocks < 2 or n < 1:
        return 1
    if n > nblocks:
        n = <int> nblocks
    return n


cdef inline Str3 _str3(const Py_ssize_t* strides, Py_ssize_t itemsize) noexcept:
    cdef Str3 s
    s.a = strides[0] // itemsize
    s.b = strides[1] // itemsize
    s.k = strides[2] // itemsize
    return s


cdef inline Str2 _str2(const Py_ssize_t* strides, Py_ssize_t itemsize) noexcept:
    cdef Str2 s
    s.a = strides[0] // itemsize
    s.b = strides[1] // itemsize
    return s


cdef inline floating _exp(floating v) noexcept nogil:
    if floating is float:
        return expf(v)
    else:
        return exp(v)


# ---------------------------------------------------------------------------------------------
# one row

cdef inline floating _row_max(const floating* x, Py_ssize_t K, Py_ssize_t s) noexcept nogil:
    # nan never compares greater, so it is skipped here and propagates through exp() later
    cdef floating m = -INFINITY
    cdef Py_ssize_t k
    if s == 1:
        for k in range(K):
            if x[k] > m:
                m = x[k]
    else:
        for k in range(K):
            if x[k * s] > m:
                m = x[k * s]
    return m


cdef inline double _sum_exp(const floating* x, Py_ssize_t k0, Py_ssize_t k1, Py_ssize_t s,
                            floating shift, floating* e, Py_ssize_t se) noexcept nogil:
    # sum of exp(x_k - shift) for k0 <= k < k1 in float64; when e != NULL each term goes to e
    cdef double acc = 0.0
    cdef floating v
    cdef Py_ssize_t k
    if e == NULL:
        if s == 1:
            for k in range(k0, k1):
                acc += _exp(x[k] - shift)
        else:
            for k in range(k0, k1):
                acc += _exp(x[k * s] - shift)
    else:
        for k in range(k0, k1):
            v = _exp(x[k * s] - shift)
            e[k * se] = v
            acc += v
    return acc


ctypedef struct RowSum:
    # The normaliser of a row of the softmax family, shifted by the row maximum.
    double shift      # the row max; 0 for a row without one (all -inf or nan, or no element)
    double rest       # sum of exp(x_k - shift) over all k except the first maximum
    double total      # the whole sum: 1 + rest (rest alone for a row without a maximum)
    double log_total  # log(total) as log1p(rest), exact when the maximum dominates


cdef inline RowSum _row_sum(const floating* x, Py_ssize_t K, Py_ssize_t s, floating* e,
                            Py_ssize_t se) noexcept nogil:
    # Leaving the maximum's own term (exactly 1) out of the float64 sum keeps log(total) accurate
    # when the other terms are tiny: the loss of a confident correct prediction is log1p(rest).
    # A +inf maximum makes the row nan, as in PyTorch.  With e != NULL every exp(x_k - shift) is
    # stored in e (1 at the maximum).
    cdef floating m = _row_max(x, K, s)
    cdef Py_ssize_t im = 0
    cdef RowSum r
    if not m > -INFINITY:  # all -inf / nan, or K == 0: 0/0 = nan and log(0) = -inf follow
        r.shift = 0.0
        r.rest = _sum_exp(x, 0, K, s, <floating> 0, e, se)
        r.total = r.rest
        r.log_total = log(r.rest)
        return r
    while x[im * s] != m:
        im += 1
    r.shift = m
    r.rest = _sum_exp(x, 0, im, s, m, e, se) + _sum_exp(x, im + 1, K, s, m, e, se)
    if e != NULL:
        e[im * se] = 1
    if m == INFINITY:
        r.rest = NAN
    r.total = 1.0 + r.rest
    r.log_total = log1p(r.rest)
    return r


cdef inline void _softmax_row(const floating* x, Py_ssize_t sx, floating* o, Py_ssize_t so,
                              Py_ssize_t K, bint log_space) noexcept nogil:
    cdef RowSum r
    cdef floating shift
    cdef double inv
    cdef Py_ssize_t k
    if log_space:
        r = _row_sum(x, K, sx, <floating*> NULL, 0)
        shift = <floating> r.shift
        for k in range(K):
            o[k * so] = <floating> ((x[k * sx] - shift) - r.log_total)
    else:
        r = _row_sum(x, K, sx, o, so)
        inv = 1.0 / r.total
        for k in range(K):
            o[k * so] = <floating> (o[k * so] * inv)


cdef inline double _lse_row(const floating* x, Py_ssize_t sx, Py_ssize_t K) noexcept nogil:
    cdef RowSum r = _row_sum(x, K, sx, <floating*> NULL, 0)
    cdef Py_ssize_t k
    if r.shift == INFINITY:  # logsumexp keeps +inf (SciPy, PyTorch) unless the row has a nan
        for k in range(K):
            if x[k * sx] != x[k * sx]:
                return NAN
        return INFINITY
    return r.shift + r.log_total


cdef inline double _xent_label_row(const floating* x, Py_ssize_t sx, Py_ssize_t K, Py_ssize_t y,
                                   floating* g, Py_ssize_t sg, double scale) noexcept nogil:
    # Loss -log softmax(x)_y of one row (0 <= y < K), in float64.  With g != NULL also writes
    # scale * (softmax(x) - onehot(y)); the label's entry (e_y - total) / total is computed in
    # float64 from e_y and the sum of the other terms, so it keeps its relative accuracy when p_y
    # is close to 1.
    cdef RowSum r = _row_sum(x, K, sx, g, sg)
    cdef double ey, inv
    cdef Py_ssize_t k
    if g != NULL:
        ey = g[y * sg]
        inv = scale / r.total
        for k in range(K):
            g[k * sg] = <floating> (g[k * sg] * inv)
        if ey == 1:  # the label holds a maximum: e_y - total = -rest exactly
            g[y * sg] = <floating> (scale * (-r.rest / r.total))
        else:
            g[y * sg] = <floating> (scale * ((ey - r.total) / r.total))
    return r.log_total - (<double> x[y * sx] - r.shift)


cdef inline double _xent_prob_row(const floating* x, Py_ssize_t sx, const floating* t,
                                  Py_ssize_t st, Py_ssize_t K, floating* g, Py_ssize_t sg,
                                  double scale) noexcept nogil:
    # Loss -sum_k t_k log softmax(x)_k = T log(total) - sum_k t_k (x_k - shift), T = sum_k t_k,
    # with the convention 0 * log 0 = 0 (a zero target never meets a -inf logit).  With
    # g != NULL also writes scale * (softmax(x) * T - t).
    cdef RowSum r = _row_sum(x, K, sx, g, sg)
    cdef double T = 0.0, dot = 0.0, tk, q
    cdef Py_ssize_t k
    for k in range(K):
        tk = t[k * st]
        if tk != 0:
            T += tk
            dot += tk * (<double> x[k * sx] - r.shift)
    if g != NULL:
        q = T / r.total
        for k in range(K):
            g[k * sg] = <floating> (scale * (g[k * sg] * q - t[k * st]))
    return T * r.log_total - dot


# ---------------------------------------------------------------------------------------------
# one block of rows [r0, r1); row r is (a, b) = divmod(r, B)

cdef void _softmax_block(const floating* x, Str3 sx, floating* o, Str3 so, Py_ssize_t B,
                         Py_ssize_t K, Py_ssize_t r0, Py_ssize_t r1,
                         bint log_space) noexcept nogil:
    cdef Py_ssize_t a = r0 // B
    cdef Py_ssize_t b = r0 - a * B
    cdef Py_ssize_t _
    for _ in range(r0, r1):
        _softmax_row(x + a * sx.a + b * sx.b, sx.k, o + a * so.a + b * so.b, so.k, K, log_space)
        b += 1
        if b == B:
            b = 0
            a += 1


cdef void _lse_block(const floating* x, Str3 sx, floating* o, Str2 so, Py_ssize_t B,
                     Py_ssize_t K, Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    cdef Py_ssize_t a = r0 // B
    cdef Py_ssize_t b = r0 - a * B
    cdef Py_ssize_t _
    for _ in range(r0, r1):
        o[a * so.a + b * so.b] = <floating> _lse_row(x + a * sx.a + b * sx.b, sx.k, K)
        b += 1
        if b == B:
            b = 0
            a += 1


cdef void _xent_label_block(const floating* x, Str3 sx, const int64_t* y, Str2 sy,
                            floating* loss, Str2 sl, floating* g, Str3 sg, Py_ssize_t B,
                            Py_ssize_t K, Py_ssize_t r0, Py_ssize_t r1, double scale,
                            double* total, int64_t* bad) noexcept nogil:
    # total[0] <- sum of the block's row losses; bad[0] <- first row with a label outside [0, K)
    cdef Py_ssize_t a = r0 // B
    cdef Py_ssize_t b = r0 - a * B
    cdef Py_ssize_t r
    cdef int64_t lab
    cdef double acc = 0.0, row_loss
    cdef floating* grow = NULL
    bad[0] = -1
    for r in range(r0, r1):
        lab = y[a * sy.a + b * sy.b]
        if lab < 0 or lab >= K:
            if bad[0] < 0:
                bad[0] = r
        else:
            if g != NULL:
                grow = g + a * sg.a + b * sg.b
            row_loss = _xent_label_row(x + a * sx.a + b * sx.b, sx.k, K, lab, grow, sg.k, scale)
            if loss != NULL:
                loss[a * sl.a + b * sl.b] = <floating> row_loss
            acc += row_loss
        b += 1
        if b == B:
            b = 0
            a += 1
    total[0] = acc


cdef void _xent_prob_block(const floating* x, Str3 sx, const floating* t, Str3 st,
                           floating* loss, Str2 sl, floating* g, Str3 sg, Py_ssize_t B,
                           Py_ssize_t K, Py_ssize_t r0, Py_ssize_t r1, double scale,
                           double* total) noexcept nogil:
    cdef Py_ssize_t a = r0 // B
    cdef Py_ssize_t b = r0 - a * B
    cdef Py_ssize_t _
    cdef double acc = 0.0, row_loss
    cdef floating* grow = NULL
    for _ in range(r0, r1):
        if g != NULL:
            grow = g + a * sg.a + b * sg.b
        row_loss = _xent_prob_row(x + a * sx.a + b * sx.b, sx.k, t + a * st.a + b * st.b,
                                  st.k, K, grow, sg.k, scale)
        if loss != NULL:
            loss[a * sl.a + b * sl.b] = <floating> row_loss
        acc += row_loss
        b += 1
        if b == B:
            b = 0
            a += 1
    total[0] = acc


# ---------------------------------------------------------------------------------------------
# entry points: one per public operation

def softmax_rows(const floating[:, :, :] x,  # IN  (A, B, K) logits
                 floating[:, :, :] out,      # OUT (A, B, K)
                 bint log_space, int n_threads):
    """``out[a, b, :] = softmax(x[a, b, :])``, or log_softmax when ``log_space``."""
    cdef Py_ssize_t B = x.shape[1], K = x.shape[2], M = x.shape[0] * x.shape[1]
    cdef Py_ssize_t rows = _block_rows(K), nblk = (M + rows - 1) // rows, i
    cdef int nt = _threads(n_threads, M * K, nblk)
    cdef Str3 sx = _str3(x.strides, sizeof(floating)), so = _str3(out.strides, sizeof(floating))
    if M == 0:
        return
    cdef const floating* px = &x[0, 0, 0]
    cdef floating* po = &out[0, 0, 0]
    with nogil:
        if nt == 1:
            _softmax_block(px, sx, po, so, B, K, 0, M, log_space)
        else:
            for i in prange(nblk, schedule="static", num_threads=nt):
                _softmax_block(px, sx, po, so, B, K, i * rows, min(M, (i + 1) * rows),
                               log_space)


def logsumexp_rows(const floating[:, :, :] x,  # IN  (A, B, K)
                   floating[:, :] out,         # OUT (A, B)
                   int n_threads):
    """``out[a, b] = log(sum(exp(x[a, b, :])))``."""
    cdef Py_ssize_t B = x.shape[1], K = x.shape[2], M = x.shape[0] * x.shape[1]
    cdef Py_ssize_t rows = _block_rows(K), nblk = (M + rows - 1) // rows, i
    cdef int nt = _threads(n_threads, M * K, nblk)
    cdef Str3 sx = _str3(x.strides, sizeof(floating))
    cdef Str2 so = _str2(out.strides, sizeof(floating))
    if M == 0:
        return
    cdef const floating* px = &x[0, 0, 0]
    cdef floating* po = &out[0, 0]
    with nogil:
        if nt == 1:
            _lse_block(px, sx, po, so, B, K, 0, M)
        else:
            for i in prange(nblk, schedule="static", num_threads=nt):
                _lse_block(px, sx, po, so, B, K, i * rows, min(M, (i + 1) * rows))


def cross_entropy_labels(const floating[:, :, :] x,  # IN  (A, B, K) logits
                         const int64_t[:, :] y,      # IN  (A, B) class indices
                         floating[:, :] loss,         # OUT (A, B) row losses, if want_loss
                         floating[:, :, :] grad,      # OUT (A, B, K) gradient, if want_grad
                         bint want_loss, bint want_grad, double scale, int n_threads):
    """Cross-entropy with class indices, and ``scale * (softmax - onehot)`` in the same pass.

    Returns ``(sum of the row losses in float64, first row whose label is outside [0, K) or -1)``.
    """
    cdef Py_ssize_t B = x.shape[1], K = x.shape[2], M = x.shape[0] * x.shape[1]
    cdef Py_ssize_t rows = _block_rows(K), nblk = (M + rows - 1) // rows, i
    cdef int nt = _threads(n_threads, M * K, nblk)
    cdef Str3 sx = _str3(x.strides, sizeof(floating)), sg = _str3(grad.strides, sizeof(floating))
    cdef Str2 sy = _str2(y.strides, sizeof(int64_t)), sl = _str2(loss.strides, sizeof(floating))
    if M == 0:
        return 0.0, -1
    cdef const floating* px = &x[0, 0, 0]
    cdef const int64_t* py = &y[0, 0]
    cdef floating* pl = &loss[0, 0] if want_loss else NULL
    cdef floating* pg = &grad[0, 0, 0] if want_grad else NULL
    cdef double* part = <double*> malloc(nblk * sizeof(double))
    cdef int64_t* bad = <int64_t*> malloc(nblk * sizeof(int64_t))
    cdef double total = 0.0
    cdef int64_t first_bad = -1
    if part == NULL or bad == NULL:
        free(part)
        free(bad)
        raise MemoryError()
    try:
        with nogil:
            if nt == 1:
                for i in range(nblk):
                    _xent_label_block(px, sx, py, sy, pl, sl, pg, sg, B, K, i * rows,
                                      min(M, (i + 1) * rows), scale, &part[i], &bad[i])
            else:
                for i in prange(nblk, schedule="static", num_threads=nt):
                    _xent_label_block(px, sx, py, sy, pl, sl, pg, sg, B, K, i * rows,
                                      min(M, (i + 1) * rows), scale, &part[i], &bad[i])
            for i in range(nblk):
                total += part[i]
                if first_bad < 0 and bad[i] >= 0:
                    first_bad = bad[i]
    finally:
        free(part)
        free(bad)
    return total, first_bad


def cross_entropy_probs(const floating[:, :, :] x,  # IN  (A, B, K) logits
                        const floating[:, :, :] t,  # IN  (A, B, K) target probabilities
                        floating[:, :] loss,         # OUT (A, B) row losses, if want_loss
                        floating[:, :, :] grad,      # OUT (A, B, K) gradient, if want_grad
                        bint want_loss, bint want_grad, double scale, int n_threads):
    """Cross-entropy with probability targets, and ``scale * (softmax * sum(t) - t)``.

    Returns the sum of the row losses in float64.
    """
    cdef Py_ssize_t B = x.shape[1], K = x.shape[2], M = x.shape[0] * x.shape[1]
    cdef Py_ssize_t rows = _block_rows(K), nblk = (M + rows - 1) // rows, i
    cdef int nt = _threads(n_threads, M * K, nblk)
    cdef Str3 sx = _str3(x.strides, sizeof(floating)), st = _str3(t.strides, sizeof(floating))
    cdef Str3 sg = _str3(grad.strides, sizeof(floating))
    cdef Str2 sl = _str2(loss.strides, sizeof(floating))
    if M == 0:
        return 0.0
    cdef const floating* px = &x[0, 0, 0]
    cdef const floating* pt = &t[0, 0, 0]
    cdef floating* pl = &loss[0, 0] if want_loss else NULL
    cdef floating* pg = &grad[0, 0, 0] if want_grad else NULL
    cdef double* part = <double*> malloc(nblk * sizeof(double))
    cdef double total = 0.0
    if part == NULL:
        raise MemoryError()
    try:
        with nogil:
            if nt == 1:
                for i in range(nblk):
                    _xent_prob_block(px, sx, pt, st, pl, sl, pg, sg, B, K, i * rows,
                                     min(M, (i + 1) * rows), scale, &part[i])
            else:
                for i in prange(nblk, schedule="static", num_threads=nt):
                    _xent_prob_block(px, sx, pt, st, pl, sl, pg, sg, B, K, i * rows,
                                     min(M, (i + 1) * rows), scale, &part[i])
            for i in range(nblk):
                total += part[i]
    finally:
        free(part)
    return total
