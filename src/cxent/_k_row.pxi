# Per-row math shared by every family: the row's maximum and normaliser, and the small-K tile
# scratch.  The formulas themselves (normaliser, a label's loss and gradient coefficients, the
# products) are C inline functions of _rows.h / _simd.h, called by the row path below and by the
# tile path with the same operands.  Included by _kernels_impl.pxi.

cdef inline floating _expm(floating a, floating s) noexcept nogil:
    # exp(a - s) for a <= s (a row's terms shifted by its maximum)
    if floating is float:
        return cx_expm_f(a, s)
    else:
        return cx_expm_d(a, s)


cdef inline floating _exp(floating v) noexcept nogil:
    # the vectorizable exp of _simd.h (within 2 ulp, IEEE inf/nan/subnormal behaviour)
    if floating is float:
        return cx_exp_f(v)
    else:
        return cx_exp_d(v)


cdef inline floating _mul(floating e, double c) noexcept nogil:
    # e * c rounded once (float32: within about half an ulp)
    if floating is float:
        return cx_mul1_f(e, c)
    else:
        return cx_mul1_d(e, c)


cdef inline void _scale(const floating* e, floating* g, Py_ssize_t n, double c) noexcept nogil:
    # g[k] = _mul(e[k], c), contiguous (g may be e)
    if floating is float:
        cx_scale_f(e, g, n, c)
    else:
        cx_scale_d(e, g, n, c)


cdef inline void _tile_scale(floating* et, const double* c, Py_ssize_t n, Py_ssize_t K,
                             const Py_ssize_t* lab, const double* gy) noexcept nogil:
    # et[k * _TILE + r] = _mul(et[k * _TILE + r], c[r]) for r < n, k < K: a small-K tile;
    # with lab != NULL gy[r] instead at k == lab[r] (a gradient's label entries, cx_tile_put_*)
    if floating is float:
        cx_tile_scale_f(et, c, n, K, lab, gy)
    else:
        cx_tile_scale_d(et, c, n, K, lab, gy)


cdef inline floating _logsub(floating x, floating m, double c) noexcept nogil:
    # (x - m) - c: log_softmax from the shift m and the log of the normaliser c
    if floating is float:
        return cx_logsub1_f(x, m, c)
    else:
        return cx_logsub1_d(x, m, c)


cdef inline floating _row_max(const floating* x, Py_ssize_t K, Py_ssize_t s,
                              int* fast) noexcept nogil:
    # nan never compares greater, so it is skipped here and propagates through exp() later;
    # fast[0] <- whether _sum_exp_rest may take the exp for normal results (cx_max_*)
    cdef floating m = -INFINITY
    cdef Py_ssize_t k
    fast[0] = 0
    if s == 1:
        if floating is float:
            m = cx_max_f(x, K, fast)
        else:
            m = cx_max_d(x, K, fast)
        fast[0] = fast[0] and _fast_rows
        return m
    for k in range(K):
        if x[k * s] > m:
            m = x[k * s]
    return m


cdef inline double _sum_exp_rest(const floating* x, Py_ssize_t K, Py_ssize_t s, floating m,
                                 floating* e, Py_ssize_t se, double* count, int fast,
                                 const floating* pf) noexcept nogil:
    # sum of exp(x_k - m) over the k with x_k != m, in float64; count[0] <- the number of
    # x_k == m.  When e != NULL every term exp(x_k - m) is stored in e.  fast: _row_max's
    # answer for the row (m its maximum); pf: the next row, fetched meanwhile (_prefetch_row)
    cdef double acc = 0.0, cnt = 0.0
    cdef floating v
    cdef Py_ssize_t k
    if s == 1 and (e == NULL or se == 1):
        if floating is float:
            return cx_sumexp_rest_f(x, K, m, e, count, fast, pf)
        else:
            return cx_sumexp_rest_d(x, K, m, e, count, fast, pf)
    for k in range(K):  # strided: k by k, as the contiguous path does to CX_SMALL_K_OF
        v = _expm(x[k * s], m)
        if e != NULL:
            e[k * se] = v
        if x[k * s] == m:
            cnt += 1
        else:
            acc += v
    count[0] = cnt
    return acc


cdef inline floating _shift(floating m) noexcept nogil:
    # the shift of a row with maximum m: m, or 0 for a row without one (no x_k is 0 there)
    return m if m > -INFINITY else 0


cdef inline RowSum _row_sum(const floating* x, Py_ssize_t K, Py_ssize_t s, floating* e,
                            Py_ssize_t se, const floating* pf, bint want_log=True) noexcept nogil:
    # The normaliser of one row (cx_rowsum_finish); with e != NULL every exp(x_k - shift) is
    # stored in e (1 at the maximum); pf: the next row, or NULL (_prefetch_row)
    cdef int fast
    cdef floating m = _row_max(x, K, s, &fast)
    cdef double cnt
    cdef double acc = _sum_exp_rest(x, K, s, _shift(m), e, se, &cnt, fast, pf)
    return cx_rowsum_finish(m, acc, cnt, want_log)


cdef RowSum _row_total(const float* x, Py_ssize_t K, float* e, const float* pf) noexcept nogil:
    # _row_sum of a contiguous float32 row of at least CX_COMP_MIN_K elements, the terms stored
    # in e (contiguous), for a caller that wants only its shift and total (the softmax):
    # cx_sumexp_total_f's compensated sums; the rest may be the total less the count, not
    # accurate by itself; pf as for _row_sum.  Not inline: inlined, it cost the shorter rows'
    # path more per row.
    cdef int fast
    cdef float m = _row_max(x, K, 1, &fast)
    cdef double cnt
    cdef double acc = cx_sumexp_total_f(x, K, _shift(m), e, &cnt, fast, pf)
    return cx_rowsum_finish(m, acc, cnt, False)


cdef inline const floating* _prefetch(const floating* nxt, Py_ssize_t K) noexcept nogil:
    # The row for the exp loop of the row before it to fetch into the caches (cx_sumexp_*): nxt
    # (a contiguous row, or NULL), if rows are at least _PREFETCH_ROW_BYTES long.  The next
    # row's maximum reads its elements faster than memory gives them; fetched during this row's
    # exps, they are in the caches by then.
    return nxt if K * <Py_ssize_t> sizeof(floating) >= _PREFETCH_ROW_BYTES else NULL


cdef inline const floating* _prefetch_row(const floating* x, Str3 sx, Pos p, Py_ssize_t K,
                                          bint last) noexcept nogil:
    # _prefetch of the row of x after the one at p, unless the row at p is the last of the
    # caller's block (last) or rows are strided
    if last or sx.k != 1:
        return NULL
    _next(&p)
    return _prefetch(x + _at3(sx, p), K)


cdef inline floating _softcap(floating v, double cap) noexcept nogil:
    # Gemma-2's soft cap of a logit: cap tanh(v / cap) (the vectorizable tanh of _simd.h)
    return <floating> cx_softcap1(v, cap)


cdef inline floating _softcap_grad(floating g, floating vc, double cap) noexcept nogil:
    # a gradient through the cap, from the capped logit vc: g (1 - (vc / cap)^2)
    return <floating> cx_softcap_grad1(g, vc, cap)


cdef inline void _softcap_run(const floating* x, Py_ssize_t sx, floating* o, Py_ssize_t n,
                              double cap) noexcept nogil:
    # o[k] = _softcap(x[k * sx]) for k in [0, n), o contiguous
    cdef Py_ssize_t k
    if sx == 1:
        if floating is float:
            cx_softcap_f(x, o, n, cap)
        else:
            cx_softcap_d(x, o, n, cap)
        return
    for k in range(n):
        o[k] = _softcap(x[k * sx], cap)


cdef inline void _softcap_grad_run(floating* g, Py_ssize_t sg, const floating* xc, Py_ssize_t n,
                                   double cap) noexcept nogil:
    # g[k * sg] = _softcap_grad(g[k * sg], xc[k]) for k in [0, n), xc contiguous
    cdef Py_ssize_t k
    if sg == 1:
        if floating is float:
            cx_softcap_grad_f(g, xc, n, cap)
        else:
            cx_softcap_grad_d(g, xc, n, cap)
        return
    for k in range(n):
        g[k * sg] = _softcap_grad(g[k * sg], xc[k], cap)


cdef inline double _target_weight(Py_ssize_t k, Py_ssize_t y, const floating* t, Py_ssize_t st,
                                  const floating* w, Py_ssize_t sw, double eps,
                                  double sm) noexcept nogil:
    # w_k t'_k: the weight of class k in the loss of a row whose target distribution is
    # t' = (1 - eps) t + eps / K, t = the probabilities t (or one-hot at class y when t == NULL)
    cdef double tk = t[k * st] if t != NULL else (1.0 if k == y else 0.0)
    tk = (1.0 - eps) * tk + sm
    if w != NULL:
        tk = tk * w[k * sw]
    return tk


cdef inline double _focal_term(double ak, double ek, double xk, RowSum q, double gamma,
                               double* f) noexcept nogil:
    # One class of the focal loss: returns -a (1 - p)^gamma log p, f <- its coefficient
    # a (gamma (1 - p)^(gamma - 1) p log p - (1 - p)^gamma), from a = w_k t'_k, e = exp(x_k -
    # shift) and xk = x_k - shift; 1 - p from the row's rest when x_k is the maximum.
    cdef double lp = xk - q.log_total
    cdef double p = ek / q.total
    cdef double omp = (q.rest if ek == 1 else q.total - ek) / q.total
    cdef double m = pow(omp, gamma)
    f[0] = -ak * m if omp == 0 else ak * (gamma * (m / omp) * p * lp - m)
    return -ak * m * lp


cdef inline double _focal_row(const floating* x, Py_ssize_t sx, Py_ssize_t K, RowSum q,
                              const floating* e, Py_ssize_t se, Py_ssize_t y, const floating* t,
                              Py_ssize_t st, const floating* w, Py_ssize_t sw, double eps,
                              double gamma, double zl, double lse, double scale, floating* g,
                              Py_ssize_t sg) noexcept nogil:
    # The softmax focal loss (Lin et al.) of one row, -sum_k w_k t'_k (1 - p_k)^gamma log p_k
    # for the target distribution t' of _target_weight, plus the z-loss zl lse^2.  With
    # g != NULL also its gradient times scale, g_j = f_j - p_j (F - 2 zl lse) with F = sum_k f_k
    # (_focal_term); for a class index without smoothing the label's entry is f_y (1 - p_y) +
    # 2 zl lse p_y, without the cancellation.  e: the row's exp(x_k - shift), or NULL (then
    # formed here); g may be e itself.
    cdef double sm = eps / K, loss = 0.0, F = 0.0, ak, ek, f, coef, ey, omp_y, f_y = 0.0
    cdef Py_ssize_t k
    for k in range(K):
        ak = _target_weight(k, y, t, st, w, sw, eps, sm)
        if ak != 0:
            ek = e[k * se] if e != NULL else _expm(x[k * sx], <floating> q.shift)
            loss += _focal_term(ak, ek, <double> x[k * sx] - q.shift, q, gamma, &f)
            F += f
    if zl != 0:
        loss = cx_fma_d(zl * lse, lse, loss)
    if g == NULL:
        return loss
    ey = e[y * se] if t == NULL else 0.0
    coef = scale * (2.0 * zl * lse - F) / q.total
    for k in range(K):
        ak = _target_weight(k, y, t, st, w, sw, eps, sm)
        ek = e[k * se]
        if ak != 0:
            _focal_term(ak, ek, <double> x[k * sx] - q.shift, q, gamma, &f)
            g[k * sg] = <floating> cx_fma_d(scale, f, ek * coef)
        else:
            g[k * sg] = <floating> (ek * coef)
    if t == NULL and eps == 0:
        ak = _target_weight(y, y, t, st, w, sw, eps, sm)
        _focal_term(ak, ey, <double> x[y * sx] - q.shift, q, gamma, &f_y)
        omp_y = (q.rest if ey == 1 else q.total - ey) / q.total
        g[y * sg] = <floating> (scale * cx_fma_d(f_y, omp_y, 2.0 * zl * lse * (ey / q.total)))
    return loss


cdef inline double _clip(double v, double lo, double hi) noexcept nogil:
    # into [lo, hi] (nan stays nan); [-inf, inf] leaves every value as it is
    v = lo if v < lo else v
    return hi if v > hi else v


# ---------------------------------------------------------------------------------------------
# Few classes (K <= _tile_k, the tabular case): a row loop would spend its time in horizontal
# reductions and loop overhead on vectors longer than the row.  Instead, _TILE rows at a time are
# copied transposed into scratch (classes x rows), so that the maximum, the exponentials, their
# sums, the logarithms and the outputs run down the columns with one row per vector lane; the
# output tile is copied back transposed.  The arithmetic is the row path's (_rows.h).

cdef enum:
    # float32 rows of up to 64 classes, float64 rows of up to 40 (_simd.h, CX_SMALL_K_OF: also
    # where the row path's sums go element by element); _SMALL_K the larger
    _SMALL_K = CX_SMALL_K
    _SMALL_K_F = CX_SMALL_K_F
    _SMALL_K_D = CX_SMALL_K_D
    _TILE = CX_TILE
    # Rows of more than _tile_k classes go by groups of _TILE rows (_groups) up to these K, one
    # by one past them, where groups measured slower (AVX2 build, one thread: cross-entropy at
    # K = 1,000 float32 by 3-9 %, log_softmax at K = 256 by 6 % and at K = 1,000 by 20 %; below
    # them groups were faster: cross-entropy from K = 160 to 512 by 4-14 %, log_softmax float32
    # at K = 100 by 7 %, at K = 64-128 0-26 % between runs)
    _GROUP_K_LABELS = 512  # cross-entropy with class indices (_ce_group)
    # log_softmax, logsumexp in float32 (_group_rowsum alone; in float64 groups were 12-14 %
    # slower at K = 64-128 by benchmarks/ab.py, float32 at K = 100 7 % faster)
    _GROUP_K_ROWS = 128
    # Outputs of at least this many bytes, or larger than the L3 cache if that is more
    # (_stream_bytes; the L3 / 16 of sessions 21-24, below), leave the tiles by non-temporal stores
    # (_tile_store, cx_tile_stream_*): too large for the caches, they go to memory anyway, and
    # these stores do not read each cache line from memory before writing it.  Measured (AVX2
    # build, one thread, cross-entropy + gradient at K = 16-40) on EPYCs (32 MiB of L3 per core
    # complex): outputs of 8 and 16 MiB 6-20 % faster, of 1-4 MiB (still in the caches) 4-14 %
    # slower.  On an
    # Intel Xeon reporting 480 MiB of L3 (session 21, `python -m cxent bench`, peers run
    # between the calls, the threshold set by _set_stream_bytes): cross-entropy + gradient into
    # new outputs float32 K = 32-40 at 16 MiB 18-25 % faster by ordinary stores (7.8-8.0 ms
    # against 6.0-6.4), float64 K = 16-32 at 32 MiB 7-21 % faster streamed (10.8-12.4 ms
    # against 12.9-13.4); softmax float32 K = 32 / 40 at 16 MiB 21 / 35 % faster by ordinary
    # stores, at 64 MiB 15 % faster streamed.  A new output there is memory malloc gives back
    # with its lines still in that large cache, and a non-temporal store to a cached line costs
    # its eviction.  L3 / 16 (30 MiB there, 2 MiB on the EPYCs) separated both machines' points
    # until the tiles' ordinary stores fetched the next tile's output lines (cx_tile_scatter_*,
    # session 25).  Since then, on the Xeon, ordinary stores were the faster at every size measured
    # (benchmarks/stores.py: the default call and the two forced, timed in turn with PyTorch and
    # scikit-learn in one process): cross-entropy + gradient float64 K = 16 / 20 / 24 / 32 / 33 / 40
    # at 32 MiB 1-3 / 9-11 / 7-11 / 0-1 / -1..+1 / 0-1 %, K = 16 / 24 at 64 MiB 4 / 11 %, K = 24 at
    # 256 MiB 10 %; float32 K = 32 / 40 at 32 MiB 10 / 18 %, K = 32 at 64 and 128 MiB 10-15 %; two
    # threads 2-15 %; softmax at 8M elements 8-13 % (float64 K = 33, whose odd rows stream by pairs,
    # 2-3 % slower).  So outputs stream only when larger than the L3 cache as the OS reports it (480
    # MiB there; 32 MiB on the EPYCs, not measured since the fetch), or from 8 MiB where its size is
    # unknown.
    _STREAM_BYTES = 1 << 23
    # Rows of at least this many bytes fetch the next row while they take their exps
    # (_prefetch).  Measured (benchmarks/ab.py, AVX2 build on Zen 3, one thread, 8M elements
    # from memory): float32 K = 1,000-4,096 softmax 11-17 %, log_softmax 10-13 %,
    # cross-entropy + gradient 16-31 % faster, float64 K = 1,000 12-19 %; K = 256-512 0-11 %;
    # shorter rows, where the hardware's prefetchers keep up, within the noise (so left out);
    # rows in the caches (64,000 elements) the same; K = 50,257 (rows larger than L2) the same.
    # The baseline build: softmax and cross-entropy float32 K = 1,000-4,096 7-10 %, float64
    # K = 1,000 4 %
    _PREFETCH_ROW_BYTES = 1024

# The largest K that takes the tile path, in either type; 0 sends every row down the row path
# (for tests).
cdef Py_ssize_t _small_k = _SMALL_K


cdef inline Py_ssize_t _type_k(Py_ssize_t itemsize) noexcept nogil:
    # the tiles' reach for items of this size (float32 or float64): CX_SMALL_K_OF
    return _SMALL_K_F if itemsize == 4 else _SMALL_K_D


cdef inline Py_ssize_t _tile_k(Py_ssize_t itemsize) noexcept nogil:
    # the largest K of the tile path for items of this size (_small_k caps it, for tests)
    return min(_small_k, _type_k(itemsize))


# Whether rows whose terms are all normal numbers take the exp without the tests for the others
# (cx_max_*, CX_EXP_NORMAL): the same bits, fewer operations.  Off only in tests.
cdef bint _fast_rows = True


def _set_fast_rows(bint on):
    """Let rows whose terms are all normal numbers take the exp without the tests for the others
    (on), or not; return the previous setting.  For tests: both give the same bits."""
    global _fast_rows
    old = _fast_rows
    _fast_rows = on
    return old


def _fast_row(const floating[::1] x):
    """Whether a contiguous row takes the exp without the tests for results that are not normal
    numbers (_row_max's answer).  For tests."""
    cdef int fast = 0
    if x.shape[0] > 0:
        _row_max(&x[0], x.shape[0], 1, &fast)
    return bool(fast)


# The smallest output (bytes) copied out of the tiles by non-temporal stores (_stream_out).
cdef Py_ssize_t _stream_bytes = max(<Py_ssize_t> _STREAM_BYTES, <Py_ssize_t> cx_l3_bytes())


def stream_info():
    """Return ``(the smallest output in bytes that leaves the small-K tiles by non-temporal
    stores, the L3 cache's size in bytes as the OS reports it or 0)``: the first is
    max(8 MiB, L3) unless a test set it (_set_stream_bytes); builds without such stores
    (no AVX) never use it."""
    return int(_stream_bytes), int(cx_l3_bytes())


def _set_stream_bytes(Py_ssize_t nbytes):
    """Set the smallest output, in bytes, that leaves the tiles by non-temporal stores; return
    the previous value.  For tests: both copies must give the same bits."""
    global _stream_bytes
    old = _stream_bytes
    _stream_bytes = max(nbytes, 0)
    return old


def _set_small_k(Py_ssize_t K):
    """Set the largest number of classes of the small-K tile path (0: none; each type's own
    limit still applies); return the previous one.  For tests: both paths must give the same
    bits."""
    global _small_k
    old = _small_k
    _small_k = min(max(K, 0), _SMALL_K)
    return old


ctypedef struct Tile:
    # scratch of one block's tiles; the per-row arrays have _TILE entries
    void* mem           # the allocation xt, et and sh are in
    void* xt            # (K, _TILE) the rows transposed
    void* et            # (K, _TILE) exp(x - shift), then the output tile
    void* sh            # shifts: the maximum, 0 for a row without one
    double* rest
    double* tot
    double* logt
    double* val         # per-row results
    double* coef        # per-row factor of the output tile
    double* aux         # per-row scratch of a family (label smoothing's dot products)
    double* smooth
    double* gy          # gradient at the class index
    double* sc          # the row's scale (times its sample weight)
    double* rw          # sample weight of the row (1 without)
    double* lse         # the row's log-normaliser shift + log(total)
    double* xy          # the label's x_y - shift, exp(x_y - shift) and class weight
    double* ey
    double* wy
    double* rmax        # groups of rows (K > _tile_k): each row's maximum, sum of the terms
    double* racc        # other than the maximum's, and count of the maximum (_sum_exp_rest)
    double* rcnt
    Py_ssize_t* lab     # class index, -1 for a row that does not count
    Py_ssize_t* ox      # row offsets in x and in the other full-shape arrays
    Py_ssize_t* og
    Py_ssize_t* ot
    Py_ssize_t* oo      # row offsets in the per-row output
    Py_ssize_t n        # rows in the current tile
    Py_ssize_t skipped  # of them, rows with lab -1 (_label_group)
    bint xrun, grun     # its rows follow each other K elements apart in x / in the output
    Py_ssize_t xnext    # with xrun: rows that follow them in that run in x (the next tile's)
    Py_ssize_t gnext    # with grun: the same in the output
    bint stream         # the output is large (_stream_out): copied out by non-temporal stores


cdef inline bint _tile_alloc(Tile* t, Py_ssize_t K, Py_ssize_t itemsize) noexcept nogil:
    # False when out of memory (the caller then takes the row path)
    cdef Py_ssize_t T = _TILE
    # the tiles start on a 64-byte boundary (so does every column: 32 elements of 4 or 8
    # bytes), so that their vector loads and stores do not straddle cache lines
    cdef char* mem = <char*> malloc((2 * K + 1) * T * itemsize + 64)
    cdef char* f
    cdef double* d = <double*> malloc(17 * T * sizeof(double))
    cdef Py_ssize_t* i = <Py_ssize_t*> malloc(5 * T * sizeof(Py_ssize_t))
    if mem == NULL or d == NULL or i == NULL:
        free(mem)
        free(d)
        free(i)
        return False
    t.mem = mem
    f = mem + (64 - <size_t> mem % 64) % 64
    t.xt = f
    t.et = f + K * T * itemsize
    t.sh = f + 2 * K * T * itemsize
    t.rest, t.tot, t.logt, t.val, t.coef = d, d + T, d + 2 * T, d + 3 * T, d + 4 * T
    t.aux, t.smooth, t.gy, t.sc, t.rw = d + 5 * T, d + 6 * T, d + 7 * T, d + 8 * T, d + 9 * T
    t.lse, t.xy, t.ey, t.wy = d + 10 * T, d + 11 * T, d + 12 * T, d + 13 * T
    t.rmax, t.racc, t.rcnt = d + 14 * T, d + 15 * T, d + 16 * T
    t.lab, t.ox, t.og, t.ot, t.oo = i, i + T, i + 2 * T, i + 3 * T, i + 4 * T
    t.xrun = t.grun = t.stream = False
    t.xnext = t.gnext = 0
    memset(d, 0, 17 * T * sizeof(double))
    return True


cdef inline bint _run_rows(Py_ssize_t sa, Py_ssize_t sb, Pos p, Py_ssize_t n, Py_ssize_t K,
                           Py_ssize_t* o, Py_ssize_t* nxt) noexcept nogil:
    # the offsets o of the n rows from position p in an array with row strides (sa, sb), whether
    # they are a run of rows K elements apart, and in *nxt how many rows follow them in that run
    # (the next tile's, which the tile's copies fetch while they copy these; none past the end
    # of the rows at p.a; 0 when not a run)
    cdef bint run = _offsets(sa, sb, p, n, o) and sb == K
    nxt[0] = p.B - p.b - n if run else 0
    return run


cdef inline void _tile_x(Tile* t, Str3 sx, Pos p, Py_ssize_t K) noexcept nogil:
    # t.ox, t.xrun, t.xnext of the t.n rows in x (cx_tile_gather_* fetches the next ones)
    t.xrun = _run_rows(sx.a, sx.b, p, t.n, K, t.ox, &t.xnext)


cdef inline void _tile_g(Tile* t, Py_ssize_t sa, Py_ssize_t sb, Pos p,
                         Py_ssize_t K) noexcept nogil:
    # t.og, t.grun, t.gnext of the t.n rows in the output (cx_tile_scatter_* fetches the next)
    t.grun = _run_rows(sa, sb, p, t.n, K, t.og, &t.gnext)


cdef inline void _tile_free(Tile* t) noexcept nogil:
    # (after the last tile: the fence of the non-temporal stores, cx_tile_stream_*)
    if t.stream:
        cx_stream_fence()
    free(t.mem)
    free(t.rest)
    free(t.lab)


cdef inline bint _tiles(Py_ssize_t K, Py_ssize_t sk, Tile* t,
                        Py_ssize_t itemsize) noexcept nogil:
    # tiles for few classes along a contiguous axis (False also when out of memory)
    return 0 < K <= _tile_k(itemsize) and sk == 1 and _tile_alloc(t, K, itemsize)


cdef inline Py_ssize_t _group_k_rows(Py_ssize_t itemsize) noexcept nogil:
    # the largest K of log_softmax's and logsumexp's groups: float32 only
    return _GROUP_K_ROWS if itemsize == 4 else 0


cdef inline bint _groups(Py_ssize_t K, Py_ssize_t sk, Tile* t, Py_ssize_t itemsize,
                         Py_ssize_t kmax) noexcept nogil:
    # groups of rows (_group_rowsum) for rows too long for a tile, up to kmax classes
    return _tile_k(itemsize) < K <= kmax and sk == 1 and _tile_alloc(t, 0, itemsize)


cdef inline bint _stream_out(Py_ssize_t elements, Py_ssize_t itemsize,
                             bint new_pages) noexcept nogil:
    # whether an output of this size leaves the tiles by non-temporal stores ... unless no
    # store has touched its pages yet (cxent._memory.new_pages): the kernel zero-fills each new
    # page at its first store, ordinary stores then write lines the zeroing left in the caches,
    # and non-temporal ones send both to memory.  Measured (AVX2 build, one thread, 4M-element
    # float64 / 8M float32 outputs): cross-entropy + gradient at K = 16-40 5-13 % faster by
    # ordinary stores into new pages, 5-20 % slower into written ones; softmax 1-11 % faster
    return elements * itemsize >= _stream_bytes and not new_pages


cdef inline int _tile_load(Tile* t, const floating* x, Py_ssize_t K,
                           double cap) noexcept nogil:
    # gather the t.n rows at offsets t.ox transposed, soft-capped when cap != 0, and their
    # normalisers (cx_tile_rowsum: groups of 16 rows whose terms are all normal numbers take
    # the exp without the tests for the others, when _fast_rows) and log-normalisers; returns
    # the number of such groups
    cdef floating* xt = <floating*> t.xt
    cdef Py_ssize_t k
    if floating is float:
        cx_tile_gather_f(x, t.ox, t.n, K, xt, t.xrun, t.xnext)
    else:
        cx_tile_gather_d(x, t.ox, t.n, K, xt, t.xrun, t.xnext)
    if cap != 0:
        for k in range(K):
            _softcap_run(xt + k * _TILE, 1, xt + k * _TILE, t.n, cap)
    if floating is float:
        return cx_tile_rowsum_f(xt, t.n, K, <float*> t.et, <float*> t.sh, t.rest, t.tot,
                                t.logt, t.lse, _fast_rows)
    else:
        return cx_tile_rowsum_d(xt, t.n, K, <double*> t.et, <double*> t.sh, t.rest, t.tot,
                                t.logt, t.lse, _fast_rows)


def _fast_tile(const floating[:, ::1] x):
    """How many of the groups of 16 rows of one small-K tile (x: 1 to _TILE rows of 1 to
    _tile_k classes) take the exp without the tests for results that are not normal numbers
    (cx_tile_rowsum's answer).  For tests."""
    cdef Tile t
    cdef Py_ssize_t r, n = x.shape[0], K = x.shape[1]
    cdef Py_ssize_t kmax = _type_k(sizeof(floating))
    cdef int groups
    if not (0 < n <= _TILE and 0 < K <= kmax):
        raise ValueError(f"a tile has 1 to {_TILE} rows of 1 to {kmax} classes, got "
                         f"{n} x {K}")
    if not _tile_alloc(&t, K, sizeof(floating)):
        raise MemoryError()
    t.n = n
    for r in range(n):
        t.ox[r] = r * K
    groups = _tile_load(&t, &x[0, 0], K, 0.0)
    _tile_free(&t)
    return groups


cdef inline bint _tile_streams(const Tile* t, const floating* g, Py_ssize_t sk,
                               Py_ssize_t K) noexcept nogil:
    # whether _tile_store copies the tile out by non-temporal stores (cx_tile_stream_*): a
    # large output (t.stream) whose rows follow each other and are long enough
    if not (t.stream and t.grun and sk == 1):
        return False
    if floating is float:
        return cx_tile_can_stream_f(g + t.og[0], K)
    else:
        return cx_tile_can_stream_d(g + t.og[0], K)


cdef inline void _tile_store(const Tile* t, floating* g, Py_ssize_t sk, Py_ssize_t K,
                             bint streams, const double* c) noexcept nogil:
    # copy the output tile t.et back transposed to the rows at offsets t.og (element stride sk),
    # by non-temporal stores when streams (_tile_streams' answer).  With c != NULL each row r's
    # elements times c[r] (_tile_scale's products, the same bits): by ordinary stores on the
    # way out, one pass over the tile fewer.  AVX2 build, one thread, 4M elements into reused
    # outputs (benchmarks/ab.py, two runs): cross-entropy + gradient float64 K = 8 / 10 / 17
    # 3-4 / 4-10 / 8 % faster, float32 K = 10 / 16 / 24 3-6 / 3-5 / 5-8 % (K = 8 0-1 %);
    # softmax float64 K = 10 17 %, float32 K = 16 / 32 7 / 11 %; baseline float64 K = 10 5 %.
    # callgrind (1M elements): float64 K = 10 247 -> 233 instructions per row, but
    # float32 K = 10 203 -> 207 (4-lane products in the transpose's blocks, against the pass's
    # 8-lane ones), faster all the same.
    cdef floating* et = <floating*> t.et
    cdef floating* grow
    cdef Py_ssize_t r, k
    if streams:
        if c != NULL:
            _tile_scale(et, c, t.n, K, NULL, NULL)
        if floating is float:
            cx_tile_stream_f(et, t.n, K, g + t.og[0])
        else:
            cx_tile_stream_d(et, t.n, K, g + t.og[0])
        return
    if sk == 1:
        if floating is float:
            cx_tile_scatter_f(et, t.n, K, g, t.og, t.grun, c, t.gnext)
        else:
            cx_tile_scatter_d(et, t.n, K, g, t.og, t.grun, c, t.gnext)
        return
    if c != NULL:
        _tile_scale(et, c, t.n, K, NULL, NULL)
    for r in range(t.n):
        grow = g + t.og[r]
        for k in range(K):
            grow[k * sk] = et[k * _TILE + r]


cdef inline void _group_rowsum(const floating* x, Tile* t, Py_ssize_t K,
                               floating* e) noexcept nogil:
    # The normalisers of a group of t.n rows (K > _tile_k) at offsets t.ox with unit element
    # stride, as a tile's (t.sh, t.rest, t.tot, t.logt, t.lse): each row's maximum and sum of
    # exponentials, then the logarithms of the whole group one row per vector lane
    # (cx_lanes_rowsum).  Row by row, each logarithm is a chain of dependent operations that
    # stalls the loop (about 90 ns per row).  The same arithmetic as _row_sum.  With e != NULL
    # the terms exp(x_k - shift) are stored in the rows at offsets t.og of e, and each row
    # first fetches the lines of the same row of the next group (as the tiles' copies do,
    # cx_tile_scatter_*): AVX2 build, cross-entropy + gradient (benchmarks/ab.py, 4M and 10M
    # elements, one thread, an Intel Xeon): float32 K = 64 / 100 6-17 / 1-8 %, float64 K = 48 /
    # 64 / 100 10-14 / 1-10 / 7-8 % faster (AVX-512 -1..+14 %); in the caches within 1 %, float64
    # K = 64 14 % faster.  Fetching the group's next row (r + 1) instead: -8..+9 %.
    cdef floating* sh = <floating*> t.sh
    cdef const floating* xr
    cdef floating m
    cdef Py_ssize_t r
    cdef int fast
    for r in range(t.n):
        xr = x + t.ox[r]
        if e != NULL and r < t.gnext:
            cx_prefetch_bytes(e + t.og[r] + t.n * K, K * sizeof(floating))
        m = _row_max(xr, K, 1, &fast)
        sh[r] = _shift(m)
        t.rmax[r] = m
        t.racc[r] = _sum_exp_rest(xr, K, 1, sh[r], e + t.og[r] if e != NULL else NULL, 1,
                                  &t.rcnt[r], fast,
                                  _prefetch(x + t.ox[r + 1] if r + 1 < t.n else NULL, K))
    cx_lanes_rowsum(t.rmax, t.racc, t.rcnt, t.n, t.rest, t.tot, t.logt, t.lse)


cdef inline RowSum _tile_rowsum(const Tile* t, const floating* sh, Py_ssize_t r) noexcept nogil:
    # row r's normaliser as the row path's RowSum (sh is t.sh)
    cdef RowSum q
    q.shift = sh[r]
    q.rest = t.rest[r]
    q.total = t.tot[r]
    q.log_total = t.logt[r]
    return q
