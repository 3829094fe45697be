# Information measures of distributions along the class axis: entropy, KL divergence and
# cross-entropy (scipy.special's entr and rel_entr conventions; nan propagates).  Included by
# _kernels_impl.pxi.

ctypedef struct InfoArgs:
    const void* p       # IN  (A, B, K) a distribution
    Str3 sp
    const void* q       # IN  (A, B, K) the second distribution (KL, cross-entropy)
    Str3 sq
    void* out           # OUT (A, B) the measure of each row, times factor
    Str2 so
    double factor       # 1 / log(base)
    double lo, hi       # cross-entropy: q is clipped into [lo, hi] first
    Py_ssize_t B, K


cdef inline double _entropy_row(const floating* p, Py_ssize_t sp, Py_ssize_t K) noexcept nogil:
    # sum_k entr(p_k), entr(p) = -p log p, 0 at 0, -inf below 0
    cdef double acc = 0.0, pk
    cdef Py_ssize_t k
    for k in range(K):
        pk = p[k * sp]
        if pk > 0:
            acc -= pk * log(pk)
        elif pk < 0:
            acc = -INFINITY
        elif pk != pk:
            acc += pk
    return acc


cdef inline double _kl_row(const floating* p, Py_ssize_t sp, const floating* q, Py_ssize_t sq,
                           Py_ssize_t K) noexcept nogil:
    # sum_k rel_entr(p_k, q_k) = p log(p / q); 0 where p = 0 <= q; inf where p > 0 = q or
    # either is negative
    cdef double acc = 0.0, pk, qk
    cdef Py_ssize_t k
    for k in range(K):
        pk = p[k * sp]
        qk = q[k * sq]
        if pk > 0 and qk > 0:
            acc += pk * log(pk / qk)
        elif pk == 0 and qk >= 0:
            pass
        elif pk != pk or qk != qk:
            acc += pk + qk
        else:
            acc = INFINITY
    return acc


cdef inline double _xent_dist_row(const floating* p, Py_ssize_t sp, const floating* q,
                                  Py_ssize_t sq, Py_ssize_t K, double lo,
                                  double hi) noexcept nogil:
    # sum_k -p_k log clip(q_k, lo, hi), 0 where p = 0 (unless q is nan)
    cdef double acc = 0.0, pk, qk
    cdef Py_ssize_t k
    for k in range(K):
        pk = p[k * sp]
        qk = _clip(q[k * sq], lo, hi)
        if pk != 0 or qk != qk:
            acc -= pk * log(qk)
    return acc


cdef void _entropy_body(const floating* p, const InfoArgs* a, Py_ssize_t r0,
                        Py_ssize_t r1) noexcept nogil:
    cdef floating* o = <floating*> a.out
    cdef Pos s = _pos(r0, a.B)
    cdef Py_ssize_t r
    for r in range(r0, r1):
        o[_at2(a.so, s)] = <floating> (a.factor * _entropy_row(p + _at3(a.sp, s), a.sp.k, a.K))
        _next(&s)


cdef void _kl_body(const floating* p, const InfoArgs* a, Py_ssize_t r0,
                   Py_ssize_t r1) noexcept nogil:
    cdef const floating* q = <const floating*> a.q
    cdef floating* o = <floating*> a.out
    cdef Pos s = _pos(r0, a.B)
    cdef Py_ssize_t r
    for r in range(r0, r1):
        o[_at2(a.so, s)] = <floating> (a.factor * _kl_row(p + _at3(a.sp, s), a.sp.k,
                                                          q + _at3(a.sq, s), a.sq.k, a.K))
        _next(&s)


cdef void _xent_dist_body(const floating* p, const InfoArgs* a, Py_ssize_t r0,
                          Py_ssize_t r1) noexcept nogil:
    cdef const floating* q = <const floating*> a.q
    cdef floating* o = <floating*> a.out
    cdef Pos s = _pos(r0, a.B)
    cdef Py_ssize_t r
    for r in range(r0, r1):
        o[_at2(a.so, s)] = <floating> (a.factor * _xent_dist_row(
            p + _at3(a.sp, s), a.sp.k, q + _at3(a.sq, s), a.sq.k, a.K, a.lo, a.hi))
        _next(&s)


cdef void _entropy_f(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _entropy_body(<const float*> (<const InfoArgs*> a).p, <const InfoArgs*> a, r0, r1)

cdef void _entropy_d(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _entropy_body(<const double*> (<const InfoArgs*> a).p, <const InfoArgs*> a, r0, r1)

cdef void _kl_f(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _kl_body(<const float*> (<const InfoArgs*> a).p, <const InfoArgs*> a, r0, r1)

cdef void _kl_d(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _kl_body(<const double*> (<const InfoArgs*> a).p, <const InfoArgs*> a, r0, r1)

cdef void _xent_dist_f(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _xent_dist_body(<const float*> (<const InfoArgs*> a).p, <const InfoArgs*> a, r0, r1)

cdef void _xent_dist_d(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _xent_dist_body(<const double*> (<const InfoArgs*> a).p, <const InfoArgs*> a, r0, r1)


cdef _info(const floating[:, :, :] p, const floating[:, :, :] q, floating[:, :] out,
           double factor, double lo, double hi, BlockFn fn, int n_threads):
    cdef InfoArgs a
    cdef BlockOut res
    cdef Py_ssize_t M = p.shape[0] * p.shape[1]
    if M == 0:
        return
    memset(&a, 0, sizeof(a))
    a.p, a.sp, a.B, a.K = &p[0, 0, 0], _s3(p.strides, sizeof(floating)), p.shape[1], p.shape[2]
    if q is not None:
        a.q, a.sq = &q[0, 0, 0], _s3(q.strides, sizeof(floating))
    a.out, a.so = &out[0, 0], _s2(out.strides, sizeof(floating))
    a.factor, a.lo, a.hi = factor, lo, hi
    _run(fn, &a, M, a.K, n_threads, &res)


def entropy_rows(const floating[:, :, :] p,  # IN  (A, B, K)
                 floating[:, :] out,         # OUT (A, B)
                 *, double factor, int n_threads):
    """``out = factor * sum(entr(p))`` of each row."""
    cdef const floating[:, :, :] no_q = None
    _info(p, no_q, out, factor, 0.0, 0.0, _entropy_f if floating is float else _entropy_d,
          n_threads)


def kl_rows(const floating[:, :, :] p,  # IN  (A, B, K)
            const floating[:, :, :] q,  # IN  (A, B, K)
            floating[:, :] out,         # OUT (A, B)
            *, double factor, int n_threads):
    """``out = factor * sum(rel_entr(p, q))`` of each row."""
    _info(p, q, out, factor, 0.0, 0.0, _kl_f if floating is float else _kl_d, n_threads)


def cross_entropy_dist_rows(const floating[:, :, :] p,  # IN  (A, B, K)
                            const floating[:, :, :] q,  # IN  (A, B, K)
                            floating[:, :] out,         # OUT (A, B)
                            *, double factor, double lo, double hi,
                            int n_threads):
    """``out = factor * sum(-p log clip(q, lo, hi))`` of each row (no clip by default)."""
    _info(p, q, out, factor, lo, hi, _xent_dist_f if floating is float else _xent_dist_d,
          n_threads)
