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
    double zl           # z-loss: zl lse^2 added to each position's loss
    double cap          # soft cap of the logits, cap tanh(x / cap); 0: none
    double gamma        # focal loss exponent; 0: cross-entropy
    void* lse           # OUT (A, B) every position's log-normaliser, or NULL
    Str2 slse
    Py_ssize_t B, K


cdef inline double _target_row(const floating* x, Py_ssize_t sx, const floating* t,
                               Py_ssize_t st, const TargetArgs* a, RowSum q, double lse,
                               const floating* e, Py_ssize_t se, floating* g, Py_ssize_t sg,
                               double scale) noexcept nogil:
    # Loss -sum_k w_k t'_k log p_k with t' = (1 - eps) t + eps / K (PyTorch's smoothing of
    # probability targets, _target_weight), = T log(total) - sum_k w_k t'_k (x_k - shift) with
    # T = sum_k w_k t'_k, and the convention 0 log 0 = 0: a zero w_k t'_k never meets a -inf
    # logit; plus the z-loss zl lse^2.  From the row's normaliser q and its terms
    # e_k = exp(x_k - shift); with g != NULL also writes scale * (p * (T + 2 zl lse) - w t')
    # (g may be e itself).  The focal loss when gamma != 0.
    cdef const floating* w = <const floating*> a.w
    cdef double T = 0.0, dot = 0.0, tk, c, sm = a.eps / a.K
    cdef Py_ssize_t k, K = a.K
    if a.gamma != 0:
        return _focal_row(x, sx, K, q, e, se, -1, t, st, w, a.sw, a.eps, a.gamma, a.zl, lse,
                          scale, g, sg)
    for k in range(K):
        tk = _target_weight(k, -1, t, st, w, a.sw, a.eps, sm)
        if tk != 0:
            T += tk
            dot = cx_fma_d(tk, <double> x[k * sx] - q.shift, dot)
    if g != NULL:
        c = (T if a.zl == 0 else cx_fma_d(2.0 * a.zl, lse, T)) / q.total
        for k in range(K):
            tk = _target_weight(k, -1, t, st, w, a.sw, a.eps, sm)
            g[k * sg] = <floating> (scale * cx_fma_d(e[k * se], c, -tk))
    if a.zl != 0:
        return cx_fma_d(a.zl * lse, lse, T * q.log_total - dot)
    return T * q.log_total - dot


cdef inline double _target_pos(const floating* x, Py_ssize_t sx, const floating* t,
                               const TargetArgs* a, RowSum q, double lse, const floating* e,
                               Py_ssize_t se, floating* g, double rw) noexcept nogil:
    # one position: its loss times its sample weight rw; a zero sample weight gives exact zeros
    if rw == 0:
        _zero_row(g, a.sg.k, a.K)
        return 0.0
    return rw * _target_row(x, sx, t, a.st.k, a, q, lse, e, se, g, a.sg.k, a.scale * rw)


cdef void _targets_body(const floating* x, const TargetArgs* a, Py_ssize_t r0, Py_ssize_t r1,
                        BlockOut* out) noexcept nogil:
    cdef const floating* t = <const floating*> a.t
    cdef floating* loss = <floating*> a.loss
    cdef floating* g = <floating*> a.grad
    cdef floating* lse = <floating*> a.lse
    cdef floating* grow
    cdef floating* xt
    cdef floating* buf = NULL
    cdef const floating* xr
    cdef Pos p = _pos(r0, a.B)
    cdef Py_ssize_t K = a.K, r, k, sxk
    cdef double v, rwv
    cdef RowSum q
    cdef Tile tl
    cdef const double* rws = a.rw
    if _tiles(K, a.sx.k, &tl, sizeof(floating)):
        # the normalisers of a tile of rows, then each row with the row path's formula
        xt = <floating*> tl.xt
        while r0 < r1:
            tl.n = min(<Py_ssize_t> _TILE, r1 - r0)
            _tile_x(&tl, a.sx, p, K)
            _offsets(a.st.a, a.st.b, p, tl.n, tl.ot)
            _offsets(a.sg.a, a.sg.b, p, tl.n, tl.og)
            _offsets(a.sl.a, a.sl.b, p, tl.n, tl.oo)
            _offsets(a.srw.a, a.srw.b, p, tl.n, tl.lab)  # the sample weights' offsets first
            for r in range(tl.n):
                tl.rw[r] = rws[tl.lab[r]] if rws != NULL else 1.0
            _offsets(a.slse.a, a.slse.b, p, tl.n, tl.lab)
            p = _ahead(p, tl.n)
            _tile_load(&tl, x, K, a.cap)
            for r in range(tl.n):
                q = _tile_rowsum(&tl, <floating*> tl.sh, r)
                grow = g + tl.og[r] if g != NULL else NULL
                if lse != NULL:
                    lse[tl.lab[r]] = <floating> _lse_value(xt + r, _TILE, K, q)
                v = _target_pos(xt + r, _TILE, t + tl.ot[r], a, q, tl.lse[r],
                                <floating*> tl.et + r, _TILE, grow, tl.rw[r])
                if a.cap != 0 and grow != NULL and tl.rw[r] != 0:
                    for k in range(K):
                        grow[k * a.sg.k] = _softcap_grad(grow[k * a.sg.k], xt[k * _TILE + r],
                                                         a.cap)
                if loss != NULL:
                    loss[tl.oo[r]] = <floating> v
                out.total += v
            r0 += tl.n
        _tile_free(&tl)
        return
    if a.cap != 0:
        buf = <floating*> malloc(K * sizeof(floating))
        if buf == NULL:
            out.oom = 1
            return
    for r in range(r0, r1):
        grow = g + _at3(a.sg, p) if g != NULL else NULL
        rwv = a.rw[_at2(a.srw, p)] if a.rw != NULL else 1.0
        xr, sxk = x + _at3(a.sx, p), a.sx.k
        if buf != NULL:  # the soft-capped row
            _softcap_run(xr, sxk, buf, K, a.cap)
            xr, sxk = buf, 1
        if rwv != 0 or lse != NULL:
            q = _row_sum(xr, K, sxk, grow, a.sg.k,
                         _prefetch_row(x, a.sx, p, K, r + 1 == r1 or buf != NULL))
            if lse != NULL:
                lse[_at2(a.slse, p)] = <floating> _lse_value(xr, sxk, K, q)
        v = _target_pos(xr, sxk, t + _at3(a.st, p), a, q, q.shift + q.log_total, grow, a.sg.k,
                        grow, rwv)
        if buf != NULL and grow != NULL and rwv != 0:
            _softcap_grad_run(grow, a.sg.k, buf, K, a.cap)
        if loss != NULL:
            loss[_at2(a.sl, p)] = <floating> v
        out.total += v
        _next(&p)
    free(buf)


cdef void _targets_f(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _targets_body(<const float*> (<const TargetArgs*> a).x, <const TargetArgs*> a, r0, r1, o)

cdef void _targets_d(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _targets_body(<const double*> (<const TargetArgs*> a).x, <const TargetArgs*> a, r0, r1, o)


def cross_entropy_targets(const floating[:, :, :] x,               # IN  (A, B, K) logits
                          const floating[:, :, :] target,          # IN  (A, B, K)
                          *,
                          const floating[:] weight,           # IN  (K,) class weights
                          const double[:, :] sample_weight,   # IN  (A, B)
                          floating[:, :] loss,                # OUT (A, B) losses
                          floating[:, :, :] grad,             # OUT (A, B, K) gradient
                          floating[:, :] lse,                 # OUT (A, B)
                          double label_smoothing, double scale, double z_loss,
                          double softcap, double focal_gamma, int n_threads):
    """Cross-entropy with probability targets (class weights, label smoothing) times the sample
    weights, and its gradient times ``scale``; the options as for cross_entropy_labels.
    Returns the sum of the losses in float64."""
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
    a.eps, a.scale, a.zl, a.cap, a.gamma = label_smoothing, scale, z_loss, softcap, focal_gamma
    if lse is not None:
        a.lse, a.slse = &lse[0, 0], _s2(lse.strides, sizeof(floating))
    _run(_targets_f if floating is float else _targets_d, &a, M, a.K, n_threads, &res)
    return res.total
