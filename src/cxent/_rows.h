/* The per-row formulas of cxent's kernels, written once and used by both layouts of the work:
 * the row path (one row at a time, the classes along a vector) and the small-K tile path (up to
 * CX_TILE rows at a time, transposed so that one vector lane holds one row).  Both call the same
 * inline functions below with the same operands, so they give the same bits (tests/test_kernels.py
 * checks it for every operation and option at K <= 40).
 *
 *   cx_rowsum_finish   the normaliser of a row from its maximum, sum of the other terms and count
 *   cx_label_terms     the loss of one class index and the coefficients of its gradient
 *   cx_lanes_rowsum, cx_label_lanes   the same for several rows, one row per vector lane
 *
 * and, for the tile path, the loops over a tile's lanes that call them.  Only arithmetic on
 * numbers lives here; the rules (which rows count, weights, reductions) are in the .pxi files.
 */
#ifndef CXENT_ROWS_H
#define CXENT_ROWS_H

#include "_simd.h"

/* The normaliser of one row of the softmax family, shifted by the row maximum m:
     shift      m, or 0 for a row without one (all -inf or nan, or no element)
     rest       sum of exp(x_k - shift) minus one term 1 of the maximum
     total      the whole sum: 1 + rest (rest alone for a row without a maximum)
     log_total  log(total) as log1p(rest), exact when the maximum dominates
   from acc, the sum of the terms with x_k != shift, and cnt, the number of x_k == shift.
   Leaving the maximum's own term (exactly 1) out of the float64 sum keeps log(total) accurate
   when the other terms are tiny: the loss of a confident correct prediction is log1p(rest).
   A +inf maximum makes the row nan, as in PyTorch; with no maximum 0/0 = nan and log(0) = -inf
   follow.  log_total is nan unless want_log.  cx_rowsum_finish_core with `normal` 1 (a constant):
   for a row whose terms are all normal numbers (CX_ALL_NORMAL: a finite maximum, no nan), whose
   tests would all take the first branch: the same bits without them. */
typedef struct {
    double shift, rest, total, log_total;
} cx_rowsum;

CX_INLINE cx_rowsum cx_rowsum_finish_core(double m, double acc, double cnt, int want_log,
                                           int normal) {
    cx_rowsum r;
    double u;
    if (normal || m > -INFINITY) {
        u = acc + (cnt - 1.0);
        if (!normal) u = m == INFINITY ? NAN : u;
        r.shift = m;
        r.rest = u;
        r.total = 1.0 + u;
    } else {
        r.shift = 0.0;
        r.rest = acc;
        r.total = acc;
        u = acc - 1.0;
    }
    r.log_total = want_log ? cx_log1p_core_d(u, !normal) : NAN;
    return r;
}
CX_INLINE cx_rowsum cx_rowsum_finish(double m, double acc, double cnt, int want_log) {
    return cx_rowsum_finish_core(m, acc, cnt, want_log, 0);
}

/* The loss of one row with class index y, PyTorch's definition with class weights w and label
   smoothing eps over K classes:
     (1 - eps) w_y (-log p_y) + (eps / K) sum_k w_k (-log p_k)
   from xy = x_y - shift, ey = exp(x_y - shift), wy = w_y, dot = sum_k w_k (x_k - shift) (used
   only when eps != 0), wsum = sum_k w_k, sm = eps / K and the row's normaliser r.  The gradient,
   times scale, is
     g_k = e_k coef - smooth w_k   (k != y),     g_y = gy
   with coef = scale c / total, c = (1 - eps) w_y + sm wsum, smooth = scale sm; the label's entry
   uses p_y - 1 = -rest / total when x_y is the maximum, so it keeps its relative accuracy when
   p_y is close to 1.  A sample weight s enters as scale s (and the caller multiplies the loss by
   s).  cx_label_zloss adds the z-loss zl lse^2 of the log-normaliser lse, and its gradient
   2 zl lse p_k (times scale). */
typedef struct {
    double loss, coef, smooth, gy;
} cx_label_terms_t;

CX_INLINE cx_label_terms_t cx_label_terms(double xy, double ey, double wy, double dot,
                                          cx_rowsum r, double eps, double sm, double wsum,
                                          double scale) {
    cx_label_terms_t o;
    double a = (1.0 - eps) * wy;
    double c = CX_FMA(sm, wsum, a);
    double loss = a * (r.log_total - xy);
    double pm1 = (ey == 1.0 ? -r.rest : ey - r.total) / r.total; /* one division, either way */
    o.loss = eps != 0.0 ? CX_FMA(sm, wsum * r.log_total - dot, loss) : loss;
    o.coef = scale * c / r.total;
    o.smooth = scale * sm;
    o.gy = scale * (c * pm1 + ((c - a) - sm * wy));
    return o;
}

/* The z-loss added to a label's terms (callers apply it only when zl != 0: its divisions would
   otherwise cost the plain loss in the tile loop). */
CX_INLINE cx_label_terms_t cx_label_zloss(cx_label_terms_t o, double ey, cx_rowsum r,
                                          double scale, double zl, double lse) {
    double zc = scale * (2.0 * zl * lse);
    o.loss = CX_FMA(zl * lse, lse, o.loss);
    o.coef = CX_FMA(zc, 1.0 / r.total, o.coef);
    o.gy = CX_FMA(zc, ey / r.total, o.gy);
    return o;
}

/* ---- the small-K tile path: tile[k * CX_TILE + r] is row r's k-th element (see
   cx_tile_gather_*) ---- */

/* The normalisers of the n rows of a tile, one row per vector lane, with the row path's
   arithmetic (maximum and sum k by k, then cx_rowsum_finish): sh[r], rest[r], tot[r], logt[r] as
   in cx_rowsum, and lse[r] = sh[r] + logt[r], the log-normaliser; the terms exp(x - shift) are
   stored in the tile et.  Its last loop is cx_lanes_rowsum's, on values still in registers
   (calling it through arrays cost 5 % at K = 2-16).  Rows are taken 16 at a time (the tile's
   padding rows up to a multiple of 16 are zeroed and computed, not used), so the per-row arrays
   need room for CX_TILE rows.
   With fast_ok and K >= CX_TILE_FAST_K (or K = 2), a group of 16 rows whose terms are all
   normal numbers (CX_ALL_NORMAL, the rule of cx_max_* for a row: every element finite and
   within CX_SPAN_* of its row's maximum) takes CX_EXP_NORMAL's exp, the same bits in fewer
   operations; returns the number of such groups.  AVX2 build, one thread, 4M elements,
   against the exp with its tests for all (min of 5 rounds): cross-entropy + gradient float32
   K = 8-40 0-7 % faster, float64 K = 17-40 4-7 % (K = 8 within 1 %); softmax float32 K = 8-40
   6-11 %, float64 9-14 %.  Below CX_TILE_FAST_K the test cost more than it saved (softmax
   float32 K = 2 5-8 % slower); with the test a constant 0 there, K = 2 is still 2-4 % slower
   than before this rule (12 % more instructions in the tile's load by callgrind: the
   compiler's code around the same loops).  K = 2 takes the test again since it saves one of
   the two exps (CX_TILE_PAIR_TERMS). */
#define CX_TILE_FAST_K 4
/* K = 2 (a two-class classifier's rows) in CX_EXP_NORMAL's groups: one exp per row, the lower
   term's exp(lo - s); the maximum's term is exp(0) = 1 exactly, and a tie's exp(0) is 1 too, so
   the terms, sums and counts are CX_TILE_TERMS' bits.  Cross-entropy + gradient, 65,536 rows,
   by callgrind: float64 129 -> 119 instructions per row, float32 128 -> 121.  AVX2 build on an
   Intel Xeon, one thread, 4M elements (benchmarks/ab.py, min of 7 rounds, four runs): float64
   4-14 % faster, float32 0-7 %; softmax 12 % / 9 %; AVX-512 build -1..+4 %; baseline
   4-8 %.  The groups' test for normal terms costs K = 2 less than the exp it saves. */
#define CX_TILE_PAIR_TERMS(T, SUF)                                                            \
    {                                                                                         \
        const T *c0 = xt + r0, *c1 = xt + CX_TILE + r0;                                       \
        T *e0 = et + r0, *e1 = et + CX_TILE + r0;                                             \
        CX_PRAGMA(omp simd)                                                                   \
        for (int j = 0; j < 16; j++) {                                                        \
            T a = c0[j], b = c1[j];                                                           \
            T v = CX_EXPM_##SUF(b < a ? b : a, s[j], CX_EXP_NORMAL);                          \
            int tie = a == b;                                                                 \
            e0[j] = a == s[j] ? (T)1 : v;                                                     \
            e1[j] = b == s[j] ? (T)1 : v;                                                     \
            acc[j] += (double)cx_keep_##SUF(v, !tie);                                         \
            cnt[j] += tie ? (T)2 : (T)1;                                                      \
        }                                                                                     \
    }
/* the maximum's terms dropped from acc[j] and counted in cnt[j]: top, whether the element a is
   the row's shift sv (its maximum), and the term v added or not.  floats: v zeroed by a mask of
   its bits before the conversion (a select would be turned into two of doubles, each after an
   addition).  doubles in the AVX builds: one = 1.0 AND the comparison's own 64-bit mask, the
   count raised by one and the sum by v - one (the maximum's v is exp(0) = 1 exactly, or nan
   for a maximum of +inf, whose row is nan whatever its sum): the same bits without a blend,
   where a select took a blend and two comparisons (AVX2 build, benchmarks/ab.py, 4M elements,
   cross-entropy + gradient float64 K = 10-32 3-7 % faster, K = 40 1-13 %; softmax 2-4 %;
   AVX-512 within 1-3 % either way; callgrind, 1M elements, K = 10 / 32 21.39 / 15.50 -> 21.30 /
   15.32 million instructions; an AND-NOT of the mask, which GCC made a blend with zero, gained
   half as much).
   SSE2 has no 64-bit mask from a comparison that GCC vectorizes (it leaves the loop scalar):
   a select there. */
#define CX_TILE_TOP_SEL(a, sv) int top = (a) == (sv);
#define CX_TILE_TERM_SEL(T, SUF, v)                                                           \
    acc[j] += (double)cx_keep_##SUF(v, !top);                                                 \
    cnt[j] += top ? (T)1 : (T)0;
#define CX_TILE_TOP_f CX_TILE_TOP_SEL
#define CX_TILE_TERM_f CX_TILE_TERM_SEL
#if defined(__AVX__)
#define CX_TILE_TOP_d(a, sv) double one = cx_from_bits_d(cx_bits_d(1.0) & cx_eq_mask_d(a, sv));
#define CX_TILE_TERM_d(T, SUF, v)                                                             \
    acc[j] += v - one;                                                                        \
    cnt[j] += one;
#else
#define CX_TILE_TOP_d CX_TILE_TOP_SEL
#define CX_TILE_TERM_d CX_TILE_TERM_SEL
#endif
#define CX_TILE_TERMS(T, SUF, MODE)                                                           \
    for (ptrdiff_t k = 0; k < K; k++) {                                                       \
        const T *c = xt + k * CX_TILE + r0;                                                   \
        T *e = et + k * CX_TILE + r0;                                                         \
        CX_PRAGMA(omp simd)                                                                   \
        for (int j = 0; j < 16; j++) {                                                        \
            T v = CX_EXPM_##SUF(c[j], s[j], MODE);                                            \
            CX_TILE_TOP_##SUF(c[j], s[j])                                                     \
            e[j] = v;                                                                         \
            CX_TILE_TERM_##SUF(T, SUF, v)                                                     \
        }                                                                                     \
    }
/* the normalisers of the group's 16 rows: NORMAL (a constant) 1 for a group whose terms are all
   normal numbers, cx_rowsum_finish_core's same bits without the tests for an infinite or absent
   maximum and for log1p's special cases (and without the registers they held: 71 of the general
   loop's 253 instructions per 8 rows were stack loads or stores and 36 blends, float32 K = 8,
   AVX2 build).  callgrind,
   cross-entropy + gradient over 4M elements, AVX2 build: float32 K = 2 / 8 / 16 250.0 / 95.5 /
   64.8 -> 217.1 / 85.4 / 59.7 million instructions, float64 K = 10 / 24 / 40 97.4 / 91.4 / 88.7
   -> 88.3 / 86.0 / 84.2; baseline float32 K = 8 212.7 -> 179.1, float64 K = 10 260.5 -> 236.7.
   benchmarks/ab.py, 4M elements, reused outputs: AVX2 float32 K = 2 / 8 / 16 / 33 / 48 33 /
   16-24 / 17-23 / 10 / 16 % faster, float64 K = 2 / 4 / 10 / 24 43 / 22 / 5-15 / 17 % (K = 17
   -3.5 %, one run; K = 40 the same); softmax float32 K = 8 / 16 24 / 17 %, float64 K = 10 / 24
   11 %; baseline 4-28 %; AVX-512 float32 K = 2 / 8 / 16 20 / 10 / 7 %, float64 K = 10 / 24 -2 /
   -4 % (one run). */
#define CX_TILE_FINISH(NORMAL)                                                                \
    CX_PRAGMA(omp simd)                                                                       \
    for (int j = 0; j < 16; j++) {                                                            \
        cx_rowsum q = cx_rowsum_finish_core((double)m[j], acc[j], (double)cnt[j], 1, NORMAL); \
        rest[r0 + j] = q.rest;                                                                \
        tot[r0 + j] = q.total;                                                                \
        logt[r0 + j] = q.log_total;                                                           \
        sh[r0 + j] = s[j];                                                                    \
        lse[r0 + j] = (double)s[j] + q.log_total;                                             \
    }
/* one group of 16 rows from r0; CHECK (a constant) whether to test for CX_EXP_NORMAL (2: for
   K = 2, whose normal groups take CX_TILE_PAIR_TERMS) */
#define CX_TILE_GROUP(T, SUF, CHECK)                                                          \
    {                                                                                         \
        T m[16], s[16], lo[16], z[16];                                                        \
        double acc[16];                                                                       \
        T cnt[16]; /* counts of at most CX_SMALL_K: exact in either type */                   \
        int slow = !(CHECK);                                                                  \
        /* the sums start at -0.0, which adds like 0.0 (every term is +0.0 or more) but is    \
           not a byte pattern: GCC turns a loop storing 0.0 into memset (rep stos) */         \
        CX_PRAGMA(omp simd)                                                                   \
        for (int j = 0; j < 16; j++) {                                                        \
            m[j] = -INFINITY; lo[j] = INFINITY; z[j] = -0.0; acc[j] = -0.0; cnt[j] = -0.0;     \
        }                                                                                     \
        if (CHECK) {                                                                          \
            /* the maximum, and as cx_max_* for a row, the minimum and the sum of x * 0 (nan  \
               for a nan or an infinity): whether all the terms are normal numbers */         \
            for (ptrdiff_t k = 0; k < K; k++) {                                               \
                const T *c = xt + k * CX_TILE + r0;                                           \
                CX_PRAGMA(omp simd)                                                           \
                for (int j = 0; j < 16; j++) {                                                \
                    m[j] = CX_MAXOP(m[j], c[j]);                                              \
                    lo[j] = CX_MINOP(lo[j], c[j]);                                            \
                    z[j] += c[j] * (T)0;                                                      \
                }                                                                             \
            }                                                                                 \
            CX_PRAGMA(omp simd reduction(| : slow))                                           \
            for (int j = 0; j < 16; j++) slow |= !CX_ALL_NORMAL(SUF, m[j], lo[j], z[j]);      \
        } else {                                                                              \
            for (ptrdiff_t k = 0; k < K; k++) {                                               \
                const T *c = xt + k * CX_TILE + r0;                                           \
                CX_PRAGMA(omp simd)                                                           \
                for (int j = 0; j < 16; j++) m[j] = CX_MAXOP(m[j], c[j]);                     \
            }                                                                                 \
        }                                                                                     \
        CX_PRAGMA(omp simd)                                                                   \
        for (int j = 0; j < 16; j++) s[j] = m[j] > -INFINITY ? m[j] : (T)0;                   \
        if (!slow) {                                                                          \
            if ((CHECK) == 2) {                                                               \
                CX_TILE_PAIR_TERMS(T, SUF)                                                    \
            } else {                                                                          \
                CX_TILE_TERMS(T, SUF, CX_EXP_NORMAL)                                          \
            }                                                                                 \
            fast_groups++;                                                                    \
        } else {                                                                              \
            CX_TILE_TERMS(T, SUF, CX_EXP_MASKED)                                              \
        }                                                                                     \
        if (!slow) {                                                                          \
            CX_TILE_FINISH(1)                                                                 \
        } else {                                                                              \
            CX_TILE_FINISH(0)                                                                 \
        }                                                                                     \
    }
#define CX_TILE_ROWSUM(T, SUF)                                                                \
    CX_INLINE int cx_tile_rowsum_##SUF(T *xt, ptrdiff_t n, ptrdiff_t K, T *et, T *sh,         \
                                       double *rest, double *tot, double *logt, double *lse,  \
                                       int fast_ok) {                                         \
        int fast_groups = 0;                                                                  \
        ptrdiff_t nr = (n + 15) / 16 * 16; /* whole groups of 16 lanes, padding zeroed */     \
        for (ptrdiff_t k = 0; k < K; k++)                                                     \
            for (ptrdiff_t r = n; r < nr; r++) xt[k * CX_TILE + r] = 0;                        \
        if (fast_ok && K >= CX_TILE_FAST_K) {                                                 \
            for (ptrdiff_t r0 = 0; r0 < nr; r0 += 16) CX_TILE_GROUP(T, SUF, 1)                \
        } else if (fast_ok && K == 2) {                                                       \
            for (ptrdiff_t r0 = 0; r0 < nr; r0 += 16) CX_TILE_GROUP(T, SUF, 2)                \
        } else {                                                                              \
            for (ptrdiff_t r0 = 0; r0 < nr; r0 += 16) CX_TILE_GROUP(T, SUF, 0)                \
        }                                                                                     \
        return fast_groups;                                                                   \
    }
CX_TILE_ROWSUM(double, d)
CX_TILE_ROWSUM(float, f)
#undef CX_TILE_ROWSUM
#undef CX_TILE_GROUP
#undef CX_TILE_FINISH
#undef CX_TILE_TERMS
#undef CX_TILE_TOP_f
#undef CX_TILE_TOP_d
#undef CX_TILE_TERM_f
#undef CX_TILE_TERM_d
#undef CX_TILE_TOP_SEL
#undef CX_TILE_TERM_SEL
#undef CX_TILE_PAIR_TERMS

/* The normalisers of n rows from their maxima m[r], sums acc[r] of the terms other than the
   maximum's and counts cnt[r] of the maximum (the row path's _sum_exp_rest), one row per lane:
   rest[r], tot[r], logt[r] as in cx_rowsum and lse[r] = shift + logt[r].  The row path runs it
   on groups of rows, so that the logarithms of several rows share vectors (one row's is a chain
   of dependent operations that would otherwise stall the loop). */
CX_INLINE void cx_lanes_rowsum(const double *m, const double *acc, const double *cnt,
                               ptrdiff_t n, double *rest, double *tot, double *logt,
                               double *lse) {
    CX_PRAGMA(omp simd)
    for (ptrdiff_t r = 0; r < n; r++) {
        cx_rowsum q = cx_rowsum_finish(m[r], acc[r], cnt[r], 1);
        rest[r] = q.rest;
        tot[r] = q.total;
        logt[r] = q.log_total;
        lse[r] = q.shift + q.log_total;
    }
}

/* cx_label_terms for n rows, one row per lane: lab[r] the class index, or -1 for a row that
   does not count (then val = coef = 0); xy[r], ey[r], wy[r] the label's x_y - shift,
   exp(x_y - shift) and weight (any value where lab[r] < 0); rest, tot, logt the rows'
   normalisers; dot[r] as in cx_label_terms; sc[r] the row's scale (times its sample weight);
   lse[r] the row's log-normaliser (read only with zl != 0).  Writes the loss val[r] (before the
   sample weight), coef[r], smooth[r] and gy[r].  Used by the tiles and by groups of rows (n at
   most CX_TILE).  A row that does not count is zeroed by a mask of the bits, all ones or none per
   row, taken from lab first by a plain loop: a select on lab[r] >= 0 left the SSE2 baseline's
   lane loop scalar (GCC turns it into branches there): 43 instructions a row at K = 10, now 51
   per two rows and 7 for the mask (baseline float64 K = 2 / 10 33 / 2.6 % faster). */
#define CX_LABEL_LANE(ZLOSS)                                                                  \
    {                                                                                         \
        cx_rowsum q;                                                                          \
        q.shift = 0.0; /* not read by the label terms */                                      \
        q.rest = rest[r];                                                                     \
        q.total = tot[r];                                                                     \
        q.log_total = logt[r];                                                                \
        cx_label_terms_t o = cx_label_terms(xy[r], ey[r], wy[r], dot[r], q, eps, sm, wsum,    \
                                            sc[r]);                                           \
        if (ZLOSS) o = cx_label_zloss(o, ey[r], q, sc[r], zl, lse[r]);                        \
        val[r] = cx_from_bits_d(cx_bits_d(o.loss) & ok[r]);                                   \
        coef[r] = cx_from_bits_d(cx_bits_d(o.coef) & ok[r]);                                  \
        smooth[r] = o.smooth;                                                                 \
        gy[r] = o.gy;                                                                         \
    }
CX_INLINE void cx_label_lanes(const double *xy, const double *ey, const double *wy,
                              const ptrdiff_t *lab, ptrdiff_t n, const double *rest,
                              const double *tot, const double *logt, const double *dot,
                              double eps, double wsum, const double *sc, double zl,
                              const double *lse, ptrdiff_t K, double *val, double *coef,
                              double *smooth, double *gy) {
    double sm = eps / (double)K;
    uint64_t ok[CX_TILE];
    for (ptrdiff_t r = 0; r < n; r++) ok[r] = lab[r] >= 0 ? ~(uint64_t)0 : 0;
    if (zl == 0.0) {
        CX_PRAGMA(omp simd)
        for (ptrdiff_t r = 0; r < n; r++) CX_LABEL_LANE(0)
    } else {
        CX_PRAGMA(omp simd)
        for (ptrdiff_t r = 0; r < n; r++) CX_LABEL_LANE(1)
    }
}
#undef CX_LABEL_LANE

/* cx_label_lanes for the n rows of a tile (w a single 1 with sw = 0 without weights): the
   label's entries are gathered first by a plain loop (GCC does not vectorize a gather of floats
   by 64-bit index, and would leave the lane loop scalar if it were inside it) into arrays of its
   own, which the compiler knows do not alias the others. */
#define CX_TILE_LABELS(T, SUF)                                                                \
    CX_INLINE void cx_tile_labels_##SUF(const T *xt, const T *et, const ptrdiff_t *lab,      \
            const T *w, ptrdiff_t sw, ptrdiff_t n, const T *sh, const double *rest,          \
            const double *tot, const double *logt, const double *dot, double eps,            \
            double wsum, const double *sc, double zl, const double *lse, ptrdiff_t K,        \
            double *val, double *coef, double *smooth, double *gy) {                          \
        double xy[CX_TILE], ey[CX_TILE], wy[CX_TILE];                                         \
        for (ptrdiff_t r = 0; r < n; r++) {                                                   \
            ptrdiff_t y = lab[r] >= 0 ? lab[r] : 0;                                           \
            xy[r] = (double)xt[y * CX_TILE + r] - (double)sh[r];                              \
            ey[r] = (double)et[y * CX_TILE + r];                                              \
        }                                                                                     \
        if (sw == 0) { /* no class weights (or one for all): no gather by index */            \
            for (ptrdiff_t r = 0; r < n; r++) wy[r] = (double)w[0];                           \
        } else {                                                                              \
            for (ptrdiff_t r = 0; r < n; r++)                                                 \
                wy[r] = (double)w[(lab[r] >= 0 ? lab[r] : 0) * sw];                           \
        }                                                                                     \
        cx_label_lanes(xy, ey, wy, lab, n, rest, tot, logt, dot, eps, wsum, sc, zl, lse, K,   \
                       val, coef, smooth, gy);                                                \
    }
CX_TILE_LABELS(double, d)
CX_TILE_LABELS(float, f)
#undef CX_TILE_LABELS

#endif
