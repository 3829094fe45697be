/* The row path's loops of _simd.h one at a time, in cycles per row: where a float32 row of K
 * classes spends its time, apart from the per-row work of the kernels (the normaliser's
 * logarithm, the label's terms, offsets, the running loss).
 *
 *   gcc -O3 -fno-math-errno -fno-trapping-math -fno-strict-aliasing -fopenmp-simd \
 *       -mavx2 -mfma -mf16c -mbmi2 -Isrc/cxent benchmarks/row_loops.c -o /tmp/row_loops -lm
 *   /tmp/row_loops [K ...]           (default 100 1000 4000)
 *
 * (the AVX2 build's flags, setup.py; drop the -m flags for the baseline build's code).  Rows of
 * logits 3 U(-1, 1), 16 rows in turn (in L1/L2), the best of 15 rounds of:
 *   max        cx_max_f: the row's maximum (and whether its terms are all normal numbers)
 *   sumexp     cx_sumexp_rest_f with the terms stored (softmax, cross-entropy + gradient), by
 *              the exp for rows of normal terms (CX_EXP_NORMAL; -DFAST=0: the exp for any row)
 *   sums only  the same without storing them (log_softmax, logsumexp, loss without gradient)
 *   total      cx_sumexp_total_f with the terms stored: the softmax's compensated sums (rows of
 *              CX_COMP_MIN_K or more take it)
 *   exp        the terms cx_exp_diff_core_f alone, stored: the exp's part of sumexp
 *   scale      cx_scale_f in place: the gradient's / softmax's last pass
 * Cycles come from the time and a clock measured first by a chain of dependent integer adds
 * (one per cycle; eight per loop iteration: a loop of one add ran at two cycles per iteration on
 * Zen 3, which halved the clock it gave).  Used for the speed guide's notes of sessions 14, 16
 * and 17 (docs/guide/speed.md) and the cycle counts of cx_sumexp_total_f in _simd.h. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "_simd.h"

#ifndef FAST
#define FAST 1 /* the rows here (logits 3 U(-1, 1)) are rows of normal terms */
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double clock_hz(void) {
    long n = 400000000, v = 0;
    double best = 1e9;
    for (int w = 0; w < 5; w++) {
        double t0 = now();
        for (long i = 0; i < n / 8; i++)
            __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                             "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
                             : "+r"(v));
        double t = now() - t0;
        best = t < best ? t : best;
    }
    return n / best;
}

static __attribute__((noinline)) void exp_only(const float *x, ptrdiff_t n, float m, float *e) {
    CX_PRAGMA(omp simd)
    for (ptrdiff_t k = 0; k < n; k++) e[k] = cx_exp_diff_core_f(x[k], m, 0);
}

enum { ROWS = 16, ROUNDS = 15, LOOPS = 6 };

int main(int argc, char **argv) {
    static const char *name[LOOPS] = {"max", "sumexp", "sums only", "total", "exp", "scale"};
    const char *defaults[] = {"100", "1000", "4000"};
    int nk = argc > 1 ? argc - 1 : 3;
    double hz = clock_hz();
    volatile double sink = 0;
    printf("clock %.2f GHz; cycles per row (per element)\n", hz * 1e-9);
    for (int a = 0; a < nk; a++) {
        ptrdiff_t K = atol(argc > 1 ? argv[a + 1] : defaults[a]);
        long reps = 4000000 / K + 1;
        float *x = aligned_alloc(64, ((K * ROWS * sizeof(float)) + 63) / 64 * 64);
        float *e = aligned_alloc(64, ((K * ROWS * sizeof(float)) + 63) / 64 * 64);
        double best[LOOPS];
        srand(1);
        for (ptrdiff_t i = 0; i < K * ROWS; i++) x[i] = 3.0f * (2.0f * rand() / RAND_MAX - 1.0f);
        for (int l = 0; l < LOOPS; l++) best[l] = 1e30;
        for (int w = 0; w < ROUNDS; w++) {
            for (int l = 0; l < LOOPS; l++) {
                double t0 = now(), c;
                int fast;
                for (long it = 0; it < reps; it++) {
                    const float *xr = x + (it % ROWS) * K;
                    float *er = e + (it % ROWS) * K;
                    switch (l) {
                    case 0: sink += cx_max_f(xr, K, &fast); break;
                    case 1: sink += cx_sumexp_rest_f(xr, K, 3.0f, er, &c, FAST, NULL); break;
                    case 2: sink += cx_sumexp_rest_f(xr, K, 3.0f, NULL, &c, FAST, NULL); break;
                    case 3: sink += cx_sumexp_total_f(xr, K, 3.0f, er, &c, FAST, NULL); break;
                    case 4: exp_only(xr, K, 3.0f, er); break;
                    default: cx_scale_f(er, er, K, 0.999); break;
                    }
                }
                double t = (now() - t0) * hz / reps;
                best[l] = t < best[l] ? t : best[l];
            }
        }
        printf("K = %6ld:", (long)K);
        for (int l = 0; l < LOOPS; l++)
            printf("  %s %.0f (%.2f)", name[l], best[l], best[l] / K);
        printf("\n");
        free(x);
        free(e);
    }
    return sink == 12345.0;
}
