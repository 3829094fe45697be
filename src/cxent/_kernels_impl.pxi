# The compiled kernels of cxent, included by _kernels.pyx (the portable baseline) and by
# _kernels_avx2.pyx / _kernels_avx512.pyx (the same code compiled for those instruction sets;
# cxent._isa picks one at import).  Compiler directives are set in setup.py for all of them:
# boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False,
# freethreading_compatible=True.
"""Compiled kernels of cxent.

Layering
--------
The public functions (``cxent._softmax``, ``_losses``, ``_information``, ``_metrics``,
``_scale``) validate their input and present
every array to this module as a strided 3-D view ``(A, B, K)``: ``K`` runs along the class axis and
the ``M = A * B`` rows are all other positions, merged into at most two strided dimensions without
copying (``cxent._validate.Layout``).  Each ``def`` below runs one public operation over all rows:

* Rows are cut into blocks whose size depends only on ``K`` (never on the thread count).  A
  reduction over rows adds the block sums in block order, so every result is bit-identical whatever
  ``n_threads`` is.
* Blocks are spread over threads by ``prange(schedule="static")`` with the GIL released.  Small work
  (fewer than ``_grain`` elements) runs on the calling thread and never enters an OpenMP region.
* Blocks run in chunks of about ``_CHUNK`` elements; between chunks the GIL is taken briefly to
  check for signals (Ctrl-C).  In a forked child the kernels run serially (libgomp's pool does
  not survive fork).
* Per-row work is a ``cdef inline ... noexcept nogil`` function on raw pointers with an element
  stride; its stride-1 branch calls the vectorizable exp and reductions of ``_simd.h``.  With at
  most ``_SMALL_K`` classes, rows are processed a tile at a time, transposed so that one vector
  lane holds one row.
* All one operation needs is gathered in a ``Job``; ``_run`` drives the blocks and ``_block``
  dispatches each row to its operation, so every entry point shares the threading, chunking
  and error reporting.  ``rows_c`` and ``class_index_loss_c`` fill a ``Job`` from C-contiguous
  arrays through the buffer protocol, for the Python layer's fast paths (small calls).

Numerics
--------
Each row is shifted by its maximum.  Sums of exponentials and losses are accumulated in float64,
for float32 data too (float32 terms added in pairs first, see _simd.h).  Non-finite values
follow PyTorch: a +inf logit makes its row nan (logsumexp gives +inf), an all -inf row gives
logsumexp -inf and nan elsewhere, nan stays in its row.

Array arguments are marked ``# IN`` (read, never written: ``const`` memoryviews, so read-only
arrays and memory maps are accepted) or ``# OUT`` (written).
"""
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBUF_C_CONTIGUOUS,
                             PyBUF_FORMAT, PyBUF_WRITABLE)
from cpython.exc cimport PyErr_CheckSignals
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, fabs, log, log1p, INFINITY, NAN
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset

cdef extern from "_simd.h" nogil:
    double cx_exp_d(double x)
    double cx_log1p_d(double u)
    float cx_exp_f(float x)
    float cx_exp_diff_f(float a, float b)
    double cx_max_d(const double* x, Py_ssize_t n)
    float cx_max_f(const float* x, Py_ssize_t n)
    double cx_sumexp_rest_d(const double* x, Py_ssize_t n, double m, double* e, double* count)
    double cx_sumexp_rest_f(const float* x, Py_ssize_t n, float m, float* e, double* count)
    void cx_scale_d(const double* e, double* g, Py_ssize_t n, double c)
    void cx_scale_f(const float* e, float* g, Py_ssize_t n, double c)
    void cx_logsub_d(const double* x, double* o, Py_ssize_t n, double m, double c)
    void cx_logsub_f(const float* x, float* o, Py_ssize_t n, float m, double c)
    void cx_scale_lanes_d(double* e, const double* c, Py_ssize_t n)
    void cx_scale_lanes_f(float* e, const double* c, Py_ssize_t n)
    enum: CX_TILE
    void cx_tile_labels_d(const double* xt, const double* et, const Py_ssize_t* lab,
                          const double* w, Py_ssize_t sw, Py_ssize_t n, const double* sh,
                          const double* rest, const double* tot, const double* logt,
                          const double* dot, double eps, double wsum, double scale, Py_ssize_t K,
                          double* val, double* coef, double* gy)
    void cx_tile_labels_f(const float* xt, const float* et, const Py_ssize_t* lab,
                          const float* w, Py_ssize_t sw, Py_ssize_t n, const float* sh,
                          const double* rest, const double* tot, const double* logt,
                          const double* dot, double eps, double wsum, double scale, Py_ssize_t K,
                          double* val, double* coef, double* gy)
    void cx_tile_rowsum_d(double* xt, Py_ssize_t n, Py_ssize_t K, double* et, double* mt,
                          double* sh, double* rest, double* tot, double* logt)
    void cx_tile_rowsum_f(float* xt, Py_ssize_t n, Py_ssize_t K, float* et, float* mt,
                          float* sh, double* rest, double* tot, double* logt)
    void cx_tile_gather_d(const double* x, const Py_ssize_t* off, Py_ssize_t n, Py_ssize_t K,
                          double* tile)
    void cx_tile_gather_f(const float* x, const Py_ssize_t* off, Py_ssize_t n, Py_ssize_t K,
                          float* tile)
    void cx_tile_scatter_d(const double* tile, Py_ssize_t n, Py_ssize_t K, double* g,
                           const Py_ssize_t* off)
    void cx_tile_scatter_f(const float* tile, Py_ssize_t n, Py_ssize_t K, float* g,
                           const Py_ssize_t* off)

cdef extern from "_cxent_platform.h" nogil:
    int cx_omp_max_threads()
    const char* cx_omp_runtime_path()
    int cx_cpu_features()
    int cx_install_fork_handler()
    int cx_in_forked_child()
    int CX_HAVE_OPENMP
    int CX_OPENMP_VERSION


# Work (in elements) below which a call stays on the calling thread.
cdef Py_ssize_t _grain = 1 << 16
# Work (in elements) between two checks for signals (Ctrl-C): a few milliseconds.
cdef Py_ssize_t _CHUNK = 1 << 22

cx_install_fork_handler()
# Number of elements a block of rows aims at.
cdef Py_ssize_t _BLOCK = 1 << 14


ctypedef struct Str3:
    # element strides of a (A, B, K) view
    Py_ssize_t a, b, k


ctypedef struct Str2:
    # element strides of a (A, B) view
    Py_ssize_t a, b


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


# ---------------------------------------------------------------------------------------------
# helpers

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
    # the vectorizable exp of _simd.h (within 2 ulp, IEEE inf/nan/subnormal behaviour)
    if floating is float:
        return cx_exp_f(v)
    else:
        return cx_exp_d(v)


cdef inline floating _exp_diff(floating a, floating b) noexcept nogil:
    # exp(a - b); for float32 without the rounding error of the subtraction
    if floating is float:
        return cx_exp_diff_f(a, b)
    else:
        return cx_exp_d(a - b)


cdef inline void _scale(const floating* e, floating* g, Py_ssize_t n, double c) noexcept nogil:
    # g[k] = e[k] * c, contiguous (g may be e); within about half an ulp for float32 too
    if floating is float:
        cx_scale_f(e, g, n, c)
    else:
        cx_scale_d(e, g, n, c)


cdef inline void _scale_lanes(floating* e, const double* c, Py_ssize_t n) noexcept nogil:
    # e[r] *= c[r] for r in [0, n): one column of a small-K tile
    if floating is float:
        cx_scale_lanes_f(e, c, n)
    else:
        cx_scale_lanes_d(e, c, n)


# ---------------------------------------------------------------------------------------------
# one row

cdef inline floating _row_max(const floating* x, Py_ssize_t K, Py_ssize_t s) noexcept nogil:
    # nan never compares greater, so it is skipped here and propagates through exp() later
    cdef floating m = -INFINITY
    cdef Py_ssize_t k
    if s == 1:
        if floating is float:
            return cx_max_f(x, K)
        else:
            return cx_max_d(x, K)
    for k in range(K):
        if x[k * s] > m:
            m = x[k * s]
    return m


cdef inline double _sum_exp_rest(const floating* x, Py_ssize_t K, Py_ssize_t s, floating m,
                                 floating* e, Py_ssize_t se, double* count) noexcept nogil:
    # sum of exp(x_k - m) over the k with x_k != m, in float64; count[0] <- the number of
    # x_k == m.  When e != NULL every term exp(x_k - m) is stored in e.
    cdef double acc = 0.0, cnt = 0.0
    cdef floating v
    cdef Py_ssize_t k
    if s == 1 and (e == NULL or se == 1):
        if floating is float:
            return cx_sumexp_rest_f(x, K, m, e, count)
        else:
            return cx_sumexp_rest_d(x, K, m, e, count)
    for k in range(K):
        v = _exp_diff(x[k * s], m)
        if e != NULL:
            e[k * se] = v
        if x[k * s] == m:
            cnt += 1
        else:
            acc += v
    count[0] = cnt
    return acc


ctypedef struct RowSum:
    # The normaliser of a row of the softmax family, shifted by the row maximum.
    double shift      # the row max; 0 for a row without one (all -inf or nan, or no element)
    double rest       # sum of exp(x_k - shift) minus one term 1 of the maximum
    double total      # the whole sum: 1 + rest (rest alone for a row without a maximum)
    double log_total  # log(total) as log1p(rest), exact when the maximum dominates


cdef inline RowSum _row_sum(const floating* x, Py_ssize_t K, Py_ssize_t s, floating* e,
                            Py_ssize_t se, bint want_log=True) noexcept nogil:
    # Leaving the maximum's own term (exactly 1) out of the float64 sum keeps log(total) accurate
    # when the other terms are tiny: the loss of a confident correct prediction is log1p(rest).
    # A +inf maximum makes the row nan, as in PyTorch.  With e != NULL every exp(x_k - shift) is
    # stored in e (1 at the maximum).  log_total is left unset without want_log (softmax).
    cdef floating m = _row_max(x, K, s)
    cdef double cnt
    cdef RowSum r
    r.log_total = NAN
    if not m > -INFINITY:  # all -inf / nan, or K == 0: 0/0 = nan and log(0) = -inf follow
        r.shift = 0.0
        r.rest = _sum_exp_rest(x, K, s, <floating> 0, e, se, &cnt)  # no x_k is 0 here
        r.total = r.rest
        if want_log:
            r.log_total = log(r.rest)
        return r
    r.shift = m
    r.rest = _sum_exp_rest(x, K, s, m, e, se, &cnt) + (cnt - 1.0)
    if m == INFINITY:
        r.rest = NAN
    r.total = 1.0 + r.rest
    if want_log:
        r.log_total = log1p(r.rest)
    return r


cdef inline void _softmax_row(const floating* x, Py_ssize_t sx, floating* o, Py_ssize_t so,
                              Py_ssize_t K, bint log_space) noexcept nogil:
    cdef RowSum r
    cdef floating shift
    cdef double inv, c
    cdef Py_ssize_t k
    if log_space:
        r = _row_sum(x, K, sx, <floating*> NULL, 0)
        shift = <floating> r.shift
        c = r.log_total
        if sx == 1 and so == 1:
            if floating is float:
                cx_logsub_f(x, o, K, shift, c)
            else:
                cx_logsub_d(x, o, K, shift, c)
        else:
            for k in range(K):
                o[k * so] = <floating> ((<double> x[k * sx] - <double> shift) - c)
    else:
        r = _row_sum(x, K, sx, o, so, False)
        inv = 1.0 / r.total
        if so == 1:
            _scale(o, o, K, inv)
        else:
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


cdef inline double _xent_label_finish(const floating* x, Py_ssize_t sx, Py_ssize_t K,
                                      Py_ssize_t y, const floating* w, Py_ssize_t sw,
                                      double wsum, double eps, RowSum r, const floating* e,
                                      Py_ssize_t se, floating* g, Py_ssize_t sg,
                                      double scale) noexcept nogil:
    # Loss of one row with class index y (0 <= y < K), in float64, PyTorch's definition:
    #   (1 - eps) w_y (-log p_y) + (eps / K) sum_k w_k (-log p_k)
    # (w = 1 without class weights, wsum = sum_k w_k), from the row's normaliser r and its terms
    # e_k = exp(x_k - shift).  With g != NULL also writes scale times its gradient,
    # p_k c - (1 - eps) w_y [k == y] - (eps / K) w_k with c = (1 - eps) w_y + (eps / K) wsum
    # (g may be e itself).  The label's entry uses p_y - 1 = -rest / total when x_y is the
    # maximum, so it keeps its relative accuracy when p_y is close to 1.
    cdef double wy = w[y * sw] if w != NULL else 1.0
    cdef double a = (1.0 - eps) * wy
    cdef double sm = eps / K
    cdef double c = a + sm * wsum
    cdef double loss = a * (r.log_total - (<double> x[y * sx] - r.shift))
    cdef double dot = 0.0, wk, ey, inv, pm1
    cdef Py_ssize_t k
    if eps != 0:
        for k in range(K):
            wk = w[k * sw] if w != NULL else 1.0
            if wk != 0:
                dot += wk * (<double> x[k * sx] - r.shift)
        loss += sm * (wsum * r.log_total - dot)
    if g != NULL:
        ey = e[y * se]
        inv = scale * c / r.total
        if eps == 0 and sg == 1 and se == 1:
            _scale(e, g, K, inv)
        elif eps == 0:
            for k in range(K):
                g[k * sg] = <floating> (e[k * se] * inv)
        else:
            for k in range(K):
                wk = w[k * sw] if w != NULL else 1.0
                g[k * sg] = <floating> (e[k * se] * inv - scale * sm * wk)
        pm1 = -r.rest / r.total if ey == 1 else (ey - r.total) / r.total
        g[y * sg] = <floating> (scale * (c * pm1 + ((c - a) - sm * wy)))
    return loss


cdef inline double _xent_prob_finish(const floating* x, Py_ssize_t sx, const floating* t,
                                     Py_ssize_t st, const floating* w, Py_ssize_t sw,
                                     double eps, Py_ssize_t K, RowSum r, const floating* e,
                                     Py_ssize_t se, floating* g, Py_ssize_t sg,
                                     double scale) noexcept nogil:
    # Loss -sum_k w_k t'_k log p_k with t' = (1 - eps) t + eps / K (PyTorch's smoothing of
    # probability targets), = T log(total) - sum_k w_k t'_k (x_k - shift) with T = sum_k w_k t'_k,
    # and the convention 0 log 0 = 0: a zero w_k t'_k never meets a -inf logit.  With g != NULL
    # also writes scale * (p * T - w t') (g may be e itself).
    cdef double T = 0.0, dot = 0.0, tk, q, sm = eps / K
    cdef Py_ssize_t k
    for k in range(K):
        tk = (1.0 - eps) * t[k * st] + sm
        if w != NULL:
            tk = tk * w[k * sw]
        if tk != 0:
            T += tk
            dot += tk * (<double> x[k * sx] - r.shift)
    if g != NULL:
        q = T / r.total
        for k in range(K):
            tk = (1.0 - eps) * t[k * st] + sm
            if w != NULL:
                tk = tk * w[k * sw]
            g[k * sg] = <floating> (scale * (e[k * se] * q - tk))
    return T * r.log_total - dot


cdef inline double _nll_row(const floating* lp, Py_ssize_t sx, Py_ssize_t K, Py_ssize_t y,
                            const floating* w, Py_ssize_t sw, floating* g, Py_ssize_t sg,
                            double scale) noexcept nogil:
    # Loss -w_y lp_y of one row of log-probabilities; gradient -scale w_y at y, 0 elsewhere.
    cdef double wy = w[y * sw] if w != NULL else 1.0
    cdef Py_ssize_t k
    if g != NULL:
        for k in range(K):
            g[k * sg] = 0
        g[y * sg] = <floating> (-scale * wy)
    return -wy * lp[y * sx]


cdef inline double _softplus(double v) noexcept nogil:
    # log(1 + exp(v)) without overflow, accurate for very negative v
    if v > 0:
        return v + log1p(exp(-v))
    return log1p(exp(v))


cdef inline double _sigmoid(double v) noexcept nogil:
    cdef double e
    if v >= 0:
        return 1.0 / (1.0 + exp(-v))
    e = exp(v)
    return e / (1.0 + e)


cdef inline double _bce_row(const floating* x, Py_ssize_t sx, const floating* t, Py_ssize_t st,
                            const floating* w, Py_ssize_t sw, const floating* pw,
                            Py_ssize_t spw, Py_ssize_t K, floating* l, Py_ssize_t sl,
                            floating* g, Py_ssize_t sg, double scale) noexcept nogil:
    # Elementwise w [pw t softplus(-x) + (1 - t) softplus(x)]: -log sigmoid(x) = softplus(-x)
    # keeps a tiny loss accurate, and a term whose coefficient is 0 is left out (so x = +-inf
    # with the matching target gives 0, not 0 * inf).  Gradient w [(1 - t) s(x) - pw t s(-x)].
    cdef double acc = 0.0, v, tk, wk, pk, lk, c0, c1
    cdef Py_ssize_t k
    for k in range(K):
        v = x[k * sx]
        tk = t[k * st]
        wk = w[k * sw] if w != NULL else 1.0
        pk = pw[k * spw] if pw != NULL else 1.0
        c1 = pk * tk
        c0 = 1.0 - tk
        lk = 0.0
        if c1 != 0:
            lk += c1 * _softplus(-v)
        if c0 != 0:
            lk += c0 * _softplus(v)
        lk = wk * lk
        if l != NULL:
            l[k * sl] = <floating> lk
        if g != NULL:
            g[k * sg] = <floating> (scale * wk * (c0 * _sigmoid(v) - c1 * _sigmoid(-v)))
        acc += lk
    return acc


cdef inline void _softmax_backward_row(const floating* y, Py_ssize_t sy, const floating* go,
                                       Py_ssize_t sgo, Py_ssize_t K, floating* o, Py_ssize_t so,
                                       bint log_space) noexcept nogil:
    # softmax:     grad_in = y (grad_out - sum(grad_out y))
    # log_softmax: grad_in = grad_out - exp(y) sum(grad_out)
    cdef double acc = 0.0
    cdef Py_ssize_t k
    if log_space:
        for k in range(K):
            acc += go[k * sgo]
        for k in range(K):
            o[k * so] = <floating> (go[k * sgo] - _exp(y[k * sy]) * acc)
    else:
        for k in range(K):
            acc += <double> go[k * sgo] * y[k * sy]
        for k in range(K):
            o[k * so] = <floating> (y[k * sy] * (go[k * sgo] - acc))


cdef inline double _lse_b_row(const floating* x, Py_ssize_t sx, const floating* b,
                              Py_ssize_t sb, Py_ssize_t K, double* sign) noexcept nogil:
    # log|sum_k b_k exp(x_k)| and its sign, SciPy's rules: b_k = 0 leaves x_k out (even inf or
    # nan); a nan gives (nan, nan); +inf terms decide alone (inf with their sign, nan if they
    # cancel); a zero sum gives (-inf, 0).  b == NULL means b = 1.
    cdef double m = -INFINITY, bk, v, s_inf = 0.0, acc = 0.0
    cdef bint any_nan = False
    cdef Py_ssize_t k
    for k in range(K):
        bk = b[k * sb] if b != NULL else 1.0
        if bk == 0:
            continue
        v = x[k * sx]
        if v != v or bk != bk:
            any_nan = True
        elif v > m:
            m = v
        if v == INFINITY:
            s_inf += bk
    if any_nan:
        sign[0] = NAN
        return NAN
    if m == INFINITY:
        if s_inf == 0 or s_inf != s_inf:
            sign[0] = NAN
            return NAN
        sign[0] = 1.0 if s_inf > 0 else -1.0
        return INFINITY
    if m == -INFINITY:
        sign[0] = 0.0
        return -INFINITY
    for k in range(K):
        bk = b[k * sb] if b != NULL else 1.0
        if bk != 0:
            acc += bk * exp(<double> x[k * sx] - m)
    if acc == 0:
        sign[0] = 0.0
        return -INFINITY
    sign[0] = 1.0 if acc > 0 else -1.0
    return m + log(fabs(acc))


cdef inline double _clip(double v, double lo, double hi) noexcept nogil:
    # into [lo, hi] when lo <= hi (nan stays nan); unchanged otherwise
    if lo <= hi:
        v = lo if v < lo else v
        v = hi if v > hi else v
    return v


cdef inline double _info_row(const floating* p, Py_ssize_t sp, const floating* q,
                             Py_ssize_t sq, Py_ssize_t K, int mode, double lo,
                             double hi) noexcept nogil:
    # mode 0, entropy:        sum_k entr(p_k),        entr(p) = -p log p, 0 at 0, -inf below
    # mode 1, KL divergence:  sum_k rel_entr(p_k, q_k) = p log(p / q); 0 where p = 0 <= q;
    #                         inf where p > 0 = q or either is negative
    # mode 2, cross-entropy:  sum_k -p_k log q_k, 0 where p = 0; q clipped into [lo, hi]
    #                         first when lo <= hi
    # (scipy.special's entr and rel_entr; nan propagates)
    cdef double acc = 0.0, pk, qk
    cdef Py_ssize_t k
    for k in range(K):
        pk = p[k * sp]
        if mode == 0:
            if pk > 0:
                acc -= pk * log(pk)
            elif pk < 0:
                acc = -INFINITY
            elif pk != pk:
                acc += pk
        else:
            qk = q[k * sq]
            if mode == 1:
                if pk > 0 and qk > 0:
                    acc += pk * log(pk / qk)
                elif pk == 0 and qk >= 0:
                    pass
                elif pk != pk or qk != qk:
                    acc += pk + qk
                else:
                    acc = INFINITY
            else:
                qk = _clip(qk, lo, hi)
                if pk != 0 or qk != qk:
                    acc -= pk * log(qk)
    return acc


# ---------------------------------------------------------------------------------------------
# One call: the arrays of an operation and its scalars, as the blocks read them.  Pointers are
# untyped (the block casts them to the call's floating type, or int64 for labels); strides are
# in elements; a NULL pointer is an array the call does not have or does not want.

ctypedef struct Job:
    int op
    Py_ssize_t B, K
    Str3 sx
    char* t                # second full-shape input: targets, b, q, grad_output
    Str3 st
    char* w                # class weights (K,) (stride w_s.k), or BCE's weight (full view)
    Str3 sw
    char* pw               # BCE's pos_weight (full view)
    Str3 spw
    const int64_t* y       # class indices (A, B)
    Str2 sy
    char* out              # per-row output (A, B): losses, logsumexp, information measures
    Str2 so
    char* sign             # logsumexp's sign (A, B)
    Str2 ssign
    char* g                # full-shape output: softmax, gradients, BCE's gradient
    Str3 sg
    char* g2               # BCE's per-element losses (full shape)
    Str3 sg2
    const double* rw       # per-position sample weights (A, B) of the losses, or NULL
    Str2 srw
    double scale, eps, wsum, factor
    double lo, hi          # clip probabilities into [lo, hi] before their log (log_loss)
    int64_t ignore


cdef enum:
    OP_SOFTMAX
    OP_LOG_SOFTMAX
    OP_LSE
    OP_LSE_B
    OP_XENT_LABELS
    OP_XENT_PROBS
    OP_NLL
    OP_BCE
    OP_SOFTMAX_BACKWARD
    OP_LOG_SOFTMAX_BACKWARD
    OP_ENTROPY
    OP_KL
    OP_XENT_DIST
    OP_PROB_NLL


# ---------------------------------------------------------------------------------------------
# Few classes (K <= _SMALL_K, the tabular case): a row loop would spend its time in horizontal
# reductions and loop overhead on vectors longer than the row.  Instead, _TILE rows at a time are
# copied transposed into scratch (classes x rows), so that the maximum, the exponentials, their
# sums, the logarithms and the outputs (probabilities, gradients) run down the columns with one
# row per vector lane; only the per-row scalars (the label's entry, the loss) are formed row by
# row, and the output tile is copied back transposed.  Probability targets are finished row by
# row with the row path's code.

cdef enum:
    _SMALL_K = 16
    _TILE = CX_TILE


cdef bint _small_k_block(const floating* x, const Job* j, Py_ssize_t r0, Py_ssize_t r1,
                         double* total, int64_t* bad, int64_t* counted) noexcept nogil:
    cdef int op = j.op
    if not (op == OP_SOFTMAX or op == OP_LOG_SOFTMAX or op == OP_LSE or op == OP_XENT_LABELS
            or op == OP_XENT_PROBS):
        return False
    cdef Py_ssize_t B = j.B, K = j.K, T = _TILE
    cdef Py_ssize_t a = r0 // B
    cdef Py_ssize_t b = r0 - a * B
    cdef Py_ssize_t t0, n, r, k, sgk
    cdef floating* xt = <floating*> malloc((2 * K + 2) * T * sizeof(floating))
    cdef double* dd = <double*> malloc(8 * T * sizeof(double))
    cdef Py_ssize_t* idx = <Py_ssize_t*> malloc(5 * T * sizeof(Py_ssize_t))
    if xt == NULL or dd == NULL or idx == NULL:
        free(xt)
        free(dd)
        free(idx)
        return False
    cdef floating* et = xt + K * T          # exponentials, then the output tile
    cdef floating* mt = et + K * T          # row maxima
    cdef floating* sh = mt + T              # shifts: the maximum, 0 for a row without one
    cdef double* rest = dd
    cdef double* tot = dd + 1 * T
    cdef double* logt = dd + 2 * T
    cdef double* coef = dd + 3 * T          # per-row factor of the output tile
    cdef double* val = dd + 4 * T           # per-row results
    cdef double* dot = dd + 5 * T           # label smoothing's sum_k w_k (x_k - shift)
    cdef double* gy = dd + 6 * T            # gradient at the class index
    cdef double* rwt = dd + 7 * T           # sample weights of the tile's rows (1 without)
    cdef floating one = 1
    cdef Py_ssize_t* ox = idx               # row offsets in x, targets, g, out
    cdef Py_ssize_t* ot = idx + T
    cdef Py_ssize_t* og = idx + 2 * T
    cdef Py_ssize_t* oo = idx + 3 * T
    cdef Py_ssize_t* lab = idx + 4 * T      # class index, -1 for an ignored or invalid one
    cdef const floating* t = <const floating*> j.t
    cdef const floating* w = <const floating*> j.w
    cdef floating* out = <floating*> j.out
    cdef floating* g = <floating*> j.g
    cdef floating* grow
    cdef double acc = 0.0, wk
    cdef double sm = j.eps / K
    cdef int64_t y
    cdef RowSum rs
    cdef int64_t ncount = 0
    # the Job's fields as locals: stores through the scratch pointers could alias *j
    cdef Str3 sx = j.sx, st = j.st, sg = j.sg
    cdef Str2 so = j.so, sy = j.sy
    cdef const int64_t* ys = j.y
    cdef int64_t ignore = j.ignore
    cdef bint labels = op == OP_XENT_LABELS
    bad[0] = -1
    t0 = r0
    while t0 < r1:
        n = min(T, r1 - t0)
        for r in range(n):
            ox[r] = a * sx.a + b * sx.b
            ot[r] = a * st.a + b * st.b
            og[r] = a * sg.a + b * sg.b
            oo[r] = a * so.a + b * so.b
            rwt[r] = j.rw[a * j.srw.a + b * j.srw.b] if j.rw != NULL else 1.0
            if labels:
                y = ys[a * sy.a + b * sy.b]
                if y < 0 or y >= K or y == ignore:
                    if y != ignore and bad[0] < 0:
                        bad[0] = t0 + r
                    lab[r] = -1
                else:
                    # counted; a zero sample weight gives exact zeros, as an ignored position
                    lab[r] = <Py_ssize_t> y if rwt[r] != 0 else -1
                    ncount += 1
            b += 1
            if b == B:
                b = 0
                a += 1
        # gather the tile transposed: xt[k * T + r] = x[row r][k]
        if floating is float:
            cx_tile_gather_f(x, ox, n, K, xt)
        else:
            cx_tile_gather_d(x, ox, n, K, xt)
        # maxima, exponentials and their sums, one row per vector lane
        if floating is float:
            cx_tile_rowsum_f(xt, n, K, et, mt, sh, rest, tot, logt)
        else:
            cx_tile_rowsum_d(xt, n, K, et, mt, sh, rest, tot, logt)
        if op == OP_SOFTMAX:
            for r in range(n):
                coef[r] = 1.0 / tot[r]
            for k in range(K):
                _scale_lanes(et + k * T, coef, n)
        elif op == OP_LOG_SOFTMAX:
            for k in range(K):
                for r in range(n):
                    et[k * T + r] = <floating> ((<double> xt[k * T + r] - <double> sh[r])
                                                - logt[r])
        elif op == OP_LSE:
            for r in range(n):
                val[r] = _lse_row(x + ox[r], 1, K) if mt[r] == INFINITY else sh[r] + logt[r]
        elif op == OP_XENT_LABELS:  # PyTorch's definition, as _xent_label_finish
            for r in range(n):
                dot[r] = 0.0
            if j.eps != 0:
                for k in range(K):
                    wk = w[k * j.sw.k] if w != NULL else 1.0
                    if wk != 0:
                        for r in range(n):
                            dot[r] += wk * (<double> xt[k * T + r] - <double> sh[r])
            # per row: loss, the factor of the exponentials, the label's gradient (in gy)
            if floating is float:
                cx_tile_labels_f(xt, et, lab, w if w != NULL else &one, j.sw.k if w != NULL else 0,
                                 n, sh, rest, tot, logt, dot, j.eps, j.wsum, j.scale, K, val,
                                 coef, gy)
            else:
                cx_tile_labels_d(xt, et, lab, w if w != NULL else &one, j.sw.k if w != NULL else 0,
                                 n, sh, rest, tot, logt, dot, j.eps, j.wsum, j.scale, K, val,
                                 coef, gy)
            if j.rw != NULL:  # each row's loss and gradient times its sample weight
                for r in range(n):
                    val[r] = val[r] * rwt[r]
                    coef[r] = coef[r] * rwt[r]
                    gy[r] = gy[r] * rwt[r]
            if g != NULL:
                for k in range(K):
                    if j.eps != 0:
                        wk = j.scale * sm * (w[k * j.sw.k] if w != NULL else 1.0)
                        for r in range(n):
                            et[k * T + r] = <floating> (et[k * T + r] * coef[r] - wk * rwt[r])
                    else:
                        _scale_lanes(et + k * T, coef, n)
                for r in range(n):
                    if lab[r] >= 0:
                        et[lab[r] * T + r] = <floating> gy[r]
                    else:  # exact zeros, whatever the logits (nan included)
                        for k in range(K):
                            et[k * T + r] = 0
        if op == OP_XENT_PROBS:
            for r in range(n):
                rs.shift = sh[r]
                rs.rest = rest[r]
                rs.total = tot[r]
                rs.log_total = logt[r]
                grow = g + og[r] if g != NULL else NULL
                if rwt[r] == 0:  # a zero sample weight: exact zeros
                    val[r] = 0.0
                    if grow != NULL:
                        for k in range(K):
                            grow[k * j.sg.k] = 0
                    continue
                val[r] = rwt[r] * _xent_prob_finish(x + ox[r], 1, t + ot[r], j.st.k, w, j.sw.k,
                                                    j.eps, K, rs, et + r, T, grow, j.sg.k,
                                                    j.scale * rwt[r])
        elif g != NULL and (op == OP_SOFTMAX or op == OP_LOG_SOFTMAX or op == OP_XENT_LABELS):
            # copy the output tile back transposed
            if j.sg.k == 1:
                if floating is float:
                    cx_tile_scatter_f(et, n, K, g, og)
                else:
                    cx_tile_scatter_d(et, n, K, g, og)
            else:
                sgk = j.sg.k
                for r in range(n):
                    grow = g + og[r]
                    for k in range(K):
                        grow[k * sgk] = et[k * T + r]
        if op != OP_SOFTMAX and op != OP_LOG_SOFTMAX:
            for r in range(n):
                if out != NULL:
                    out[oo[r]] = <floating> val[r]
                acc += val[r]
        t0 += n
    free(xt)
    free(dd)
    free(idx)
    total[0] = acc
    counted[0] = ncount
    return True


cdef void _block(const floating* x, const Job* j, Py_ssize_t r0, Py_ssize_t r1,
                 double* total, int64_t* bad, int64_t* counted) noexcept nogil:
    # Rows r0 <= r < r1 of one call; row r is (a, b) = divmod(r, B).  total[0] <- the sum of
    # the rows' results (losses); bad[0] <- the first row with a class index that is neither in
    # [0, K) nor ignore_index; counted[0] <- the number of class indices not ignored.
    cdef Py_ssize_t B = j.B, K = j.K
    cdef Py_ssize_t a = r0 // B
    cdef Py_ssize_t b = r0 - a * B
    cdef Py_ssize_t r, k, ox, ot, ow, opw, og, og2
    cdef int64_t lab
    cdef double acc = 0.0, v
    cdef const floating* t = <const floating*> j.t
    cdef const floating* w = <const floating*> j.w
    cdef const floating* pw = <const floating*> j.pw
    cdef floating* out = <floating*> j.out
    cdef floating* sign = <floating*> j.sign
    cdef floating* g = <floating*> j.g
    cdef floating* g2 = <floating*> j.g2
    cdef floating* grow
    cdef double sgn, rwv = 1.0
    cdef RowSum rs
    cdef int64_t ncount = 0
    bad[0] = -1
    if 0 < K <= _SMALL_K and j.sx.k == 1 and _small_k_block(x, j, r0, r1, total, bad, counted):
        return
    for r in range(r0, r1):
        ox = a * j.sx.a + b * j.sx.b
        ot = a * j.st.a + b * j.st.b
        og = a * j.sg.a + b * j.sg.b
        grow = g + og if g != NULL else NULL
        if j.rw != NULL:
            rwv = j.rw[a * j.srw.a + b * j.srw.b]
        if j.op == OP_SOFTMAX or j.op == OP_LOG_SOFTMAX:
            _softmax_row(x + ox, j.sx.k, grow, j.sg.k, K, j.op == OP_LOG_SOFTMAX)
        elif j.op == OP_SOFTMAX_BACKWARD or j.op == OP_LOG_SOFTMAX_BACKWARD:
            _softmax_backward_row(x + ox, j.sx.k, t + ot, j.st.k, K, grow, j.sg.k,
                                  j.op == OP_LOG_SOFTMAX_BACKWARD)
        else:
            if j.op == OP_LSE:
                v = _lse_row(x + ox, j.sx.k, K)
            elif j.op == OP_LSE_B:
                v = _lse_b_row(x + ox, j.sx.k, t + ot if t != NULL else NULL, j.st.k, K, &sgn)
                if sign != NULL:
                    sign[a * j.ssign.a + b * j.ssign.b] = <floating> sgn
                elif sgn < 0:
                    v = NAN
            elif j.op == OP_BCE:
                ow = a * j.sw.a + b * j.sw.b
                opw = a * j.spw.a + b * j.spw.b
                og2 = a * j.sg2.a + b * j.sg2.b
                v = _bce_row(x + ox, j.sx.k, t + ot, j.st.k, w + ow if w != NULL else NULL,
                             j.sw.k, pw + opw if pw != NULL else NULL, j.spw.k, K,
                             g2 + og2 if g2 != NULL else NULL, j.sg2.k, grow, j.sg.k, j.scale)
            elif j.op == OP_XENT_PROBS and rwv == 0:  # a zero sample weight: exact zeros
                v = 0.0
                if grow != NULL:
                    for k in range(K):
                        grow[k * j.sg.k] = 0
            elif j.op == OP_XENT_PROBS:
                rs = _row_sum(x + ox, K, j.sx.k, grow, j.sg.k)
                v = rwv * _xent_prob_finish(x + ox, j.sx.k, t + ot, j.st.k, w, j.sw.k, j.eps, K,
                                            rs, grow, j.sg.k, grow, j.sg.k, j.scale * rwv)
            elif j.op == OP_ENTROPY or j.op == OP_KL or j.op == OP_XENT_DIST:
                v = j.factor * _info_row(x + ox, j.sx.k, t + ot if t != NULL else NULL, j.st.k,
                                         K, j.op - OP_ENTROPY, j.lo, j.hi)
            else:  # OP_XENT_LABELS, OP_NLL
                lab = j.y[a * j.sy.a + b * j.sy.b]
                if lab < 0 or lab >= K:
                    if lab != j.ignore and bad[0] < 0:
                        bad[0] = r
                    v = 0.0
                    if grow != NULL:
                        for k in range(K):
                            grow[k * j.sg.k] = 0
                elif lab == j.ignore:
                    v = 0.0
                    if grow != NULL:
                        for k in range(K):
                            grow[k * j.sg.k] = 0
                elif rwv == 0:  # counted; a zero sample weight gives exact zeros
                    ncount += 1
                    v = 0.0
                    if grow != NULL:
                        for k in range(K):
                            grow[k * j.sg.k] = 0
                elif j.op == OP_PROB_NLL:  # -log of the clipped probability of the class
                    ncount += 1
                    v = -log(_clip(x[ox + lab * j.sx.k], j.lo, j.hi))
                elif j.op == OP_NLL:
                    ncount += 1
                    v = rwv * _nll_row(x + ox, j.sx.k, K, lab, w, j.sw.k, grow, j.sg.k,
                                       j.scale * rwv)
                else:
                    ncount += 1
                    rs = _row_sum(x + ox, K, j.sx.k, grow, j.sg.k)
                    v = rwv * _xent_label_finish(x + ox, j.sx.k, K, lab, w, j.sw.k, j.wsum, j.eps,
                                                 rs, grow, j.sg.k, grow, j.sg.k, j.scale * rwv)
            if out != NULL:
                out[a * j.so.a + b * j.so.b] = <floating> v
            acc += v
        b += 1
        if b == B:
            b = 0
            a += 1
    total[0] = acc
    counted[0] = ncount


cdef double _run(const floating* x, Job* j, Py_ssize_t M, int n_threads,
                 int64_t* first_bad, int64_t* counted) except? -1:
    # All M rows of one call, in fixed blocks (serially for small work, else over threads);
    # returns the sum of the block totals, added in block order.  first_bad[0] <- the first row
    # with an invalid class index or -1; counted[0] <- the class indices not ignored.  The
    # blocks run in chunks of about _CHUNK elements; between chunks the GIL is taken briefly to
    # check for signals, so Ctrl-C interrupts a long call within milliseconds (KeyboardInterrupt,
    # no thread left running).
    cdef Py_ssize_t K = j.K, rows = _block_rows(K), nblk = (M + rows - 1) // rows, i
    cdef Py_ssize_t per_chunk = max(1, _CHUNK // (rows * (K if K > 0 else 1)))
    cdef Py_ssize_t c0, c1
    cdef int nt = _threads(n_threads, M * (K if K > 0 else 1), nblk)
    cdef double* part
    cdef int64_t* bad
    cdef double total = 0.0
    first_bad[0] = -1
    counted[0] = 0
    if M == 0:
        return 0.0
    part = <double*> malloc(nblk * sizeof(double))
    bad = <int64_t*> malloc(2 * nblk * sizeof(int64_t))
    if part == NULL or bad == NULL:
        free(part)
        free(bad)
        raise MemoryError()
    c0 = 0
    while c0 < nblk:
        c1 = min(nblk, c0 + per_chunk)
        with nogil:
            if nt == 1:
                for i in range(c0, c1):
                    _block(x, j, i * rows, min(M, (i + 1) * rows), &part[i], &bad[i],
                           &bad[nblk + i])
            else:
                for i in prange(c0, c1, schedule="static", num_threads=nt):
                    _block(x, j, i * rows, min(M, (i + 1) * rows), &part[i], &bad[i],
                           &bad[nblk + i])
        c0 = c1
        if c0 < nblk and PyErr_CheckSignals() != 0:
            free(part)
            free(bad)
            return -1
    for i in range(nblk):
        total += part[i]
        counted[0] += bad[nblk + i]
        if first_bad[0] < 0 and bad[i] >= 0:
            first_bad[0] = bad[i]
    free(part)
    free(bad)
    return total


cdef inline Job _job(int op, Py_ssize_t B, Py_ssize_t K) noexcept:
    cdef Job j
    memset(&j, 0, sizeof(Job))
    j.op = op
    j.B = B
    j.K = K
    return j


# ---------------------------------------------------------------------------------------------
# entry points, one per public operation; arrays are (A, B, K) or (A, B) views, each argument
# marked IN (read only: const, so read-only arrays and memory maps pass) or OUT (written)

def softmax_rows(const floating[:, :, :] x,  # IN  (A, B, K) logits
                 floating[:, :, :] out,      # OUT (A, B, K)
                 bint log_space, int n_threads):
    """``out[a, b, :] = softmax(x[a, b, :])``, or log_softmax when ``log_space``."""
    cdef Job j = _job(OP_LOG_SOFTMAX if log_space else OP_SOFTMAX, x.shape[1], x.shape[2])
    cdef int64_t bad, counted
    cdef Py_ssize_t M = x.shape[0] * x.shape[1]
    if M == 0:
        return
    j.sx = _str3(x.strides, sizeof(floating))
    j.g = <char*> &out[0, 0, 0]
    j.sg = _str3(out.strides, sizeof(floating))
    _run(&x[0, 0, 0], &j, M, n_threads, &bad, &counted)


# ---------------------------------------------------------------------------------------------
# Entry points for small calls: C-contiguous arrays through the buffer protocol, without the cost
# of typed memoryviews (about a quarter of a microsecond each), for the Python layer's fast paths.

cdef int _c_buffer(object a, Py_buffer* buf, bint writable, int itemsize) except -1:
    # a C-contiguous buffer of `a` whose items have `itemsize` bytes (the caller has checked
    # the dtype; this only guards against misuse)
    PyObject_GetBuffer(a, buf, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT
                       | (PyBUF_WRITABLE if writable else 0))
    if buf.itemsize != itemsize:
        PyBuffer_Release(buf)
        raise TypeError(f"expected items of {itemsize} bytes, got {buf.itemsize}")
    return 0


def rows_c(object x, object out, Py_ssize_t K, int what, int n_threads):
    """softmax (what = 0), log_softmax (1) or logsumexp (2) of a C-contiguous float32/float64
    array `x` along its last axis (length K) into `out`, a new C-contiguous array of x's dtype:
    of x's shape, or of its shape without the last axis for logsumexp.  n_threads as everywhere
    (0: OpenMP's default)."""
    cdef Py_buffer bx, bo
    cdef Job j = _job(OP_SOFTMAX if what == 0 else (OP_LOG_SOFTMAX if what == 1 else OP_LSE),
                      0, K)
    cdef int64_t bad, counted
    cdef Py_ssize_t M
    cdef bint single = x.dtype.itemsize == 4
    cdef int size = 4 if single else 8
    _c_buffer(x, &bx, False, size)
    try:
        _c_buffer(out, &bo, True, size)
    except BaseException:
        PyBuffer_Release(&bx)
        raise
    M = bx.len // size // K if K > 0 else 0
    if M * K * size != bx.len or bo.len != (M * size if what == 2 else bx.len):
        PyBuffer_Release(&bx)
        PyBuffer_Release(&bo)
        raise ValueError("rows_c: inconsistent shapes")
    j.B = M
    j.sx.k = j.sg.k = 1
    j.sx.b = j.sg.b = K
    j.so.b = 1
    if what == 2:
        j.out = <char*> bo.buf
    else:
        j.g = <char*> bo.buf
    try:
        if M > 0:
            if single:
                _run(<const float*> bx.buf, &j, M, n_threads, &bad, &counted)
            else:
                _run(<const double*> bx.buf, &j, M, n_threads, &bad, &counted)
    finally:
        PyBuffer_Release(&bx)
        PyBuffer_Release(&bo)


def class_index_loss_c(object x, object y, object loss, object grad, Py_ssize_t K,
                       double scale, int n_threads):
    """class_index_loss for C-contiguous (N, K) float32/float64 logits `x` and (N,) int64 class
    indices `y`, without weights or smoothing, ignore_index -100; `loss` (N,) and `grad` (N, K)
    are new C-contiguous arrays of x's dtype, or None.  Returns (total, first bad row, counted).
    n_threads as everywhere (0: OpenMP's default)."""
    cdef Py_buffer bx, by, bl, bg
    cdef Job j = _job(OP_XENT_LABELS, 0, K)
    cdef int64_t bad = -1, counted = 0
    cdef double total = 0.0
    cdef bint single = x.dtype.itemsize == 4
    cdef int size = 4 if single else 8
    cdef Py_ssize_t M
    cdef bint got_l = False, got_g = False
    _c_buffer(x, &bx, False, size)
    try:
        _c_buffer(y, &by, False, 8)
        try:
            if loss is not None:
                got_l = _c_buffer(loss, &bl, True, size) == 0
            if grad is not None:
                got_g = _c_buffer(grad, &bg, True, size) == 0
            M = by.len // 8
            if (K <= 0 or bx.len != M * K * size or (got_l and bl.len != M * size)
                    or (got_g and bg.len != bx.len)):
                raise ValueError("class_index_loss_c: inconsistent shapes")
            j.B = M
            j.sx.k = j.sg.k = 1
            j.sx.b = j.sg.b = K
            j.sy.b = j.so.b = 1
            j.y = <const int64_t*> by.buf
            j.out = <char*> bl.buf if got_l else NULL
            j.g = <char*> bg.buf if got_g else NULL
            j.ignore = -100
            j.wsum = K
            j.scale = scale
            if single:
                total = _run(<const float*> bx.buf, &j, M, n_threads, &bad, &counted)
            else:
                total = _run(<const double*> bx.buf, &j, M, n_threads, &bad, &counted)
        finally:
            if got_l:
                PyBuffer_Release(&bl)
            if got_g:
                PyBuffer_Release(&bg)
            PyBuffer_Release(&by)
    finally:
        PyBuffer_Release(&bx)
    return total, bad, counted


def softmax_backward_rows(const floating[:, :, :] y,   # IN  (A, B, K) forward output
                          const floating[:, :, :] go,  # IN  (A, B, K) gradient of the output
                          floating[:, :, :] out,       # OUT (A, B, K) gradient of the input
                          bint log_space, int n_threads):
    """Vector-Jacobian product of softmax (or of log_softmax when ``log_space``)."""
    cdef Job j = _job(OP_LOG_SOFTMAX_BACKWARD if log_space else OP_SOFTMAX_BACKWARD, y.shape[1],
                      y.shape[2])
    cdef int64_t bad, counted
    cdef Py_ssize_t M = y.shape[0] * y.shape[1]
    if M == 0:
        return
    j.sx = _str3(y.strides, sizeof(floating))
    j.t = <char*> &go[0, 0, 0]
    j.st = _str3(go.strides, sizeof(floating))
    j.g = <char*> &out[0, 0, 0]
    j.sg = _str3(out.strides, sizeof(floating))
    _run(&y[0, 0, 0], &j, M, n_threads, &bad, &counted)


def logsumexp_rows(const floating[:, :, :] x,  # IN  (A, B, K)
                   const floating[:, :, :] b,  # IN  (A, B, K) scale factors, if has_b
                   floating[:, :] out,         # OUT (A, B)
                   floating[:, :] sign,        # OUT (A, B) sign of the sum, if want_sign
                   bint has_b, bint want_sign, int n_threads):
    """``out[a, b] = log|sum(b * exp(x[a, b, :]))|`` with SciPy's rules, and its sign."""
    cdef Job j = _job(OP_LSE_B if (has_b or want_sign) else OP_LSE, x.shape[1], x.shape[2])
    cdef int64_t bad, counted
    cdef Py_ssize_t M = x.shape[0] * x.shape[1]
    if M == 0:
        return
    j.sx = _str3(x.strides, sizeof(floating))
    if has_b:
        j.t = <char*> &b[0, 0, 0]
        j.st = _str3(b.strides, sizeof(floating))
    j.out = <char*> &out[0, 0]
    j.so = _str2(out.strides, sizeof(floating))
    if want_sign:
        j.sign = <char*> &sign[0, 0]
        j.ssign = _str2(sign.strides, sizeof(floating))
    _run(&x[0, 0, 0], &j, M, n_threads, &bad, &counted)


def label_stats(const int64_t[:, :] y,  # IN  (A, B) class indices
                const floating[:] w,    # IN  (K,) class weights, if has_w
                const double[:, :] rw,  # IN  (A, B) sample weights, if has_rw
                bint has_w, bint has_rw, int64_t ignore_index, Py_ssize_t K):
    """Check class indices and sum the weights of the counted ones, in one pass.

    Returns ``(sum of rw * w[y] over positions not ignored, their number, first bad flat
    position or -1)``; a bad position holds neither a class in ``[0, K)`` nor ``ignore_index``.
    """
    cdef Py_ssize_t A = y.shape[0], B = y.shape[1], a, b
    cdef int64_t lab, count = 0, first_bad = -1
    cdef double wsum = 0.0
    with nogil:
        for a in range(A):
            for b in range(B):
                lab = y[a, b]
                if lab == ignore_index:
                    continue
                if lab < 0 or lab >= K:
                    first_bad = a * B + b
                    break
                count += 1
                wsum += (w[lab] if has_w else 1.0) * (rw[a, b] if has_rw else 1.0)
            if first_bad >= 0:
                break
    return wsum, count, first_bad


def class_index_loss(const floating[:, :, :] x,  # IN  (A, B, K) logits or log-probabilities
                     const int64_t[:, :] y,      # IN  (A, B) class indices
                     const floating[:] w,        # IN  (K,) class weights, if has_w
                     const double[:, :] rw,      # IN  (A, B) sample weights, if has_rw
                     floating[:, :] loss,        # OUT (A, B) per-position losses, if want_loss
                     floating[:, :, :] grad,     # OUT (A, B, K) gradient, if want_grad
                     bint nll, bint has_w, bint has_rw, bint want_loss, bint want_grad,
                     int64_t ignore_index, double eps, double wsum, double scale, int n_threads):
    """Cross-entropy (or, with ``nll``, the negative log-likelihood of log-probabilities) with
    class indices, weights, ignore_index and label smoothing; the gradient (times ``scale``) in
    the same pass.  Returns ``(sum of the losses in float64, first bad row or -1)``."""
    cdef Job j = _job(OP_NLL if nll else OP_XENT_LABELS, x.shape[1], x.shape[2])
    cdef int64_t bad, counted
    cdef Py_ssize_t M = x.shape[0] * x.shape[1]
    cdef double total
    if M == 0:
        return 0.0, -1, 0
    j.sx = _str3(x.strides, sizeof(floating))
    j.y = &y[0, 0]
    j.sy = _str2(y.strides, sizeof(int64_t))
    if has_w:
        j.w = <char*> &w[0]
        j.sw.k = w.strides[0] // sizeof(floating)
    if want_loss:
        j.out = <char*> &loss[0, 0]
        j.so = _str2(loss.strides, sizeof(floating))
    if want_grad:
        j.g = <char*> &grad[0, 0, 0]
        j.sg = _str3(grad.strides, sizeof(floating))
    if has_rw:
        j.rw = &rw[0, 0]
        j.srw = _str2(rw.strides, sizeof(double))
    j.ignore = ignore_index
    j.eps = eps
    j.wsum = wsum
    j.scale = scale
    total = _run(&x[0, 0, 0], &j, M, n_threads, &bad, &counted)
    return total, bad, counted


def probability_loss(const floating[:, :, :] x,  # IN  (A, B, K) logits
                     const floating[:, :, :] t,  # IN  (A, B, K) target probabilities
                     const floating[:] w,        # IN  (K,) class weights, if has_w
                     const double[:, :] rw,      # IN  (A, B) sample weights, if has_rw
                     floating[:, :] loss,        # OUT (A, B) per-position losses, if want_loss
                     floating[:, :, :] grad,     # OUT (A, B, K) gradient, if want_grad
                     bint has_w, bint has_rw, bint want_loss, bint want_grad, double eps,
                     double scale, int n_threads):
    """Cross-entropy with probability targets (weights, label smoothing) and its gradient.
    Returns the sum of the losses in float64."""
    cdef Job j = _job(OP_XENT_PROBS, x.shape[1], x.shape[2])
    cdef int64_t bad, counted
    cdef Py_ssize_t M = x.shape[0] * x.shape[1]
    if M == 0:
        return 0.0
    j.sx = _str3(x.strides, sizeof(floating))
    j.t = <char*> &t[0, 0, 0]
    j.st = _str3(t.strides, sizeof(floating))
    if has_w:
        j.w = <char*> &w[0]
        j.sw.k = w.strides[0] // sizeof(floating)
    if want_loss:
        j.out = <char*> &loss[0, 0]
        j.so = _str2(loss.strides, sizeof(floating))
    if want_grad:
        j.g = <char*> &grad[0, 0, 0]
        j.sg = _str3(grad.strides, sizeof(floating))
    if has_rw:
        j.rw = &rw[0, 0]
        j.srw = _str2(rw.strides, sizeof(double))
    j.eps = eps
    j.scale = scale
    return _run(&x[0, 0, 0], &j, M, n_threads, &bad, &counted)


def bce_loss(const floating[:, :, :] x,   # IN  (A, B, K) logits
             const floating[:, :, :] t,   # IN  (A, B, K) targets
             const floating[:, :, :] w,   # IN  (A, B, K) weights (broadcast view), if has_w
             const floating[:, :, :] pw,  # IN  (A, B, K) pos_weight (broadcast view), if has_pw
             floating[:, :, :] loss,      # OUT (A, B, K) elementwise losses, if want_loss
             floating[:, :, :] grad,      # OUT (A, B, K) gradient, if want_grad
             bint has_w, bint has_pw, bint want_loss, bint want_grad, double scale,
             int n_threads):
    """Binary cross-entropy with logits, elementwise, and its gradient (times ``scale``).
    Returns the sum of the losses in float64."""
    cdef Job j = _job(OP_BCE, x.shape[1], x.shape[2])
    cdef int64_t bad, counted
    cdef Py_ssize_t M = x.shape[0] * x.shape[1]
    if M == 0:
        return 0.0
    j.sx = _str3(x.strides, sizeof(floating))
    j.t = <char*> &t[0, 0, 0]
    j.st = _str3(t.strides, sizeof(floating))
    if has_w:
        j.w = <char*> &w[0, 0, 0]
        j.sw = _str3(w.strides, sizeof(floating))
    if has_pw:
        j.pw = <char*> &pw[0, 0, 0]
        j.spw = _str3(pw.strides, sizeof(floating))
    if want_loss:
        j.g2 = <char*> &loss[0, 0, 0]
        j.sg2 = _str3(loss.strides, sizeof(floating))
    if want_grad:
        j.g = <char*> &grad[0, 0, 0]
        j.sg = _str3(grad.strides, sizeof(floating))
    j.scale = scale
    return _run(&x[0, 0, 0], &j, M, n_threads, &bad, &counted)


def information_rows(const floating[:, :, :] p,  # IN  (A, B, K)
                     const floating[:, :, :] q,  # IN  (A, B, K), if has_q
                     floating[:, :] out,         # OUT (A, B)
                     int mode, bint has_q, double factor, double lo, double hi,
                     int n_threads):
    """Entropy (mode 0), KL divergence (1) or cross-entropy (2) of each row, times factor;
    for mode 2, q is clipped into [lo, hi] first when lo <= hi."""
    cdef Job j = _job(OP_ENTROPY + mode, p.shape[1], p.shape[2])
    cdef int64_t bad, counted
    cdef Py_ssize_t M = p.shape[0] * p.shape[1]
    if M == 0:
        return
    j.sx = _str3(p.strides, sizeof(floating))
    if has_q:
        j.t = <char*> &q[0, 0, 0]
        j.st = _str3(q.strides, sizeof(floating))
    j.out = <char*> &out[0, 0]
    j.so = _str2(out.strides, sizeof(floating))
    j.factor = factor
    j.lo = lo
    j.hi = hi
    _run(&p[0, 0, 0], &j, M, n_threads, &bad, &counted)


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
    if c.shape[0] != e.shape[0]:
        raise ValueError("e and c must have the same length")
    if e.shape[0] == 0:
        return
    with nogil:
        _scale_lanes(&e[0], &c[0], e.shape[0])


def log1p_array(const double[::1] x,  # IN
                double[::1] out):     # OUT
    """``out = log1p(x)`` with the kernels' vectorizable log1p (for testing its accuracy)."""
    cdef Py_ssize_t k, n = x.shape[0]
    with nogil:
        for k in range(n):
            out[k] = cx_log1p_d(x[k])


def class_probability_loss(const floating[:, :, :] p,  # IN  (A, B, K) probabilities
                           const int64_t[:, :] y,      # IN  (A, B) class indices
                           floating[:, :] loss,        # OUT (A, B) -log(clip(p[y]))
                           double lo, double hi, int n_threads):
    """Per-row ``-log(clip(p[y], lo, hi))`` (log_loss with class indices); returns
    ``(sum in float64, first row whose class index is outside [0, K) or -1)``."""
    cdef Job j = _job(OP_PROB_NLL, p.shape[1], p.shape[2])
    cdef int64_t bad, counted
    cdef Py_ssize_t M = p.shape[0] * p.shape[1]
    cdef double total
    if M == 0:
        return 0.0, -1
    j.sx = _str3(p.strides, sizeof(floating))
    j.y = &y[0, 0]
    j.sy = _str2(y.strides, sizeof(int64_t))
    j.out = <char*> &loss[0, 0]
    j.so = _str2(loss.strides, sizeof(floating))
    j.ignore = -9223372036854775807  # no class index is ignored
    j.lo = lo
    j.hi = hi
    total = _run(&p[0, 0, 0], &j, M, n_threads, &bad, &counted)
    return total, bad
