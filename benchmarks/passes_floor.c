/* The memory floor of softmax's passes, without any exp: how fast can a row loop with the same
 * loads and stores as cxent's softmax at N x K float32 go on this machine?
 *
 *   gcc -O2 -mavx2 -mfma benchmarks/passes_floor.c -o /tmp/passes_floor
 *   /tmp/passes_floor [N K]          (default 8192 1000; run beside `python -m cxent bench`)
 *
 * Prints the best of 9 of, per row:
 *   one pass     o = x * c (one read, one write: NumPy's np.multiply(x, c, out=o))
 *   three passes m = max(x); o = x - m; o *= c (softmax's pattern: max, the terms stored, then
 *                scaled in place while the row is in cache)
 *   streamed     m = max(x); s = x - m into an L1 scratch row; o = s * c by non-temporal stores
 *                (no read-for-ownership of o)
 * Used for the speed guide's "memory floor" paragraph (docs/guide/speed.md). */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    size_t N = argc > 2 ? strtoul(argv[1], NULL, 10) : 8192;
    size_t K = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
    size_t Kp = (K + 7) / 8 * 8; /* rows padded to whole vectors, 32-byte aligned */
    float *x = aligned_alloc(64, N * Kp * sizeof(float));
    float *o = aligned_alloc(64, N * Kp * sizeof(float));
    float *s = aligned_alloc(64, Kp * sizeof(float));
    const char *names[3] = {"one pass", "three passes", "streamed"};
    if (!x || !o || !s) return 1;
    for (size_t i = 0; i < N * Kp; i++) {
        x[i] = (float)(i % 1000) * 1e-3f;
        o[i] = 0.0f;
    }
    for (int mode = 0; mode < 3; mode++) {
        double best = 1e30;
        for (int rep = 0; rep < 9; rep++) {
            double t = now();
            for (size_t r = 0; r < N; r++) {
                const float *xr = x + r * Kp;
                float *orow = o + r * Kp;
                __m256 c = _mm256_set1_ps(0.5f), m = _mm256_set1_ps(-1e30f), v;
                if (mode == 0) {
                    for (size_t k = 0; k < Kp; k += 8)
                        _mm256_store_ps(orow + k, _mm256_mul_ps(_mm256_load_ps(xr + k), c));
                    continue;
                }
                for (size_t k = 0; k < Kp; k += 8) m = _mm256_max_ps(m, _mm256_load_ps(xr + k));
                float *dst = mode == 1 ? orow : s;
                for (size_t k = 0; k < Kp; k += 8)
                    _mm256_store_ps(dst + k, _mm256_sub_ps(_mm256_load_ps(xr + k), m));
                for (size_t k = 0; k < Kp; k += 8) {
                    v = _mm256_mul_ps(_mm256_load_ps(dst + k), c);
                    if (mode == 1)
                        _mm256_store_ps(orow + k, v);
                    else
                        _mm256_stream_ps(orow + k, v);
                }
            }
            _mm_sfence();
            t = now() - t;
            best = t < best ? t : best;
        }
        printf("%zu x %zu float32  %-13s %7.2f ms\n", N, K, names[mode], best * 1e3);
    }
    return o[N * Kp / 2] > 1e30f; /* keep the stores */
}
