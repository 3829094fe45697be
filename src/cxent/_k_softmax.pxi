# The softmax family: softmax, log_softmax and logsumexp of rows (tile and row paths), logsumexp
# with scale factors and sign (SciPy's b / return_sign), and the backward of softmax and
# log_softmax.  Included by _kernels_impl.pxi.

ctypedef struct RowsArgs:
    const void* x       # IN  (A, B, K) logits
    Str3 sx
    void* out           # OUT (A, B, K) softmax or log_softmax
    Str3 so
    void* lse           # OUT (A, B) logsumexp
    Str2 sl
    Py_ssize_t B, K
    bint stream         # out is large (_stream_out)


ctypedef struct ScaledLseArgs:
    const void* x       # IN  (A, B, K)
    Str3 sx
    const void* b       # IN  (A, B, K) scale factors, or NULL (all 1)
    Str3 sb
    void* lse           # OUT (A, B) log|sum(b exp(x))|
    Str2 sl
    void* sign          # OUT (A, B) the sign of the sum, or NULL (a negative sum gives nan)
    Str2 ss
    Py_ssize_t B, K


ctypedef struct BackwardArgs:
    const void* y       # IN  (A, B, K) the forward output
    Str3 sy
    const void* go      # IN  (A, B, K) the gradient of the output
    Str3 sgo
    void* gi            # OUT (A, B, K) the gradient of the input
    Str3 sgi
    Py_ssize_t B, K


# ---- one row ----

cdef inline void _softmax_row(const floating* x, Py_ssize_t sx, floating* o, Py_ssize_t so,
                              Py_ssize_t K, const floating* pf) noexcept nogil:
    # pf: the next row, or NULL (_prefetch_row)
    cdef RowSum q
    cdef double inv
    cdef Py_ssize_t k
    if floating is float and sx == 1 and so == 1 and K >= CX_COMP_MIN_K:
        q = _row_total(x, K, o, pf)
    else:
        q = _row_sum(x, K, sx, o, so, pf, False)
    inv = 1.0 / q.total
    if so == 1:
        _scale(o, o, K, inv)
    else:
        for k in range(K):
            o[k * so] = _mul(o[k * so], inv)


cdef inline void _log_softmax_out(const floating* x, Py_ssize_t sx, floating* o, Py_ssize_t so,
                                  Py_ssize_t K, floating shift, double log_total) noexcept nogil:
    # a row's log_softmax from its shift and log-normaliser
    cdef Py_ssize_t k
    if sx == 1 and so == 1:
        if floating is float:
            cx_logsub_f(x, o, K, shift, log_total)
        else:
            cx_logsub_d(x, o, K, shift, log_total)
    else:
        for k in range(K):
            o[k * so] = _logsub(x[k * sx], shift, log_total)


cdef inline floating* _log_softmax_terms(const floating* x, floating* o, Py_ssize_t sx,
                                         Py_ssize_t so, Py_ssize_t K) noexcept nogil:
    # Where log_softmax stores the terms exp(x_k - shift) of its rows (x, output o) while it
    # sums them, or NULL: in the output itself, which its last pass then overwrites with the
    # result.  The stores fetch the output's cache lines while the exp keeps the core busy;
    # without them the last pass waits for each line.  Contiguous rows not computed in place,
    # float32, and float64 rows of 4 KiB or more.  Measured (benchmarks/ab.py --op log_softmax,
    # AVX2 build on Zen 3, one thread, 8M elements from memory): float32 K = 48-128 (groups)
    # 13-39 % faster, K = 150-300 1-3 %, K = 512-50,257 19-29 %; float64 K = 512-4,096 4-17 %,
    # but K = 48-256 4-10 % slower.
    if sx == 1 and so == 1 and o != x and (floating is float or K * sizeof(floating) >= 4096):
        return o
    return NULL


cdef inline void _log_softmax_row(const floating* x, Py_ssize_t sx, floating* o, Py_ssize_t so,
                                  Py_ssize_t K, const floating* pf) noexcept nogil:
    # pf: the next row, or NULL (_prefetch_row)
    cdef floating* e = _log_softmax_terms(x, o, sx, so, K)
    cdef RowSum q = _row_sum(x, K, sx, e, 1, pf)
    _log_softmax_out(x, sx, o, so, K, <floating> q.shift, q.log_total)


cdef inline double _lse_value(const floating* x, Py_ssize_t sx, Py_ssize_t K,
                              RowSum q) noexcept nogil:
    # logsumexp from the row's normaliser q; it keeps +inf (SciPy, PyTorch) unless the row has
    # a nan
    cdef Py_ssize_t k
    if q.shift == INFINITY:
        for k in range(K):
            if x[k * sx] != x[k * sx]:
                return NAN
        return INFINITY
    return q.shift + q.log_total


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


cdef inline void _softmax_backward_row(const floating* y, Py_ssize_t sy, const floating* go,
                                       Py_ssize_t sgo, floating* gi, Py_ssize_t sgi,
                                       Py_ssize_t K) noexcept nogil:
    # grad_in = y (grad_out - sum(grad_out y))
    cdef double acc = 0.0
    cdef Py_ssize_t k
    for k in range(K):
        acc += <double> go[k * sgo] * y[k * sy]
    for k in range(K):
        gi[k * sgi] = <floating> (y[k * sy] * (go[k * sgo] - acc))


cdef inline void _log_softmax_backward_row(const floating* y, Py_ssize_t sy, const floating* go,
                                           Py_ssize_t sgo, floating* gi, Py_ssize_t sgi,
                                           Py_ssize_t K) noexcept nogil:
    # grad_in = grad_out - exp(y) sum(grad_out)
    cdef double acc = 0.0
    cdef Py_ssize_t k
    for k in range(K):
        acc += go[k * sgo]
    for k in range(K):
        gi[k * sgi] = <floating> (go[k * sgo] - _exp(y[k * sy]) * acc)


# ---- blocks: tiles when K is small and the classes contiguous, groups of rows, or row by row ----

cdef inline void _rows_tile_offsets(Tile* t, Pos* p, const RowsArgs* a) noexcept nogil:
    # the offsets of the tile's rows, and p moved past them
    _tile_x(t, a.sx, p[0], a.K)
    _tile_g(t, a.so.a, a.so.b, p[0], a.K)
    _offsets(a.sl.a, a.sl.b, p[0], t.n, t.oo)
    p[0] = _ahead(p[0], t.n)


cdef inline bint _rows_by_tiles(const floating* x, const RowsArgs* a, Py_ssize_t r0,
                                Py_ssize_t r1, bint log) noexcept nogil:
    # softmax (log_softmax when log) of rows r0 <= r < r1 a tile at a time; False, with nothing
    # done, when the rows do not take tiles
    cdef floating* o = <floating*> a.out
    cdef Pos p = _pos(r0, a.B)
    cdef Py_ssize_t K = a.K, r
    cdef Tile t
    if not _tiles(K, a.sx.k, &t, sizeof(floating)):
        return False
    t.stream = a.stream
    while r0 < r1:
        t.n = min(<Py_ssize_t> _TILE, r1 - r0)
        _rows_tile_offsets(&t, &p, a)
        _tile_load(&t, x, K, 0)
        if not log:  # the terms times 1 / total on their way out
            for r in range(t.n):
                t.coef[r] = 1.0 / t.tot[r]
        elif floating is float:
            cx_tile_logsub_f(<float*> t.xt, <float*> t.et, <float*> t.sh, t.logt, t.n, K)
        else:
            cx_tile_logsub_d(<double*> t.xt, <double*> t.et, <double*> t.sh, t.logt, t.n, K)
        _tile_store(&t, o, a.so.k, K, _tile_streams(&t, o, a.so.k, K),
                    t.coef if not log else NULL)
        r0 += t.n
    _tile_free(&t)
    return True


cdef void _softmax_body(const floating* x, const RowsArgs* a, Py_ssize_t r0,
                        Py_ssize_t r1) noexcept nogil:
    cdef floating* o = <floating*> a.out
    cdef Pos p = _pos(r0, a.B)
    cdef Py_ssize_t r
    if _rows_by_tiles(x, a, r0, r1, False):
        return
    for r in range(r0, r1):
        _softmax_row(x + _at3(a.sx, p), a.sx.k, o + _at3(a.so, p), a.so.k, a.K,
                     _prefetch_row(x, a.sx, p, a.K, r + 1 == r1))
        _next(&p)


cdef void _log_softmax_body(const floating* x, const RowsArgs* a, Py_ssize_t r0,
                            Py_ssize_t r1) noexcept nogil:
    cdef floating* o = <floating*> a.out
    cdef Pos p = _pos(r0, a.B)
    cdef Py_ssize_t K = a.K, r
    cdef Tile t
    if _rows_by_tiles(x, a, r0, r1, True):
        return
    if _groups(K, a.sx.k, &t, sizeof(floating), _group_k_rows(sizeof(floating))):
        while r0 < r1:
            t.n = min(<Py_ssize_t> _TILE, r1 - r0)
            _rows_tile_offsets(&t, &p, a)
            _group_rowsum(x, &t, K, _log_softmax_terms(x, o, a.sx.k, a.so.k, K))
            for r in range(t.n):
                _log_softmax_out(x + t.ox[r], 1, o + t.og[r], a.so.k, K,
                                 (<floating*> t.sh)[r], t.logt[r])
            r0 += t.n
        _tile_free(&t)
        return
    for r in range(r0, r1):
        _log_softmax_row(x + _at3(a.sx, p), a.sx.k, o + _at3(a.so, p), a.so.k, K,
                         _prefetch_row(x, a.sx, p, K, r + 1 == r1))
        _next(&p)


cdef void _lse_body(const floating* x, const RowsArgs* a, Py_ssize_t r0,
                    Py_ssize_t r1) noexcept nogil:
    cdef floating* o = <floating*> a.lse
    cdef const floating* row
    cdef Pos p = _pos(r0, a.B)
    cdef Py_ssize_t K = a.K, r
    cdef RowSum q
    cdef Tile t
    cdef bint tiles = _tiles(K, a.sx.k, &t, sizeof(floating))
    if tiles or _groups(K, a.sx.k, &t, sizeof(floating), _group_k_rows(sizeof(floating))):
        while r0 < r1:
            t.n = min(<Py_ssize_t> _TILE, r1 - r0)
            _rows_tile_offsets(&t, &p, a)
            if tiles:
                _tile_load(&t, x, K, 0)
            else:
                _group_rowsum(x, &t, K, <floating*> NULL)
            for r in range(t.n):
                q = _tile_rowsum(&t, <floating*> t.sh, r)
                o[t.oo[r]] = <floating> _lse_value(x + t.ox[r], 1, K, q)
            r0 += t.n
        _tile_free(&t)
        return
    for r in range(r0, r1):
        row = x + _at3(a.sx, p)
        q = _row_sum(row, K, a.sx.k, <floating*> NULL, 0,
                     _prefetch_row(x, a.sx, p, K, r + 1 == r1))
        o[_at2(a.sl, p)] = <floating> _lse_value(row, a.sx.k, K, q)
        _next(&p)


cdef void _scaled_lse_body(const floating* x, const ScaledLseArgs* a, Py_ssize_t r0,
                           Py_ssize_t r1) noexcept nogil:
    cdef const floating* b = <const floating*> a.b
    cdef floating* o = <floating*> a.lse
    cdef floating* sign = <floating*> a.sign
    cdef Pos p = _pos(r0, a.B)
    cdef double v, sgn
    cdef Py_ssize_t r
    for r in range(r0, r1):
        v = _lse_b_row(x + _at3(a.sx, p), a.sx.k, b + _at3(a.sb, p) if b != NULL else NULL,
                       a.sb.k, a.K, &sgn)
        if sign != NULL:
            sign[_at2(a.ss, p)] = <floating> sgn
        elif sgn < 0:
            v = NAN
        o[_at2(a.sl, p)] = <floating> v
        _next(&p)


cdef void _backward_body(const floating* y, const BackwardArgs* a, Py_ssize_t r0, Py_ssize_t r1,
                         bint log_space) noexcept nogil:
    cdef const floating* go = <const floating*> a.go
    cdef floating* gi = <floating*> a.gi
    cdef Pos p = _pos(r0, a.B)
    cdef Py_ssize_t r
    for r in range(r0, r1):
        if log_space:
            _log_softmax_backward_row(y + _at3(a.sy, p), a.sy.k, go + _at3(a.sgo, p), a.sgo.k,
                                      gi + _at3(a.sgi, p), a.sgi.k, a.K)
        else:
            _softmax_backward_row(y + _at3(a.sy, p), a.sy.k, go + _at3(a.sgo, p), a.sgo.k,
                                  gi + _at3(a.sgi, p), a.sgi.k, a.K)
        _next(&p)


# the block functions of the driver, one per operation and dtype
cdef void _softmax_f(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _softmax_body(<const float*> (<const RowsArgs*> a).x, <const RowsArgs*> a, r0, r1)

cdef void _softmax_d(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _softmax_body(<const double*> (<const RowsArgs*> a).x, <const RowsArgs*> a, r0, r1)

cdef void _log_softmax_f(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _log_softmax_body(<const float*> (<const RowsArgs*> a).x, <const RowsArgs*> a, r0, r1)

cdef void _log_softmax_d(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _log_softmax_body(<const double*> (<const RowsArgs*> a).x, <const RowsArgs*> a, r0, r1)

cdef void _lse_f(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _lse_body(<const float*> (<const RowsArgs*> a).x, <const RowsArgs*> a, r0, r1)

cdef void _lse_d(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _lse_body(<const double*> (<const RowsArgs*> a).x, <const RowsArgs*> a, r0, r1)

cdef void _scaled_lse_f(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _scaled_lse_body(<const float*> (<const ScaledLseArgs*> a).x, <const ScaledLseArgs*> a, r0,
                     r1)

cdef void _scaled_lse_d(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _scaled_lse_body(<const double*> (<const ScaledLseArgs*> a).x, <const ScaledLseArgs*> a, r0,
                     r1)

cdef void _softmax_backward_f(const void* a, Py_ssize_t r0, Py_ssize_t r1,
                              BlockOut* o) noexcept nogil:
    _backward_body(<const float*> (<const BackwardArgs*> a).y, <const BackwardArgs*> a, r0, r1,
                   False)

cdef void _softmax_backward_d(const void* a, Py_ssize_t r0, Py_ssize_t r1,
                              BlockOut* o) noexcept nogil:
    _backward_body(<const double*> (<const BackwardArgs*> a).y, <const BackwardArgs*> a, r0, r1,
                   False)

cdef void _log_softmax_backward_f(const void* a, Py_ssize_t r0, Py_ssize_t r1,
                                  BlockOut* o) noexcept nogil:
    _backward_body(<const float*> (<const BackwardArgs*> a).y, <const BackwardArgs*> a, r0, r1,
                   True)

cdef void _log_softmax_backward_d(const void* a, Py_ssize_t r0, Py_ssize_t r1,
                                  BlockOut* o) noexcept nogil:
    _backward_body(<const double*> (<const BackwardArgs*> a).y, <const BackwardArgs*> a, r0, r1,
                   True)


# ---- entry points ----

cdef int _rows_run(RowsArgs* a, BlockFn fn, Py_ssize_t A, int n_threads) except -1:
    cdef BlockOut res
    return _run(fn, a, A * a.B, a.K, n_threads, &res)


def softmax_rows(const floating[:, :, :] x,  # IN  (A, B, K) logits
                 floating[:, :, :] out,      # OUT (A, B, K)
                 *, int n_threads, bint new_pages):
    """``out[a, b, :] = softmax(x[a, b, :])``; ``new_pages``: no store has touched ``out``'s
    pages yet (cxent._memory.new_pages; _stream_out)."""
    cdef RowsArgs a
    if x.shape[0] * x.shape[1] == 0:
        return
    a.x, a.sx, a.B, a.K = &x[0, 0, 0], _s3(x.strides, sizeof(floating)), x.shape[1], x.shape[2]
    a.out, a.so = &out[0, 0, 0], _s3(out.strides, sizeof(floating))
    a.stream = _stream_out(out.shape[0] * out.shape[1] * out.shape[2], sizeof(floating), new_pages)
    _rows_run(&a, _softmax_f if floating is float else _softmax_d, x.shape[0], n_threads)


def log_softmax_rows(const floating[:, :, :] x,  # IN  (A, B, K) logits
                     floating[:, :, :] out,      # OUT (A, B, K)
                     *, int n_threads, bint new_pages):
    """``out[a, b, :] = log_softmax(x[a, b, :])``; ``new_pages`` as for softmax_rows."""
    cdef RowsArgs a
    if x.shape[0] * x.shape[1] == 0:
        return
    a.x, a.sx, a.B, a.K = &x[0, 0, 0], _s3(x.strides, sizeof(floating)), x.shape[1], x.shape[2]
    a.out, a.so = &out[0, 0, 0], _s3(out.strides, sizeof(floating))
    a.stream = _stream_out(out.shape[0] * out.shape[1] * out.shape[2], sizeof(floating), new_pages)
    _rows_run(&a, _log_softmax_f if floating is float else _log_softmax_d, x.shape[0],
              n_threads)


def logsumexp_rows(const floating[:, :, :] x,      # IN  (A, B, K)
                   floating[:, :] out,             # OUT (A, B)
                   *,
                   const floating[:, :, :] b,  # IN  (A, B, K) scale factors, or None
                   floating[:, :] sign,        # OUT (A, B) sign of the sum, or None
                   int n_threads):
    """``out[a, b] = log|sum(b * exp(x[a, b, :]))|`` with SciPy's rules, and its sign; without
    ``sign`` a negative sum gives nan."""
    cdef RowsArgs a
    cdef ScaledLseArgs s
    cdef BlockOut res
    cdef Py_ssize_t M = x.shape[0] * x.shape[1]
    if M == 0:
        return
    if b is None and sign is None:
        a.x, a.sx, a.B, a.K = &x[0, 0, 0], _s3(x.strides, sizeof(floating)), x.shape[1], x.shape[2]
        a.lse, a.sl = &out[0, 0], _s2(out.strides, sizeof(floating))
        a.stream = False
        _rows_run(&a, _lse_f if floating is float else _lse_d, x.shape[0], n_threads)
        return
    memset(&s, 0, sizeof(s))
    s.x, s.sx, s.B, s.K = &x[0, 0, 0], _s3(x.strides, sizeof(floating)), x.shape[1], x.shape[2]
    s.lse, s.sl = &out[0, 0], _s2(out.strides, sizeof(floating))
    if b is not None:
        s.b, s.sb = &b[0, 0, 0], _s3(b.strides, sizeof(floating))
    if sign is not None:
        s.sign, s.ss = &sign[0, 0], _s2(sign.strides, sizeof(floating))
    _run(_scaled_lse_f if floating is float else _scaled_lse_d, &s, M, s.K, n_threads, &res)


cdef _backward(const floating[:, :, :] y, const floating[:, :, :] go, floating[:, :, :] out,
               BlockFn fn, int n_threads):
    cdef BackwardArgs a
    cdef BlockOut res
    cdef Py_ssize_t M = y.shape[0] * y.shape[1]
    if M == 0:
        return
    a.y, a.sy, a.B, a.K = &y[0, 0, 0], _s3(y.strides, sizeof(floating)), y.shape[1], y.shape[2]
    a.go, a.sgo = &go[0, 0, 0], _s3(go.strides, sizeof(floating))
    a.gi, a.sgi = &out[0, 0, 0], _s3(out.strides, sizeof(floating))
    _run(fn, &a, M, a.K, n_threads, &res)


def softmax_backward_rows(const floating[:, :, :] y,            # IN  (A, B, K) softmax output
                          const floating[:, :, :] grad_output,  # IN  (A, B, K)
                          floating[:, :, :] out,                # OUT (A, B, K) grad of the input
                          *, int n_threads):
    """Vector-Jacobian product of softmax: ``out = y * (grad_output - sum(grad_output * y))``."""
    _backward(y, grad_output, out, _softmax_backward_f if floating is float
              else _softmax_backward_d, n_threads)


def log_softmax_backward_rows(const floating[:, :, :] y,            # IN  (A, B, K) log_softmax
                              const floating[:, :, :] grad_output,  # IN  (A, B, K)
                              floating[:, :, :] out,                # OUT (A, B, K)
                              *, int n_threads):
    """Vector-Jacobian product of log_softmax: ``out = grad_output - exp(y) sum(grad_output)``."""
    _backward(y, grad_output, out, _log_softmax_backward_f if floating is float
              else _log_softmax_backward_d, n_threads)


# Small calls: C-contiguous arrays through the buffer protocol (cheaper than typed memoryviews
# for a few elements), the same blocks.  x is float32 or float64 (its itemsize tells), classes
# along the last axis of length K; `out` a new C-contiguous array of x's dtype.

cdef _rows_c(object x, object out, Py_ssize_t K, bint per_row, BlockFn ff, BlockFn fd,
             int n_threads, bint new_pages=False):
    cdef _CBuffers bufs = _CBuffers()
    cdef RowsArgs a
    cdef Py_ssize_t size = x.dtype.itemsize
    cdef Py_ssize_t M = x.size // K if K > 0 else 0
    memset(&a, 0, sizeof(a))
    a.x = bufs.get(x, False, size, M * K)
    if per_row:
        a.lse = bufs.get(out, True, size, M)
    else:
        a.out = bufs.get(out, True, size, M * K)
        a.stream = _stream_out(M * K, size, new_pages)
    a.sx, a.so, a.sl, a.B, a.K = _c3(K), _c3(K), _c2(), M, K
    _rows_run(&a, ff if size == 4 else fd, 1, n_threads)


def softmax_c(x, out, *, Py_ssize_t K, int n_threads, bint new_pages=False):
    """softmax_rows for a C-contiguous array along its last axis (length K)."""
    _rows_c(x, out, K, False, _softmax_f, _softmax_d, n_threads, new_pages)


def log_softmax_c(x, out, *, Py_ssize_t K, int n_threads, bint new_pages=False):
    """log_softmax_rows for a C-contiguous array along its last axis (length K)."""
    _rows_c(x, out, K, False, _log_softmax_f, _log_softmax_d, n_threads, new_pages)


def logsumexp_c(x, out, *, Py_ssize_t K, int n_threads):
    """logsumexp_rows for a C-contiguous array along its last axis (length K); ``out`` has x's
    shape without the last axis."""
    _rows_c(x, out, K, True, _lse_f, _lse_d, n_threads)
