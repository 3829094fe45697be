# Cross-entropy with probability targets (class weights, label smoothing, sample weights), tile
# and row paths.  Included by _kernels_impl.pxi.

ctypedef struct TargetArgs:
    const void* x       # IN  (A, B, K) logits
    Str3 sx
    const void* t       # IN  (A, B, K) target probabilities
    Str3 st
    const void* w       # IN  (K,) class weights with stride sw, or NULL (all 1)
    Py_ssize_t sw
    const double* rw    # IN  (A, B) sample weights, or NULL (all 1)
    Str2 srw
    void* loss          # OUT (A, B) per-position losses, or NULL
    Str2 sl
    void* grad          # OUT (A, B, K) gradient times scale, or NULL
    Str3 sg
    double eps          # label smoothing
    double scale        # factor of the gradient
    Py_ssize_t B, K


cdef inline double _target_row(const floating* x, Py_ssize_t sx, const floating* t,
                               Py_ssize_t st, const TargetArgs* a, RowSum q, const floating* e,
                               Py_ssize_t se, floating* g, Py_ssize_t sg,
                               double scale) noexcept nogil:
    # Loss -sum_k w_k t'_k log p_k with t' = (1 - eps) t + eps / K (PyTorch's smoothing of
    # probability targets), = T log(total) - sum_k w_k t'_k (x_k - shift) with T = sum_k w_k t'_k,
    # and the convention 0 log 0 = 0: a zero w_k t'_k never meets a -inf logit.  From the row's
    # normaliser q and its terms e_k = exp(x_k - shift); with g != NULL also writes
    # scale * (p * T - w t') (g may be e itself).
    cdef const floating* w = <const floating*> a.w
    cdef double T = 0.0, dot = 0.0, tk, c, eps = a.eps, sm = a.eps / a.K
    cdef Py_ssize_t k, K = a.K
    for k in range(K):
        tk = (1.0 - eps) * t[k * st] + sm
        if w != NULL:
            tk = tk * w[k * a.sw]
        if tk != 0:
            T += tk
            dot = cx_fma_d(tk, <double> x[k * sx] - q.shift, dot)
    if g != NULL:
        c = T / q.total
        for k in range(K):
            tk = (1.0 - eps) * t[k * st] + sm
            if w != NULL:
                tk = tk * w[k * a.sw]
            g[k * sg] = <floating> (scale * cx_fma_d(e[k * se], c, -tk))
    return T * q.log_total - dot


cdef inline double _target_pos(const floating* x, Py_ssize_t sx, const floating* t,
                               const TargetArgs* a, RowSum q, const floating* e, Py_ssize_t se,
                               floating* g, double rw) noexcept nogil:
    # one position: its loss times its sample weight rw; a zero sample weight gives exact zeros
    if rw == 0:
        _zero_row(g, a.sg.k, a.K)
        return 0.0
    return rw * _target_row(x, sx, t, a.st.k, a, q, e, se, g, a.sg.k, a.scale * rw)


cdef void _targets_body(const floating* x, const TargetArgs* a, Py_ssize_t r0, Py_ssize_t r1,
                        BlockOut* out) noexcept nogil:
    cdef const floating* t = <const floating*> a.t
    cdef floating* loss = <floating*> a.loss
    cdef floating* g = <floating*> a.grad
    cdef floating* grow
    cdef Pos p = _pos(r0, a.B)
    cdef Py_ssize_t K = a.K, r
    cdef double v, rwv
    cdef RowSum q
    cdef Tile tl
    out.total, out.first_bad, out.counted = 0.0, -1, 0
    if _tiles(K, a.sx.k, &tl, sizeof(floating)):
        # the normalisers of a tile of rows, then each row with the row path's formula
        while r0 < r1:
            tl.n = min(<Py_ssize_t> _TILE, r1 - r0)
            for r in range(tl.n):
                tl.ox[r] = _at3(a.sx, p)
                tl.ot[r] = _at3(a.st, p)
                tl.og[r] = _at3(a.sg, p)
                tl.oo[r] = _at2(a.sl, p)
                tl.rw[r] = a.rw[_at2(a.srw, p)] if a.rw != NULL else 1.0
                _next(&p)
            _tile_load(&tl, x, K)
            for r in range(tl.n):
                q = _tile_rowsum(&tl, <floating*> tl.sh, r)
                v = _target_pos(x + tl.ox[r], 1, t + tl.ot[r], a, q, <floating*> tl.et + r,
                                _TILE, g + tl.og[r] if g != NULL else NULL, tl.rw[r])
                if loss != NULL:
                    loss[tl.oo[r]] = <floating> v
                out.total += v
            r0 += tl.n
        _tile_free(&tl)
        return
    for r in range(r0, r1):
        grow = g + _at3(a.sg, p) if g != NULL else NULL
        rwv = a.rw[_at2(a.srw, p)] if a.rw != NULL else 1.0
        if rwv != 0:
            q = _row_sum(x + _at3(a.sx, p), K, a.sx.k, grow, a.sg.k)
        v = _target_pos(x + _at3(a.sx, p), a.sx.k, t + _at3(a.st, p), a, q, grow, a.sg.k, grow,
                        rwv)
        if loss != NULL:
            loss[_at2(a.sl, p)] = <floating> v
        out.total += v
        _next(&p)


cdef void _targets_f(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _targets_body(<const float*> (<const TargetArgs*> a).x, <const TargetArgs*> a, r0, r1, o)

cdef void _targets_d(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _targets_body(<const double*> (<const TargetArgs*> a).x, <const TargetArgs*> a, r0, r1, o)


def cross_entropy_targets(const floating[:, :, :] x,               # IN  (A, B, K) logits
                          const floating[:, :, :] target,          # IN  (A, B, K)
                          *,
                          const floating[:] weight=None,           # IN  (K,) class weights
                          const double[:, :] sample_weight=None,   # IN  (A, B)
                          floating[:, :] loss=None,                # OUT (A, B) losses
                          floating[:, :, :] grad=None,             # OUT (A, B, K) gradient
                          double label_smoothing, double scale, int n_threads):
    """Cross-entropy with probability targets (class weights, label smoothing) times the sample
    weights, and its gradient times ``scale``.  Returns the sum of the losses in float64."""
    cdef TargetArgs a
    cdef BlockOut res
    cdef Py_ssize_t M = x.shape[0] * x.shape[1]
    if M == 0:
        return 0.0
    memset(&a, 0, sizeof(a))
    a.x, a.sx, a.B, a.K = &x[0, 0, 0], _s3(x.strides, sizeof(floating)), x.shape[1], x.shape[2]
    a.t, a.st = &target[0, 0, 0], _s3(target.strides, sizeof(floating))
    if weight is not None:
        a.w, a.sw = &weight[0], weight.strides[0] // sizeof(floating)
    if sample_weight is not None:
        a.rw, a.srw = &sample_weight[0, 0], _s2(sample_weight.strides, sizeof(double))
    if loss is not None:
        a.loss, a.sl = &loss[0, 0], _s2(loss.strides, sizeof(floating))
    if grad is not None:
        a.grad, a.sg = &grad[0, 0, 0], _s3(grad.strides, sizeof(floating))
    a.eps, a.scale = label_smoothing, scale
    _run(_targets_f if floating is float else _targets_d, &a, M, a.K, n_threads, &res)
    return res.total
