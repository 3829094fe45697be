# Class-index losses: cross-entropy of logits (tile and row paths), the negative log-likelihood
# of log-probabilities, log_loss's -log of a clipped probability, and the label statistics of
# the "mean" denominator.  Included by _kernels_impl.pxi.

ctypedef struct LabelArgs:
    const void* x       # IN  (A, B, K) logits (nll: log-probabilities, log_loss: probabilities)
    Str3 sx
    const int64_t* y    # IN  (A, B) class indices
    Str2 sy
    const void* w       # IN  (K,) class weights with stride sw, or NULL (all 1)
    Py_ssize_t sw
    const double* rw    # IN  (A, B) sample weights, or NULL (all 1)
    Str2 srw
    void* loss          # OUT (A, B) per-position losses, or NULL
    Str2 sl
    void* grad          # OUT (A, B, K) gradient times scale, or NULL
    Str3 sg
    int64_t ignore      # the ignored class index
    double eps          # label smoothing
    double wsum         # sum of the class weights (K without)
    double scale        # factor of the gradient ("mean": 1 / denominator)
    double zl           # z-loss: zl lse^2 added to each counted position's loss
    double cap          # soft cap of the logits, cap tanh(x / cap); 0: none
    double gamma        # focal loss exponent; 0: cross-entropy
    void* lse           # OUT (A, B) every position's log-normaliser (capped logits), or NULL
    Str2 slse
    double lo, hi       # log_loss: probabilities are clipped into [lo, hi]
    Py_ssize_t B, K
    bint stream         # the gradient is large (_stream_out)


cdef inline int _label_state(int64_t y, Py_ssize_t K, int64_t ignore, double rw) noexcept nogil:
    # The rule of a class index: 1 it counts and is computed; 0 it counts, but its sample weight
    # is 0, so its loss and gradient are exact zeros (whatever the logits, nan included); -1 it
    # is ignore_index (loss and gradient zero, not counted); -2 it is invalid (neither in [0, K)
    # nor ignore_index: the call reports it).
    # (selects rather than branches: labels are unpredictable, and loops over them vectorize)
    cdef int valid = <uint64_t> y < <uint64_t> K  # 0 <= y < K
    cdef int counted = 1 if rw != 0 else 0
    return -1 if y == ignore else (counted if valid else -2)


cdef inline double _smooth_dot(const floating* x, Py_ssize_t sx, Py_ssize_t K, const floating* w,
                               Py_ssize_t sw, double shift) noexcept nogil:
    # label smoothing's sum_k w_k (x_k - shift), over the k with w_k != 0 (a zero weight never
    # meets a -inf logit)
    cdef double dot = 0.0, wk
    cdef Py_ssize_t k
    for k in range(K):
        wk = w[k * sw] if w != NULL else 1.0
        if wk != 0:
            dot = cx_fma_d(wk, <double> x[k * sx] - shift, dot)  # explicit: one rounding
    return dot                                                   # in every loop it is inlined in


cdef inline void _label_grad(floating* g, Py_ssize_t sg, Py_ssize_t K, Py_ssize_t y,
                             const LabelArgs* a, double coef, double smooth,
                             double gy) noexcept nogil:
    # a row's gradient from the exponentials exp(x_k - shift) in g and cx_label_terms'
    # coefficients: g_k = e_k coef - smooth w_k, then g_y = gy
    cdef const floating* w = <const floating*> a.w
    cdef Py_ssize_t k
    if a.eps == 0 and sg == 1:
        _scale(g, g, K, coef)
    elif a.eps == 0:
        for k in range(K):
            g[k * sg] = _mul(g[k * sg], coef)
    else:
        for k in range(K):
            g[k * sg] = <floating> cx_fma_d(g[k * sg], coef, -smooth
                                            * (w[k * a.sw] if w != NULL else 1.0))
    g[y * sg] = <floating> gy


cdef inline double _label_row(const floating* x, Py_ssize_t sx, Py_ssize_t K, Py_ssize_t y,
                              const LabelArgs* a, RowSum q, double lse, double scale, floating* g,
                              Py_ssize_t sg) noexcept nogil:
    # The loss of one row with class index y from its normaliser q (cx_label_terms, or the focal
    # loss with gamma != 0); with g != NULL also its gradient times scale (g holds the
    # exponentials exp(x_k - shift) on entry).
    cdef const floating* w = <const floating*> a.w
    cdef double wy, dot, ey
    cdef LabelTerms o
    if a.gamma != 0:
        return _focal_row(x, sx, K, q, g, sg, y, <const floating*> NULL, 0, w, a.sw, a.eps,
                          a.gamma, a.zl, lse, scale, g, sg)
    wy = w[y * a.sw] if w != NULL else 1.0
    dot = _smooth_dot(x, sx, K, w, a.sw, q.shift) if a.eps != 0 else 0.0
    ey = g[y * sg] if g != NULL else 0.0
    o = cx_label_terms(<double> x[y * sx] - q.shift, ey, wy, dot, q, a.eps, a.eps / K, a.wsum,
                       scale)
    if a.zl != 0:
        o = cx_label_zloss(o, ey, q, scale, a.zl, lse)
    if g != NULL:
        _label_grad(g, sg, K, y, a, o.coef, o.smooth, o.gy)
    return o.loss


cdef inline void _zero_row(floating* g, Py_ssize_t sg, Py_ssize_t K) noexcept nogil:
    cdef Py_ssize_t k
    if g != NULL:
        for k in range(K):
            g[k * sg] = 0


cdef inline Py_ssize_t _label_states(const int64_t* ys, Py_ssize_t* lab, const double* rw,
                                     double* sc, Py_ssize_t n, Py_ssize_t K, int64_t ignore,
                                     double scale, Py_ssize_t r0, bint weighted,
                                     Py_ssize_t* counted, int64_t* bad) noexcept nogil:
    # _label_group's rows by _label_state: lab[r] from the labels' offsets to the class index
    # (-1 for a row not computed), sc[r] the scale times the sample weight rw[r] (1 unless
    # weighted); adds the rows counted to *counted, sets *bad to the first invalid row (flat,
    # from r0) if it is still -1; returns the number of rows computed
    cdef Py_ssize_t computed = 0, cnt = 0, r
    cdef int64_t yv
    cdef double w
    cdef int state
    for r in range(n):
        yv = ys[lab[r]]
        w = rw[r] if weighted else 1.0
        state = _label_state(yv, K, ignore, w)
        if state == -2 and bad[0] < 0:
            bad[0] = r0 + r
        cnt += state >= 0
        computed += state == 1
        lab[r] = <Py_ssize_t> yv if state == 1 else -1
        sc[r] = scale * w
    counted[0] += cnt
    return computed


cdef inline void _label_group(Tile* t, const LabelArgs* a, Pos p, Py_ssize_t r0,
                              BlockOut* out) noexcept nogil:
    # The t.n rows from position p (flat row r0) of a group (a tile, or a group of rows): their
    # offsets, sample weights t.rw, class indices t.lab by _label_state's rule (-1 for a row
    # not computed; t.skipped of them) and scales t.sc; the counts and the first invalid row
    # into out.
    # The fields it reads and the scratch pointers it writes through are locals: the stores
    # could alias *a and *t, and the compiler would reload them for every row.
    cdef const int64_t* ys = a.y
    cdef const double* rws = a.rw
    cdef double* rw = t.rw
    cdef double* sc = t.sc
    cdef Py_ssize_t* lab = t.lab
    cdef int64_t ignore = a.ignore, bad = -1
    cdef double scale = a.scale
    cdef Py_ssize_t K = a.K, n = t.n, counted = 0, computed, r
    _tile_x(t, a.sx, p, K)
    _tile_g(t, a.sg.a, a.sg.b, p, K)
    if a.loss != NULL:  # (offsets into arrays that are absent are not read)
        _offsets(a.sl.a, a.sl.b, p, n, t.oo)
    if a.lse != NULL:
        _offsets(a.slse.a, a.slse.b, p, n, t.ot)
    if rws != NULL:
        _offsets(a.srw.a, a.srw.b, p, n, lab)  # the sample weights' offsets, then the
        for r in range(n):                     # labels' (lab is scratch here)
            rw[r] = rws[lab[r]]
    else:
        for r in range(n):
            rw[r] = 1.0
    _offsets(a.sy.a, a.sy.b, p, n, lab)
    if rws != NULL:
        computed = _label_states(ys, lab, rw, sc, n, K, ignore, scale, r0, True, &counted, &bad)
    else:  # (the same rule, the weight 1 a constant: fewer instructions per row)
        computed = _label_states(ys, lab, rw, sc, n, K, ignore, scale, r0, False, &counted, &bad)
    t.skipped = n - computed
    out.counted += counted
    if bad >= 0 and out.first_bad < 0:
        out.first_bad = bad


cdef inline double _add_weighted(double total, double rw, double v) noexcept nogil:
    # the running sum of the losses plus a sample-weighted loss, rw v rounded once with FMA
    # hardware: written out, so that GCC's choice of contracting the product (which differed
    # between the row, group and tile loops) does not decide the last bits of a "mean"/"sum".
    # Without a sample weight (rw == 1) it is total + v, the same value without the FMA's
    # longer latency in the chain of the sum.
    return total + v if rw == 1.0 else cx_fma_d(rw, v, total)


cdef inline void _label_group_out(const Tile* t, floating* loss, bint weighted,
                                  BlockOut* out) noexcept nogil:
    # the group's losses (times their sample weights; all 1 unless weighted) into the output
    # and the block's sum, in row order
    cdef const double* rw = t.rw
    cdef const double* val = t.val
    cdef const Py_ssize_t* oo = t.oo
    cdef Py_ssize_t r
    cdef double total = out.total
    if loss != NULL:
        for r in range(t.n):
            loss[oo[r]] = <floating> (rw[r] * val[r])
    if weighted:
        for r in range(t.n):
            total = _add_weighted(total, rw[r], val[r])
    else:
        for r in range(t.n):
            total = _add_weighted(total, 1.0, val[r])
    out.total = total


cdef inline void _ce_tile(const floating* x, const LabelArgs* a, Tile* t) noexcept nogil:
    # cross-entropy of the rows of one tile (K <= _tile_k): normalisers, then the focal loss
    # row by row, or the label terms lane by lane (cx_tile_labels) and the gradient tile
    cdef const floating* w = <const floating*> a.w
    cdef floating* g = <floating*> a.grad
    cdef floating* lse = <floating*> a.lse
    cdef floating* et = <floating*> t.et
    cdef floating* xt = <floating*> t.xt
    cdef floating* grow
    cdef floating one = 1
    # locals: the stores through g could alias *a and *t (the compiler would reload them)
    cdef const Py_ssize_t* lab = t.lab
    cdef const Py_ssize_t* og = t.og
    cdef const double* gy = t.gy
    cdef Py_ssize_t K = a.K, sgk = a.sg.k, r, k
    cdef double wk
    cdef bint streams, scale_out
    _tile_load(t, x, K, a.cap)
    if lse != NULL:
        for r in range(t.n):
            lse[t.ot[r]] = <floating> _lse_value(xt + r, _TILE, K,
                                                 _tile_rowsum(t, <floating*> t.sh, r))
    if a.gamma != 0:  # the focal loss, row by row from the tile's normalisers
        for r in range(t.n):
            grow = g + t.og[r] if g != NULL else NULL
            if t.lab[r] < 0:
                t.val[r] = 0.0
                _zero_row(grow, a.sg.k, K)
                continue
            t.val[r] = _focal_row(xt + r, _TILE, K, _tile_rowsum(t, <floating*> t.sh, r),
                                  et + r, _TILE, t.lab[r], <const floating*> NULL, 0, w,
                                  a.sw, a.eps, a.gamma, a.zl, t.lse[r], t.sc[r], grow,
                                  a.sg.k)
            if a.cap != 0 and grow != NULL:
                for k in range(K):
                    grow[k * a.sg.k] = _softcap_grad(grow[k * a.sg.k],
                                                     xt[k * _TILE + r], a.cap)
    else:
        if a.eps != 0:  # (t.aux starts at zeros, read only with eps != 0)
            for r in range(t.n):
                t.aux[r] = (_smooth_dot(xt + r, _TILE, K, w, a.sw, (<floating*> t.sh)[r])
                            if t.lab[r] >= 0 else 0.0)
        if floating is float:
            cx_tile_labels_f(xt, et, t.lab, w if w != NULL else &one,
                             a.sw if w != NULL else 0, t.n, <float*> t.sh, t.rest, t.tot,
                             t.logt, t.aux, a.eps, a.wsum, t.sc, a.zl, t.lse, K, t.val,
                             t.coef, t.smooth, t.gy)
        else:
            cx_tile_labels_d(xt, et, t.lab, w if w != NULL else &one,
                             a.sw if w != NULL else 0, t.n, <double*> t.sh, t.rest, t.tot,
                             t.logt, t.aux, a.eps, a.wsum, t.sc, a.zl, t.lse, K, t.val,
                             t.coef, t.smooth, t.gy)
        if g != NULL:
            streams = _tile_streams(t, g, sgk, K)
            # the rows' factors on the way out (_tile_store), when nothing below reads the
            # scaled tile: no smoothing, no cap, no label entries put into the tile
            scale_out = a.eps == 0 and a.cap == 0 and not streams
            if a.eps == 0:
                if not scale_out:  # (streamed tiles: the label's entries in the same pass)
                    _tile_scale(et, t.coef, t.n, K, lab if a.cap == 0 else NULL, gy)
            else:
                for k in range(K):
                    wk = w[k * a.sw] if w != NULL else 1.0
                    for r in range(t.n):
                        et[k * _TILE + r] = <floating> cx_fma_d(
                            et[k * _TILE + r], t.coef[r], -t.smooth[r] * wk)
            if a.cap != 0:  # the label's entries, then all through the cap
                for r in range(t.n):
                    if t.lab[r] >= 0:
                        et[t.lab[r] * _TILE + r] = <floating> t.gy[r]
                for k in range(K):
                    _softcap_grad_run(et + k * _TILE, 1, xt + k * _TILE, t.n, a.cap)
            for r in range(t.n if t.skipped else 0):
                if lab[r] < 0:  # exact zeros, whatever the logits (nan included; coef 0)
                    for k in range(K):
                        et[k * _TILE + r] = 0
            if a.cap == 0 and streams and a.eps != 0:  # the label's entries by vector selects
                if floating is float:
                    cx_tile_put_f(et, lab, gy, t.n, K)
                else:
                    cx_tile_put_d(et, lab, gy, t.n, K)
            _tile_store(t, g, sgk, K, streams, t.coef if scale_out else NULL)
            if a.cap == 0 and not streams:
                # the label's entries into the output rows after the transposed copy:
                # written into the tile, each would stall the copy's vector load of its
                # column (a store that does not forward to a wider load)
                if t.skipped == 0:  # (every row computed: no test per row)
                    for r in range(t.n):
                        g[og[r] + lab[r] * sgk] = <floating> gy[r]
                else:
                    for r in range(t.n):
                        if lab[r] >= 0:
                            g[og[r] + lab[r] * sgk] = <floating> gy[r]


cdef inline void _ce_group(const floating* x, const LabelArgs* a, Tile* t) noexcept nogil:
    # cross-entropy of a group of _TILE contiguous rows (K > _tile_k, no soft cap, no focal
    # loss): the normalisers (_group_rowsum, the terms stored in the gradient rows), then the
    # label terms of the whole group one row per vector lane (the tiles' functions), then each
    # row's gradient.  The same arithmetic as row by row.
    cdef const floating* w = <const floating*> a.w
    cdef floating* g = <floating*> a.grad
    cdef floating* lse = <floating*> a.lse
    cdef floating* sh = <floating*> t.sh
    cdef floating* grow
    cdef const floating* xr
    cdef Py_ssize_t K = a.K, r, y
    _group_rowsum(x, t, K, g)
    for r in range(t.n):
        xr = x + t.ox[r]
        y = t.lab[r] if t.lab[r] >= 0 else 0
        t.xy[r] = <double> xr[y] - <double> sh[r]
        t.ey[r] = g[t.og[r] + y] if g != NULL and t.lab[r] >= 0 else 0.0
        t.wy[r] = w[y * a.sw] if w != NULL else 1.0
        if a.eps != 0:
            t.aux[r] = _smooth_dot(xr, 1, K, w, a.sw, sh[r]) if t.lab[r] >= 0 else 0.0
    if lse != NULL:
        for r in range(t.n):
            lse[t.ot[r]] = <floating> _lse_value(x + t.ox[r], 1, K,
                                                 _tile_rowsum(t, sh, r))
    cx_label_lanes(t.xy, t.ey, t.wy, t.lab, t.n, t.rest, t.tot, t.logt, t.aux, a.eps,
                   a.wsum, t.sc, a.zl, t.lse, K, t.val, t.coef, t.smooth, t.gy)
    if g != NULL:
        for r in range(t.n):
            grow = g + t.og[r]
            if t.lab[r] < 0:
                _zero_row(grow, 1, K)
            else:
                _label_grad(grow, 1, K, t.lab[r], a, t.coef[r], t.smooth[r], t.gy[r])


cdef void _cross_entropy_body(const floating* x, const LabelArgs* a, Py_ssize_t r0,
                              Py_ssize_t r1, BlockOut* out) noexcept nogil:
    cdef floating* loss = <floating*> a.loss
    cdef floating* g = <floating*> a.grad
    cdef floating* lse = <floating*> a.lse
    cdef floating* grow
    cdef floating* buf = NULL
    cdef const floating* xr
    cdef Pos p = _pos(r0, a.B)
    cdef Py_ssize_t K = a.K, r, sxk
    cdef int state
    cdef double lv, rwv
    cdef RowSum q
    cdef Tile t
    cdef bint tiles = _tiles(K, a.sx.k, &t, sizeof(floating))
    if tiles or (a.cap == 0 and a.gamma == 0 and (g == NULL or a.sg.k == 1)
                 and _groups(K, a.sx.k, &t, sizeof(floating), _GROUP_K_LABELS)):
        # _TILE rows at a time: a tile (few classes), or a group of rows
        t.stream = tiles and a.stream  # (groups write their rows directly)
        while r0 < r1:
            t.n = min(<Py_ssize_t> _TILE, r1 - r0)
            _label_group(&t, a, p, r0, out)
            p = _ahead(p, t.n)
            if tiles:
                _ce_tile(x, a, &t)
            else:
                _ce_group(x, a, &t)
            _label_group_out(&t, loss, a.rw != NULL, out)
            r0 += t.n
        _tile_free(&t)
        return
    if a.cap != 0:
        buf = <floating*> malloc(K * sizeof(floating))
        if buf == NULL:
            out.oom = 1
            return
    for r in range(r0, r1):
        grow = g + _at3(a.sg, p) if g != NULL else NULL
        rwv = a.rw[_at2(a.srw, p)] if a.rw != NULL else 1.0
        state = _label_state(a.y[_at2(a.sy, p)], K, a.ignore, rwv)
        if state == -2 and out.first_bad < 0:
            out.first_bad = r
        out.counted += state >= 0
        xr, sxk = x + _at3(a.sx, p), a.sx.k
        if buf != NULL:  # the soft-capped row
            _softcap_run(xr, sxk, buf, K, a.cap)
            xr, sxk = buf, 1
        if state == 1 or lse != NULL:
            q = _row_sum(xr, K, sxk, grow if state == 1 else NULL, a.sg.k,
                         _prefetch_row(x, a.sx, p, K, r + 1 == r1 or buf != NULL))
            if lse != NULL:
                lse[_at2(a.slse, p)] = <floating> _lse_value(xr, sxk, K, q)
        lv = 0.0
        if state == 1:
            lv = _label_row(xr, sxk, K, a.y[_at2(a.sy, p)], a, q, q.shift + q.log_total,
                            a.scale * rwv, grow, a.sg.k)
            if buf != NULL and grow != NULL:
                _softcap_grad_run(grow, a.sg.k, buf, K, a.cap)
        else:
            _zero_row(grow, a.sg.k, K)
        if loss != NULL:
            loss[_at2(a.sl, p)] = <floating> (rwv * lv)
        out.total = _add_weighted(out.total, rwv, lv)
        _next(&p)
    free(buf)


cdef void _nll_body(const floating* x, const LabelArgs* a, Py_ssize_t r0, Py_ssize_t r1,
                    BlockOut* out) noexcept nogil:
    # -w_y lp_y of rows of log-probabilities; gradient -scale w_y at y, 0 elsewhere
    cdef const floating* w = <const floating*> a.w
    cdef floating* loss = <floating*> a.loss
    cdef floating* g = <floating*> a.grad
    cdef floating* grow
    cdef Pos p = _pos(r0, a.B)
    cdef Py_ssize_t r
    cdef int64_t y
    cdef int state
    cdef double v, wy, rwv
    for r in range(r0, r1):
        grow = g + _at3(a.sg, p) if g != NULL else NULL
        rwv = a.rw[_at2(a.srw, p)] if a.rw != NULL else 1.0
        y = a.y[_at2(a.sy, p)]
        state = _label_state(y, a.K, a.ignore, rwv)
        if state == -2 and out.first_bad < 0:
            out.first_bad = r
        out.counted += state >= 0
        _zero_row(grow, a.sg.k, a.K)
        v = 0.0
        if state == 1:
            wy = w[y * a.sw] if w != NULL else 1.0
            v = rwv * (-wy * x[_at3(a.sx, p) + y * a.sx.k])
            if grow != NULL:
                grow[y * a.sg.k] = <floating> (-(a.scale * rwv) * wy)
        if loss != NULL:
            loss[_at2(a.sl, p)] = <floating> v
        out.total += v
        _next(&p)


cdef void _log_loss_body(const floating* x, const LabelArgs* a, Py_ssize_t r0, Py_ssize_t r1,
                         BlockOut* out) noexcept nogil:
    # -log(clip(p_y, lo, hi)) of rows of probabilities
    cdef floating* loss = <floating*> a.loss
    cdef Pos p = _pos(r0, a.B)
    cdef Py_ssize_t r
    cdef int64_t y
    cdef int state
    cdef double v
    for r in range(r0, r1):
        y = a.y[_at2(a.sy, p)]
        state = _label_state(y, a.K, a.ignore, 1.0)
        if state == -2 and out.first_bad < 0:
            out.first_bad = r
        out.counted += state >= 0
        v = -log(_clip(x[_at3(a.sx, p) + y * a.sx.k], a.lo, a.hi)) if state == 1 else 0.0
        loss[_at2(a.sl, p)] = <floating> v
        out.total += v
        _next(&p)


cdef void _cross_entropy_f(const void* a, Py_ssize_t r0, Py_ssize_t r1,
                           BlockOut* o) noexcept nogil:
    _cross_entropy_body(<const float*> (<const LabelArgs*> a).x, <const LabelArgs*> a, r0, r1, o)

cdef void _cross_entropy_d(const void* a, Py_ssize_t r0, Py_ssize_t r1,
                           BlockOut* o) noexcept nogil:
    _cross_entropy_body(<const double*> (<const LabelArgs*> a).x, <const LabelArgs*> a, r0, r1,
                        o)

cdef void _nll_f(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _nll_body(<const float*> (<const LabelArgs*> a).x, <const LabelArgs*> a, r0, r1, o)

cdef void _nll_d(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _nll_body(<const double*> (<const LabelArgs*> a).x, <const LabelArgs*> a, r0, r1, o)

cdef void _log_loss_f(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _log_loss_body(<const float*> (<const LabelArgs*> a).x, <const LabelArgs*> a, r0, r1, o)

cdef void _log_loss_d(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _log_loss_body(<const double*> (<const LabelArgs*> a).x, <const LabelArgs*> a, r0, r1, o)


# ---- entry points: each returns (sum of the losses in float64, first bad flat position or -1,
# number of class indices counted) ----

cdef _labels(const floating[:, :, :] x, const int64_t[:, :] y, const floating[:] weight,
             const double[:, :] sample_weight, floating[:, :] loss, floating[:, :, :] grad,
             LabelArgs* a, BlockFn fn, int n_threads, bint new_pages=False):
    cdef BlockOut res
    cdef Py_ssize_t M = x.shape[0] * x.shape[1]
    if M == 0:
        return 0.0, -1, 0
    a.x, a.sx, a.B, a.K = &x[0, 0, 0], _s3(x.strides, sizeof(floating)), x.shape[1], x.shape[2]
    a.y, a.sy = &y[0, 0], _s2(y.strides, sizeof(int64_t))
    if weight is not None:
        a.w, a.sw = &weight[0], weight.strides[0] // sizeof(floating)
    if sample_weight is not None:
        a.rw, a.srw = &sample_weight[0, 0], _s2(sample_weight.strides, sizeof(double))
    if loss is not None:
        a.loss, a.sl = &loss[0, 0], _s2(loss.strides, sizeof(floating))
    if grad is not None:
        a.grad, a.sg = &grad[0, 0, 0], _s3(grad.strides, sizeof(floating))
        a.stream = _stream_out(M * a.K, sizeof(floating), new_pages)
    _run(fn, a, M, a.K, n_threads, &res)
    return res.total, res.first_bad, res.counted


def cross_entropy_labels(const floating[:, :, :] x,                  # IN  (A, B, K) logits
                         const int64_t[:, :] y,                      # IN  (A, B) class indices
                         *,
                         const floating[:] weight,              # IN  (K,) class weights
                         const double[:, :] sample_weight,      # IN  (A, B)
                         floating[:, :] loss,                   # OUT (A, B) losses
                         floating[:, :, :] grad,                # OUT (A, B, K) gradient
                         floating[:, :] lse,                    # OUT (A, B)
                         int64_t ignore_index, double label_smoothing, double weight_sum,
                         double scale, double z_loss, double softcap, double focal_gamma,
                         int n_threads, bint new_pages):
    """Cross-entropy with class indices, PyTorch's definition (class weights, ignore_index,
    label smoothing), times the sample weights, and its gradient times ``scale`` in the same
    pass.  ``weight_sum`` is the sum of the class weights (K without).  Options: ``z_loss``
    (``z_loss * lse**2`` per counted position), ``softcap`` (logits ``softcap * tanh(x /
    softcap)`` first; 0: none), ``focal_gamma`` (the softmax focal loss), ``lse`` (every
    position's log-normaliser).  Returns ``(sum of the losses in float64, first invalid flat
    position or -1, number of positions counted)``.  ``new_pages``: no store has touched
    ``grad``'s pages yet (cxent._memory.new_pages; _stream_out)."""
    cdef LabelArgs a
    memset(&a, 0, sizeof(a))
    a.ignore, a.eps, a.wsum, a.scale = ignore_index, label_smoothing, weight_sum, scale
    a.zl, a.cap, a.gamma = z_loss, softcap, focal_gamma
    if lse is not None:
        a.lse, a.slse = &lse[0, 0], _s2(lse.strides, sizeof(floating))
    return _labels(x, y, weight, sample_weight, loss, grad, &a,
                   _cross_entropy_f if floating is float else _cross_entropy_d, n_threads,
                   new_pages)


def nll_labels(const floating[:, :, :] x,               # IN  (A, B, K) log-probabilities
               const int64_t[:, :] y,                   # IN  (A, B) class indices
               *,
               const floating[:] weight,           # IN  (K,) class weights
               const double[:, :] sample_weight,   # IN  (A, B)
               floating[:, :] loss,                # OUT (A, B) losses
               floating[:, :, :] grad,             # OUT (A, B, K) gradient
               int64_t ignore_index, double scale, int n_threads, bint new_pages):
    """Negative log-likelihood ``-w_y x_y`` times the sample weights, and its gradient times
    ``scale``.  Returns (and ``new_pages``) as cross_entropy_labels."""
    cdef LabelArgs a
    memset(&a, 0, sizeof(a))
    a.ignore, a.scale = ignore_index, scale
    return _labels(x, y, weight, sample_weight, loss, grad, &a,
                   _nll_f if floating is float else _nll_d, n_threads, new_pages)


def log_loss_labels(const floating[:, :, :] p,  # IN  (A, B, K) probabilities
                    const int64_t[:, :] y,      # IN  (A, B) class indices
                    floating[:, :] loss,        # OUT (A, B) -log(clip(p[y]))
                    *, double lo, double hi, int64_t ignore_index, int n_threads):
    """Per-position ``-log(clip(p[y], lo, hi))`` (log_loss with class indices).  Returns as
    cross_entropy_labels."""
    cdef LabelArgs a
    cdef const floating[:] no_weight = None
    cdef const double[:, :] no_sample_weight = None
    cdef floating[:, :, :] no_grad = None
    memset(&a, 0, sizeof(a))
    a.ignore, a.lo, a.hi = ignore_index, lo, hi
    return _labels(p, y, no_weight, no_sample_weight, loss, no_grad, &a,
                   _log_loss_f if floating is float else _log_loss_d, n_threads)


def cross_entropy_c(x, y, *, loss=None, grad=None, Py_ssize_t K, bint mean, int n_threads,
                    bint new_pages=False):
    """cross_entropy_labels for C-contiguous (N, K) float32/float64 logits ``x`` and (N,) int64
    class indices ``y``, without weights or smoothing, ignore_index -100; ``loss`` (N,) and
    ``grad`` (N, K) are C-contiguous arrays of x's dtype, or None; ``new_pages`` as for
    cross_entropy_labels.  With ``mean`` the gradient is scaled by one over the number of
    positions counted (found by one pass over the labels first, by _label_state's rule)."""
    cdef _CBuffers bufs = _CBuffers()
    cdef LabelArgs a
    cdef BlockOut res
    cdef Py_ssize_t size = x.dtype.itemsize, M = y.size, i
    cdef int64_t count = 0
    memset(&a, 0, sizeof(a))
    a.x = bufs.get(x, False, size, M * K)
    a.y = <const int64_t*> bufs.get(y, False, 8, M)
    if loss is not None:
        a.loss = bufs.get(loss, True, size, M)
    if grad is not None:
        a.grad = bufs.get(grad, True, size, M * K)
        a.stream = _stream_out(M * K, size, new_pages)
    a.sx, a.sg, a.sy, a.sl, a.B, a.K = _c3(K), _c3(K), _c2(), _c2(), M, K
    a.ignore, a.wsum, a.scale = -100, K, 1.0
    if mean and grad is not None:
        with nogil:
            for i in range(M):
                count += _label_state(a.y[i], K, -100, 1.0) >= 0
        a.scale = 1.0 / count if count else 1.0
    _run(_cross_entropy_f if size == 4 else _cross_entropy_d, &a, M, K, n_threads, &res)
    return res.total, res.first_bad, res.counted


def label_stats(const int64_t[:, :] y,                  # IN  (A, B) class indices
                *,
                Py_ssize_t K, int64_t ignore_index,
                const floating[:] weight,          # IN  (K,) class weights
                const double[:, :] sample_weight):  # IN  (A, B)
    """Check class indices and sum the weights of the counted ones, in one pass.

    Returns ``(sum of sample_weight * weight[y] over the positions not ignored, their number,
    first invalid flat position or -1)`` (_label_state's rule).
    """
    cdef Py_ssize_t A = y.shape[0], B = y.shape[1], a, b
    cdef int64_t lab, count = 0, first_bad = -1
    cdef double wsum = 0.0
    cdef bint has_w = weight is not None, has_rw = sample_weight is not None
    cdef int state
    with nogil:
        for a in range(A):
            for b in range(B):
                lab = y[a, b]
                state = _label_state(lab, K, ignore_index, 1.0)
                if state == -1:
                    continue
                if state == -2:
                    first_bad = a * B + b
                    break
                count += 1
                # an explicit fma (with FMA hardware): GCC's choice of contracting the product
                # into the sum changed with unrelated edits elsewhere in the module
                wsum = cx_fma_d(weight[lab] if has_w else 1.0,
                                sample_weight[a, b] if has_rw else 1.0, wsum)
            if first_bad >= 0:
                break
    return wsum, count, first_bad


# ---- scoring: the loss and the calibration figures of each row, in one pass ----

ctypedef struct ScoreArgs:
    const void* x       # IN  (A, B, K) logits
    Str3 sx
    const int64_t* y    # IN  (A, B) class indices (none is ignored)
    Str2 sy
    void* loss          # OUT (A, B) -log p_y
    Str2 sl
    double* conf        # OUT (M,) the top-1 probability, max_k p_k
    int64_t* rank       # OUT (M,) how many logits are larger than the label's
    double* brier       # OUT (M,) sum_k (p_k - [k == y])^2
    double* entropy     # OUT (M,) -sum_k p_k log p_k (nats)
    Py_ssize_t B, K


cdef inline double _score_row(const floating* xr, Py_ssize_t sk, const floating* e,
                              Py_ssize_t se, Py_ssize_t y, RowSum q, const ScoreArgs* a,
                              Py_ssize_t r) noexcept nogil:
    # row r's calibration figures into a.conf, a.rank, a.brier, a.entropy from its logits xr
    # (stride sk), terms e = exp(x - shift) (stride se), valid class index y and normaliser q;
    # returns its loss -log p_y (cross-entropy's bits, a = 1).  The row path and the tiles both
    # call it: the same bits.
    cdef double xy = <double> xr[y * sk] - q.shift, ey = e[y * se], s2 = 0.0, dot = 0.0, omp
    cdef int64_t n = 0
    cdef Py_ssize_t k
    for k in range(a.K):
        n += xr[k * sk] > xr[y * sk]
        if k != y:
            s2 += <double> e[k * se] * e[k * se]
        if e[k * se] != 0:
            dot = cx_fma_d(<double> e[k * se], <double> xr[k * sk] - q.shift, dot)
    omp = (q.rest if ey == 1 else q.total - ey) / q.total  # 1 - p_y, accurate near p_y = 1
    a.conf[r] = 1.0 / q.total
    a.rank[r] = n
    a.brier[r] = cx_fma_d(omp, omp, s2 / (q.total * q.total))
    a.entropy[r] = q.log_total - dot / q.total
    return q.log_total - xy


cdef inline bint _score_label(const ScoreArgs* a, Py_ssize_t y, Py_ssize_t r, floating* loss,
                              BlockOut* out) noexcept nogil:
    # whether row r's class index y is valid; if not, its outputs are zeros and r is noted as
    # the block's first invalid row if it is the first
    if 0 <= y < a.K:
        out.counted += 1
        return True
    if out.first_bad < 0:
        out.first_bad = r
    loss[0] = 0
    a.conf[r] = a.brier[r] = a.entropy[r] = 0.0
    a.rank[r] = 0
    return False


cdef void _score_body(const floating* x, const ScoreArgs* a, Py_ssize_t r0, Py_ssize_t r1,
                      BlockOut* out) noexcept nogil:
    cdef floating* loss = <floating*> a.loss
    cdef floating* e
    cdef floating* xt
    cdef floating* lr
    cdef Pos p = _pos(r0, a.B)
    cdef Py_ssize_t K = a.K, r, y
    cdef double v
    cdef RowSum q
    cdef Tile tl
    if _tiles(K, a.sx.k, &tl, sizeof(floating)):
        # few classes: the normalisers and terms of a tile of rows, then each row's figures
        # (AVX2 build, 4M elements, against the row path's in-order sums: float32 K = 8 / 32 /
        # 48 / 64 65 / 37 / 35 / 16 -> 33 / 17 / 15 / 15 ms, float64 K = 10 / 32 64 / 40 -> 34 /
        # 20 ms; float32 K = 56 / 64 the blocks of 16 lanes before the tiles reached them)
        xt = <floating*> tl.xt
        while r0 < r1:
            tl.n = min(<Py_ssize_t> _TILE, r1 - r0)
            _tile_x(&tl, a.sx, p, K)
            _offsets(a.sy.a, a.sy.b, p, tl.n, tl.lab)
            _offsets(a.sl.a, a.sl.b, p, tl.n, tl.oo)
            p = _ahead(p, tl.n)
            _tile_load(&tl, x, K, 0.0)
            for r in range(tl.n):
                y = a.y[tl.lab[r]]
                lr = loss + tl.oo[r]
                if _score_label(a, y, r0 + r, lr, out):
                    v = _score_row(xt + r, _TILE, <floating*> tl.et + r, _TILE, y,
                                   _tile_rowsum(&tl, <floating*> tl.sh, r), a, r0 + r)
                    lr[0] = <floating> v
                    out.total += v
            r0 += tl.n
        _tile_free(&tl)
        return
    e = <floating*> malloc(K * sizeof(floating))
    if e == NULL:
        out.oom = 1
        return
    for r in range(r0, r1):
        y = a.y[_at2(a.sy, p)]
        lr = loss + _at2(a.sl, p)
        if _score_label(a, y, r, lr, out):
            q = _row_sum(x + _at3(a.sx, p), K, a.sx.k, e, 1,
                         _prefetch_row(x, a.sx, p, K, r + 1 == r1))
            v = _score_row(x + _at3(a.sx, p), a.sx.k, e, 1, y, q, a, r)
            lr[0] = <floating> v
            out.total += v
        _next(&p)
    free(e)


cdef void _score_f(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _score_body(<const float*> (<const ScoreArgs*> a).x, <const ScoreArgs*> a, r0, r1, o)


cdef void _score_d(const void* a, Py_ssize_t r0, Py_ssize_t r1, BlockOut* o) noexcept nogil:
    _score_body(<const double*> (<const ScoreArgs*> a).x, <const ScoreArgs*> a, r0, r1, o)


def score_labels(const floating[:, :, :] x,   # IN  (A, B, K) logits
                 const int64_t[:, :] y,       # IN  (A, B) class indices
                 floating[:, :] loss,         # OUT (A, B) per-position losses
                 double[::1] confidence,      # OUT (A * B,) top-1 probabilities
                 int64_t[::1] rank,           # OUT (A * B,) logits larger than the label's
                 double[::1] brier,           # OUT (A * B,) Brier scores
                 double[::1] entropy,         # OUT (A * B,) entropies of the predictions
                 *, int n_threads):
    """The figures of batch scoring for each position, in one pass: its cross-entropy (the bits
    of cross_entropy_labels), top-1 probability, the rank of its label, its Brier score
    ``sum_k (p_k - onehot_k)**2`` and the entropy of its prediction.  Returns ``(sum of the
    losses in float64, first invalid flat position or -1, number of positions counted)``."""
    cdef ScoreArgs a
    cdef BlockOut res
    cdef Py_ssize_t M = x.shape[0] * x.shape[1]
    if (confidence.shape[0] != M or rank.shape[0] != M or brier.shape[0] != M
            or entropy.shape[0] != M):
        raise ValueError(f"the per-position outputs need {M} entries")
    if M == 0:
        return 0.0, -1, 0
    a.x, a.sx, a.B, a.K = &x[0, 0, 0], _s3(x.strides, sizeof(floating)), x.shape[1], x.shape[2]
    a.y, a.sy = &y[0, 0], _s2(y.strides, sizeof(int64_t))
    a.loss, a.sl = &loss[0, 0], _s2(loss.strides, sizeof(floating))
    a.conf, a.rank, a.brier, a.entropy = &confidence[0], &rank[0], &brier[0], &entropy[0]
    _run(_score_f if floating is float else _score_d, &a, M, a.K, n_threads, &res)
    return res.total, res.first_bad, res.counted


# ---- temperature scaling: the mean cross-entropy of beta * logits and its derivatives ----

ctypedef struct TemperatureArgs:
    const void* x       # IN  (A, B, K) logits
    Str3 sx
    const int64_t* y    # IN  (A, B) class indices (none is ignored)
    Str2 sy
    const double* rw    # IN  (A, B) sample weights, or NULL (all 1)
    Str2 srw
    double beta         # the inverse temperature
    Py_ssize_t B, K


cdef void _temperature_body(const floating* x, const TemperatureArgs* a, Py_ssize_t r0,
                            Py_ssize_t r1, BlockOut* out) noexcept nogil:
    # Per row, with z = beta x and p = softmax(z): the loss logsumexp(z) - z_y, its derivative
    # in beta, E_p[x] - x_y, and its second derivative Var_p[x] (>= 0: the loss is convex in
    # beta), each times the row's sample weight, into out.total, out.more[0], out.more[1].
    cdef double* z = <double*> malloc(2 * a.K * sizeof(double))
    cdef double* e
    cdef const floating* xr
    cdef Pos p = _pos(r0, a.B)
    cdef Py_ssize_t K = a.K, r, k, sk = a.sx.k, y
    cdef double rwv, mean, var, d
    cdef RowSum q
    if z == NULL:
        out.oom = 1
        return
    e = z + K
    for r in range(r0, r1):
        y = a.y[_at2(a.sy, p)]
        if y < 0 or y >= K:
            if out.first_bad < 0:
                out.first_bad = r
            _next(&p)
            continue
        out.counted += 1
        rwv = a.rw[_at2(a.srw, p)] if a.rw != NULL else 1.0
        xr = x + _at3(a.sx, p)
        for k in range(K):
            z[k] = a.beta * xr[k * sk]
        q = _row_sum(z, K, 1, e, 1, <double*> NULL)
        mean = 0.0
        for k in range(K):
            mean = cx_fma_d(e[k], <double> xr[k * sk], mean)
        mean = mean / q.total
        var = 0.0
        for k in range(K):
            d = <double> xr[k * sk] - mean
            var = cx_fma_d(e[k] * d, d, var)
        out.total += rwv * (q.log_total - (z[y] - q.shift))
        out.more[0] += rwv * (mean - <double> xr[y * sk])
        out.more[1] += rwv * (var / q.total)
        _next(&p)
    free(z)


cdef void _temperature_f(const void* a, Py_ssize_t r0, Py_ssize_t r1,
                         BlockOut* o) noexcept nogil:
    _temperature_body(<const float*> (<const TemperatureArgs*> a).x, <const TemperatureArgs*> a,
                      r0, r1, o)


cdef void _temperature_d(const void* a, Py_ssize_t r0, Py_ssize_t r1,
                         BlockOut* o) noexcept nogil:
    _temperature_body(<const double*> (<const TemperatureArgs*> a).x,
                      <const TemperatureArgs*> a, r0, r1, o)


def temperature_stats(const floating[:, :, :] x,            # IN  (A, B, K) logits
                      const int64_t[:, :] y,                # IN  (A, B) class indices
                      *,
                      const double[:, :] sample_weight,     # IN  (A, B), or None
                      double beta, int n_threads):
    """One pass of temperature scaling at inverse temperature ``beta``: the (sample-weighted)
    sums of the cross-entropy of ``beta * x`` and of its first and second derivatives in
    ``beta``.  Returns ``(loss, d_loss, d2_loss, first invalid flat position or -1)``."""
    cdef TemperatureArgs a
    cdef BlockOut res
    cdef Py_ssize_t M = x.shape[0] * x.shape[1]
    if M == 0:
        return 0.0, 0.0, 0.0, -1
    memset(&a, 0, sizeof(a))
    a.x, a.sx, a.B, a.K = &x[0, 0, 0], _s3(x.strides, sizeof(floating)), x.shape[1], x.shape[2]
    a.y, a.sy = &y[0, 0], _s2(y.strides, sizeof(int64_t))
    if sample_weight is not None:
        a.rw, a.srw = &sample_weight[0, 0], _s2(sample_weight.strides, sizeof(double))
    a.beta = beta
    _run(_temperature_f if floating is float else _temperature_d, &a, M, a.K, n_threads, &res)
    return res.total, res.more[0], res.more[1], res.first_bad
