/* Vectorizable exp and row reductions for cxent's kernels.
 *
 * The C library's exp() is a scalar call that compilers vectorize only under -ffast-math (which
 * cxent never uses: it changes inf/nan semantics for the whole process).  cx_exp_d / cx_exp_f are
 * branch-free, table-free and use only multiplies, adds, compares/selects and integer add/shift
 * on the bit patterns, so GCC, Clang and MSVC vectorize loops calling them at -O3 with SSE2,
 * AVX2 or AVX-512 (whatever the translation unit is compiled for).
 *
 * Algorithm (Cody-Waite):  x = n ln2 + r with n = round(x / ln2), |r| <= ln2 / 2;
 * exp(r) by its Taylor polynomial (degree 13 for double, 7 for float: truncation error below
 * 1e-17 and 6e-9 relative); exp(x) = p * 2^n1 * 2^n2 with n = n1 + n2, so that results in the
 * subnormal range are formed by one final rounding and 2^n never overflows.  Rounding to an
 * integer uses the 1.5 * 2^52 (2^23) shifter, never a libm call.
 *
 * Accuracy (tests/test_simd.py measures it against mpmath and a correctly rounded reference on
 * the whole input range): within 2 ulp for float64 and float32, including the subnormal range;
 * exp(0) = 1 exactly; +inf -> +inf, -inf -> 0, nan -> nan, overflow -> +inf, underflow -> 0.
 *
 * The row reductions use `#pragma omp simd reduction(...)` (compiled with -fopenmp-simd), which
 * lets the compiler reorder the sum into vector lanes: the order depends on the vector width of
 * the instruction set, so different ISA builds may differ in the last bits, while one build gives
 * the same bits whatever the thread count.
 */
#ifndef CXENT_SIMD_H
#define CXENT_SIMD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(_MSC_VER) && !defined(__clang__)
#define CX_PRAGMA(x) __pragma(x)
#define CX_INLINE static __forceinline
#else
#define CX_PRAGMA(x) _Pragma(#x)
#define CX_INLINE static inline __attribute__((always_inline))
#endif

CX_INLINE uint64_t cx_bits_d(double d) { uint64_t u; memcpy(&u, &d, sizeof u); return u; }
CX_INLINE double cx_from_bits_d(uint64_t u) { double d; memcpy(&d, &u, sizeof d); return d; }
CX_INLINE uint32_t cx_bits_f(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }
CX_INLINE float cx_from_bits_f(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }

/* 2^k for an integer-valued double k in [-1022, 1023], through the shifter's bit pattern */
CX_INLINE double cx_pow2_d(double k) {
    const double shifter = 0x1.8p52;
    uint64_t u = cx_bits_d(k + shifter) - cx_bits_d(shifter);   /* = k, two's complement */
    return cx_from_bits_d((u + 1023u) << 52);
}

CX_INLINE float cx_pow2_f(float k) {
    const float shifter = 0x1.8p23f;
    uint32_t u = cx_bits_f(k + shifter) - cx_bits_f(shifter);
    return cx_from_bits_f((u + 127u) << 23);
}

CX_INLINE double cx_exp_d(double x) {
    const double log2e = 0x1.71547652b82fep0;
    const double ln2_hi = 6.93147180369123816490e-01;  /* 0x3fe62e42fee00000: n * ln2_hi exact */
    const double ln2_lo = 1.90821492927058770002e-10;
    const double shifter = 0x1.8p52;
    double xc = x < -746.0 ? -746.0 : x;                 /* nan passes both clamps */
    xc = xc > 710.0 ? 710.0 : xc;
    double kd = (xc * log2e + shifter) - shifter;         /* round(x / ln2) */
    double r = (xc - kd * ln2_hi) - kd * ln2_lo;
    double p = 1.0 / 6227020800.0;                        /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    double k1 = (kd * 0.5 + shifter) - shifter;           /* n = k1 + k2, both in range */
    double res = p * cx_pow2_d(k1) * cx_pow2_d(kd - k1);
    res = x > 709.782712893383973096 ? INFINITY : res;
    res = x < -7.45133219101941108420e+02 ? 0.0 : res;
    return res;
}

CX_INLINE float cx_exp_f(float x) {
    const float log2e = 0x1.715476p0f;
    const float ln2_hi = 0x1.62e4p-1f;                    /* 0.693145751953125: n * ln2_hi exact */
    const float ln2_lo = 0x1.7f7d1cp-20f;                 /* ln2 - ln2_hi */
    const float shifter = 0x1.8p23f;
    float xc = x < -104.0f ? -104.0f : x;
    xc = xc > 89.0f ? 89.0f : xc;
    float kd = (xc * log2e + shifter) - shifter;
    float r = (xc - kd * ln2_hi) - kd * ln2_lo;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    float k1 = (kd * 0.5f + shifter) - shifter;
    float res = p * cx_pow2_f(k1) * cx_pow2_f(kd - k1);
    res = x > 88.72283935546875f ? INFINITY : res;
    res = x <= -103.97208404541015625f ? 0.0f : res;
    return res;
}

/* log1p(u) for u >= -1, vectorizable: w = 1 + u = 2^e f with f in [sqrt(1/2), sqrt(2)),
   log f = 2 atanh(s), s = (f - 1) / (f + 1), |s| <= 0.1716, by its odd series to s^21 (truncation
   below 1e-18), plus the rounding error of 1 + u, (u - (w - 1)) / w.  Within 2 ulp; log1p(-1) =
   -inf, log1p(inf) = inf, nan -> nan, u < -1 -> nan. */
CX_INLINE double cx_log1p_d(double u) {
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    double w = 1.0 + u;
    double c = (u - (w - 1.0)) / w;                       /* correction, relative to w */
    uint64_t bits = cx_bits_d(w);
    double e = cx_from_bits_d(0x4330000000000000ULL | (bits >> 52)) - 0x1p52 - 1023.0;
    double f = cx_from_bits_d((bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
    int big = f > 1.4142135623730951;
    f = big ? f * 0.5 : f;
    e = big ? e + 1.0 : e;
    double s = (f - 1.0) / (f + 1.0), z = s * s;
    double p = 2.0 / 21.0;
    p = p * z + 2.0 / 19.0;
    p = p * z + 2.0 / 17.0;
    p = p * z + 2.0 / 15.0;
    p = p * z + 2.0 / 13.0;
    p = p * z + 2.0 / 11.0;
    p = p * z + 2.0 / 9.0;
    p = p * z + 2.0 / 7.0;
    p = p * z + 2.0 / 5.0;
    p = p * z + 2.0 / 3.0;
    double lf = s * 2.0 + s * z * p;                     /* log f */
    double res = e * ln2_hi + (lf + (e * ln2_lo + c));
    res = w < 2.2250738585072014e-308 ? (w == 0.0 ? -INFINITY : NAN) : res;  /* 0, <0, subnormal */
    res = w == INFINITY ? INFINITY : res;
    res = u != u ? u : res;
    return res;
}

/* exp(a - b) for floats, with the rounding error of the subtraction (TwoSum) folded back in:
   a float32 difference such as 17.7 - (-20.3) is rounded by up to 2e-6 relative, which exp()
   would carry into the result; this keeps float32 probabilities within a few ulp */
CX_INLINE float cx_exp_diff_f(float a, float b) {
    float s = a - b;
    float bb = s - a;
    float err = (a - (s - bb)) - (b + bb);
    float v = cx_exp_f(s);
    err = err - err == 0.0f ? err : 0.0f;                /* inf or nan operands: no correction */
    return v + v * err;
}

/* max of x[0..n) (contiguous); nan is skipped as by `v > m ? v : m`; -inf for n == 0 */
CX_INLINE double cx_max_d(const double *x, ptrdiff_t n) {
    double m = -INFINITY;
    CX_PRAGMA(omp simd reduction(max:m))
    for (ptrdiff_t k = 0; k < n; k++) m = x[k] > m ? x[k] : m;
    return m;
}

CX_INLINE float cx_max_f(const float *x, ptrdiff_t n) {
    float m = -INFINITY;
    CX_PRAGMA(omp simd reduction(max:m))
    for (ptrdiff_t k = 0; k < n; k++) m = x[k] > m ? x[k] : m;
    return m;
}

/* Sum of exp(x[k] - m) over k in [0, n) in float64, split for accuracy: returns the sum of the
   terms whose x[k] != m, and *count gets the number of x[k] == m (each of those terms is exactly
   1).  With m the row maximum the whole sum is count + rest, and log(sum) = log1p(rest +
   (count - 1)) keeps its relative accuracy when the other terms are tiny.  With e != NULL every
   term is stored in e[k] (e may be x itself, never a shifted view of it). */
CX_INLINE double cx_sumexp_rest_d(const double *x, ptrdiff_t n, double m, double *e,
                                  double *count) {
    double acc = 0.0, cnt = 0.0;
    if (e) {
        CX_PRAGMA(omp simd reduction(+:acc, cnt))
        for (ptrdiff_t k = 0; k < n; k++) {
            double v = cx_exp_d(x[k] - m);
            int eq = x[k] == m;
            e[k] = v;
            acc += eq ? 0.0 : v;
            cnt += eq ? 1.0 : 0.0;
        }
    } else {
        CX_PRAGMA(omp simd reduction(+:acc, cnt))
        for (ptrdiff_t k = 0; k < n; k++) {
            double v = cx_exp_d(x[k] - m);
            int eq = x[k] == m;
            acc += eq ? 0.0 : v;
            cnt += eq ? 1.0 : 0.0;
        }
    }
    *count = cnt;
    return acc;
}

CX_INLINE double cx_sumexp_rest_f(const float *x, ptrdiff_t n, float m, float *e,
                                  double *count) {
    double acc = 0.0, cnt = 0.0;
    if (e) {
        CX_PRAGMA(omp simd reduction(+:acc, cnt))
        for (ptrdiff_t k = 0; k < n; k++) {
            float v = cx_exp_diff_f(x[k], m);
            int eq = x[k] == m;
            e[k] = v;
            acc += eq ? 0.0 : (double)v;
            cnt += eq ? 1.0 : 0.0;
        }
    } else {
        CX_PRAGMA(omp simd reduction(+:acc, cnt))
        for (ptrdiff_t k = 0; k < n; k++) {
            float v = cx_exp_diff_f(x[k], m);
            int eq = x[k] == m;
            acc += eq ? 0.0 : (double)v;
            cnt += eq ? 1.0 : 0.0;
        }
    }
    *count = cnt;
    return acc;
}

#endif
