/* A translation unit using every function of cxent's C headers, for the MSVC-mode syntax
   check (.ci/msvc-syntax): GCC-only constructs in _simd.h, _rows.h or _cxent_platform.h fail
   here before a Windows build meets them. */
#include "_rows.h"
#include "_cxent_platform.h"

double cx_msvc_check(const double *xd, const float *xf, double *od, float *of, ptrdiff_t n) {
    double cnt, acc = 0.0;
    int fast;
    acc += cx_exp_d(xd[0]) + cx_exp_f(xf[0]) + cx_exp_diff_f(xf[0], xf[1]) + cx_log1p_d(xd[1]);
    acc += cx_tanh_d(xd[0]) + cx_expm_d(xd[0], xd[1]) + cx_expm_f(xf[0], xf[1]) + cx_fma_d(xd[0], xd[1], xd[2]);
    acc += cx_mul1_d(xd[0], 0.5) + cx_mul1_f(xf[0], 0.5) + cx_logsub1_d(xd[0], xd[1], 0.5)
           + cx_logsub1_f(xf[0], xf[1], 0.5);
    acc += cx_max_d(xd, n, &fast) + cx_max_f(xf, n, &fast);
    acc += cx_sumexp_rest_d(xd, n, xd[0], od, &cnt, fast, xd + n)
           + cx_sumexp_rest_f(xf, n, xf[0], of, &cnt, fast, xf + n)
           + cx_sumexp_total_f(xf, n, xf[0], of, &cnt, fast, xf + n);
    cx_scale_d(od, od, n, 0.5);
    cx_scale_f(of, of, n, 0.5);
    cx_logsub_d(xd, od, n, xd[0], 1.0);
    cx_logsub_f(xf, of, n, xf[0], 1.0);
    {
        cx_rowsum q = cx_rowsum_finish(xd[0], xd[1], 1.0, 1);
        cx_label_terms_t t = cx_label_terms(xd[0], xd[1], 1.0, 0.0, q, 0.1, 0.05, 2.0, 1.0);
        t = cx_label_zloss(t, xd[1], q, 1.0, 0.1, 1.5);
        acc += q.log_total + t.loss + t.coef + t.smooth + t.gy;
    }
    {
        ptrdiff_t off[CX_TILE] = {0}, lab[CX_TILE] = {0};
        double td[4 * CX_TILE], rest[CX_TILE], tot[CX_TILE], logt[CX_TILE], val[CX_TILE];
        double sc[CX_TILE] = {1.0}, sm[CX_TILE], lse[CX_TILE];
        float tf[4 * CX_TILE], shf[CX_TILE];
        cx_tile_gather_d(xd, off, 1, 2, td, 0, 0);
        cx_tile_gather_f(xf, off, 1, 2, tf, 1, 1);
        cx_tile_rowsum_d(td, 1, 2, td + 2 * CX_TILE, od + 1, rest, tot, logt, lse, 1);
        cx_tile_rowsum_f(tf, 1, 2, tf + 2 * CX_TILE, shf, rest, tot, logt, lse, 0);
        cx_lanes_rowsum(xd, xd, xd, 1, rest, tot, logt, lse);
        cx_label_lanes(xd, xd, xd, lab, 1, rest, tot, logt, rest, 0.1, 2.0, sc, 0.1, lse, 2, val,
                       od, sm, od);
        cx_tile_labels_d(td, td, lab, xd, 1, 1, od, rest, tot, logt, rest, 0.1, 2.0, sc, 0.1,
                         rest, 2, val, od, sm, od);
        cx_tile_labels_f(tf, tf, lab, xf, 1, 1, shf, rest, tot, logt, rest, 0.1, 2.0, sc, 0.1,
                         rest, 2, val, od, sm, od);
        cx_tile_scale_d(td, xd, 1, 2, NULL, NULL);
        cx_tile_scale_f(tf, xd, 1, 2, lab, xd);
        cx_tile_logsub_d(td, td, xd, xd, 1, 2);
        cx_tile_logsub_f(tf, tf, xf, xd, 1, 2);
        acc += cx_keep_d(xd[0], 1) + cx_keep_f(xf[0], 0) + cx_hi_f(xd[0]) + cx_lo_f(xd[0])
               + cx_mul_split_f(xf[0], xf[1], xf[2]) + cx_logsub_split_f(xf[0], xf[1], xf[2], xf[3]);
        cx_tile_scatter_d(td, 1, 2, od, off, 0, NULL, 0);
        cx_tile_scatter_f(tf, 1, 2, of, off, 1, xd, 0);
        cx_tile_scatter_d(td, 1, 2, od, off, 1, xd, 0);
        cx_prefetch_bytes(od, 16);
        cx_tile_put_d(td, lab, xd, 1, 2);
        cx_tile_put_f(tf, lab, xd, 1, 2);
        if (cx_tile_can_stream_d(od, 2)) cx_tile_stream_d(td, 1, 2, od);
        if (cx_tile_can_stream_f(of, 4)) cx_tile_stream_f(tf, 1, 4, of);
        cx_stream_fence();
        acc += val[0];
    }
    acc += cx_omp_max_threads() + cx_cpu_features() + (double)cx_l3_bytes()
           + cx_install_fork_handler() + cx_in_forked_child() + CX_HAVE_OPENMP + CX_OPENMP_VERSION;
    return acc + (double)cx_omp_runtime_path()[0];
}
