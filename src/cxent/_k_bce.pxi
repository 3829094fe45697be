# Binary cross-entropy with logits, elementwise (weight, pos_weight), and its gradient.
# Included by _kernels_impl.pxi.

ctypedef struct BceArgs:
    const void* x       # IN  (A, B, K) logits
    Str3 sx
    const void* t       # IN  (A, B, K) targets
    Str3 st
    const void* w       # IN  (A, B, K) weights (a broadcast view), or NULL (all 1)
    Str3 sw
    const void* pw      # IN  (A, B, K) pos_weight (a broadcast view), or NULL (all 1)
    Str3 spw
    void* loss          # OUT (A, B, K) elementwise losses, or NULL
    Str3 sl
    void* grad          # OUT (A, B, K) gradient times scale, or NULL
    Str3 sg
    double scale
    Py_ssize_t B, K


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


cdef void _bce_body(const floating* x, const BceArgs* a, Py_ssize_t r0, Py_ssize_t r1,
                    BlockOut* out) noexcept nogil:
    cdef const floating* t = <const floating*> a.t
    cdef const floating* w = <const floating*> a.w
    cdef const floating* pw = <const floating*> a.pw
    cdef floating* loss = <floating*> a.loss
    cdef floating* g = <floating*> a.grad
    cdef Pos p = _pos(r0, a.B)
    cdef Py_ssize_t r
    for r in range(r0, r1):
        out.total += _bce_row(x + _at3(a.sx, p), a.sx.k, t + _at3(a.st, p), a.st.k,
                              w + _at3(a.sw, p) if w != NULL else NULL, a.sw.k,
                              pw + _at3(a.spw, p) if pw != NULL else NULL, a.spw.k, a.K,
                              loss + _at3(a.sl, p) if loss != NULL else NULL, a.sl.k,
                              g + _at3(a.sg, p) if g != NULL else NULL, a.sg.k, a.scale)
        _next(&p)


cdef void _bce_f(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _bce_body(<const float*> (<const BceArgs*> a).x, <const BceArgs*> a, r0, r1, o)

cdef void _bce_d(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _bce_body(<const double*> (<const BceArgs*> a).x, <const BceArgs*> a, r0, r1, o)


def bce_with_logits(const floating[:, :, :] x,                 # IN  (A, B, K) logits
                    const floating[:, :, :] target,            # IN  (A, B, K)
                    *,
                    const floating[:, :, :] weight,       # IN  (A, B, K) broadcast view
                    const floating[:, :, :] pos_weight,   # IN  (A, B, K) broadcast view
                    floating[:, :, :] loss,               # OUT (A, B, K) losses
                    floating[:, :, :] grad,               # OUT (A, B, K) gradient
                    double scale, int n_threads):
    """Binary cross-entropy with logits, elementwise, and its gradient times ``scale``.
    Returns the sum of the losses in float64."""
    cdef BceArgs a
    cdef BlockOut res
    cdef Py_ssize_t M = x.shape[0] * x.shape[1]
    if M == 0:
        return 0.0
    memset(&a, 0, sizeof(a))
    a.x, a.sx, a.B, a.K = &x[0, 0, 0], _s3(x.strides, sizeof(floating)), x.shape[1], x.shape[2]
    a.t, a.st = &target[0, 0, 0], _s3(target.strides, sizeof(floating))
    if weight is not None:
        a.w, a.sw = &weight[0, 0, 0], _s3(weight.strides, sizeof(floating))
    if pos_weight is not None:
        a.pw, a.spw = &pos_weight[0, 0, 0], _s3(pos_weight.strides, sizeof(floating))
    if loss is not None:
        a.loss, a.sl = &loss[0, 0, 0], _s3(loss.strides, sizeof(floating))
    if grad is not None:
        a.grad, a.sg = &grad[0, 0, 0], _s3(grad.strides, sizeof(floating))
    a.scale = scale
    _run(_bce_f if floating is float else _bce_d, &a, M, a.K, n_threads, &res)
    return res.total
