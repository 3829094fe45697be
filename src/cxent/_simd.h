/* Vectorizable exp and row reductions for cxent's kernels.
 *
 * The C library's exp() is a scalar call that compilers vectorize only under -ffast-math (which
 * cxent never uses: it changes inf/nan semantics for the whole process).  cx_exp_d / cx_exp_f are
 * branch-free, table-free and use only multiplies, adds, compares/selects and integer add/shift
 * on the bit patterns, so GCC, Clang and MSVC vectorize loops calling them at -O3 with SSE2,
 * AVX2 or AVX-512 (whatever the translation unit is compiled for).
 *
 * Algorithm (Cody-Waite):  x = n ln2 + r with n = round(x / ln2), |r| <= ln2 / 2;
 * exp(r) = 1 + r + r^2 q(r) with q fitted at Chebyshev nodes (degree 11 in all for double,
 * 6 for float: relative error below 2e-17 and 1.1e-8); exp(x) = p * 2^n by adding n to the
 * exponent bits of p, with a 2^128 (2^64) pre-scale for results in the subnormal range so that
 * they are formed by one final rounding.  Rounding to an integer uses the 1.5 * 2^52 (2^23)
 * shifter, never a libm call.  About 25 vector operations per element.
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

#if defined(_MSC_VER)  /* MSVC, and clang-cl (which takes both spellings) */
#define CX_PRAGMA(x) __pragma(x)
#define CX_INLINE static __forceinline
#else
#define CX_PRAGMA(x) _Pragma(#x)
#define CX_INLINE static inline __attribute__((always_inline))
#endif

/* SSE2: every x86-64 CPU (the small-K tiles' 4 x 4 transposes, the rows' prefetch). */
#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define CX_SSE2 1
#else
#define CX_SSE2 0
#endif

/* Hardware fused multiply-add: the x86 FMA builds, and every aarch64 CPU. */
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
#define CX_HAVE_FMA 1
#else
#define CX_HAVE_FMA 0
#endif

/* a * b + c where an expression has two products the compiler could fuse into the addition: on
   FMA hardware GCC contracts one of them (-ffp-contract=fast), and which one can differ between
   the vector and the scalar code of one expression.  Written as one explicit fma there, the
   choice is made here, and a row and a tile lane give the same bits. */
#if CX_HAVE_FMA
#define CX_FMA(a, b, c) fma((a), (b), (c))
#else
#define CX_FMA(a, b, c) ((a) * (b) + (c))
#endif
CX_INLINE double cx_fma_d(double a, double b, double c) { return CX_FMA(a, b, c); }

CX_INLINE uint64_t cx_bits_d(double d) { uint64_t u; memcpy(&u, &d, sizeof u); return u; }
CX_INLINE double cx_from_bits_d(uint64_t u) { double d; memcpy(&d, &u, sizeof d); return d; }
CX_INLINE uint32_t cx_bits_f(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }
CX_INLINE float cx_from_bits_f(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }
/* keep ? v : +0.0 (for v >= 0 or nan), before a conversion to float64: for floats by a mask of
   the bits, one AND (compilers turn a select before the conversion into two selects of doubles
   after it); for doubles a plain select (a 64-bit mask from a comparison needs SSE4.1: the
   baseline build would not vectorize the loop) */
CX_INLINE double cx_keep_d(double v, int keep) { return keep ? v : 0.0; }
CX_INLINE float cx_keep_f(float v, int keep) {
    return cx_from_bits_f(cx_bits_f(v) & (0u - (uint32_t)(keep != 0)));
}

/* Counts of the elements equal to a row's maximum in float64 vector lanes, by the comparison's
   mask (all ones where equal; cx_eq_mask_d) at the lanes' width: the term dropped from the sum by
   cx_andnot_d, and the count, an integer in the bits of the float64 2^52 + count, raised by
   subtracting the mask (-1) or by adding 1.  It starts at CX_LANES0_d, the bits of 2^52, and
   reads back as that float64 minus 2^52 (cx_lanes_value_d): exact for counts below 2^52, with
   no conversion of a 64-bit integer (AVX2 has none).  float32 lanes count in int32. */
typedef uint64_t cx_mask_d;
typedef uint64_t cx_lanes_d;
typedef int32_t cx_lanes_f;
#define CX_LANES0_d 0x4330000000000000ull
#define CX_LANES0_f 0
CX_INLINE cx_mask_d cx_eq_mask_d(double a, double b) { return a == b ? ~(cx_mask_d)0 : 0; }
CX_INLINE double cx_andnot_d(cx_mask_d m, double v) { return cx_from_bits_d(cx_bits_d(v) & ~m); }
CX_INLINE double cx_lanes_value_d(cx_lanes_d c) { return cx_from_bits_d(c) - 0x1p52; }
CX_INLINE double cx_lanes_value_f(cx_lanes_f c) { return (double)c; }

/* the coefficients of cx_exp_core_d's q(r) = sum CX_EXP_Qi r^i (both ways of evaluating it) */
#define CX_EXP_Q0 0x1.0000000000001p-1
#define CX_EXP_Q1 0x1.5555555555556p-3
#define CX_EXP_Q2 0x1.5555555553d37p-5
#define CX_EXP_Q3 0x1.11111111109a6p-7
#define CX_EXP_Q4 0x1.6c16c1789d1d7p-10
#define CX_EXP_Q5 0x1.a01a01a7cebcdp-13
#define CX_EXP_Q6 0x1.a019b8ca26fcfp-16
#define CX_EXP_Q7 0x1.71de0d85293b8p-19
#define CX_EXP_Q8 0x1.2891d4ffbb0f9p-22
#define CX_EXP_Q9 0x1.af390ba7e6f47p-26
/* exp(s) for doubles, exp(s + err) with |err| << ulp(s) for floats (err = 0 for a plain exp; a
   float64 argument has no such correction, and adding 0 would cost an instruction, as r + 0 is
   not r when r is -0): the core of the exps below.
   z = s log2(e) + 1.5 * 2^52 rounds n = round(s / ln2) into the low bits of z, and because the
   shifter's low 12 bits are zero, bits(z) << 52 is n << 52.  With `overflow` set (any s) the
   power of two is added to the exponent field of p = exp(r) in [0.7, 1.42] by one integer add,
   results that would be subnormal (n < -1021) pre-scaled by 2^128 and multiplied by 2^-128 at
   the end; without (callers with s <= 0: the row kernels), p is multiplied by 2^(n + 128) built
   from its bits and then by 2^-128.  Either way subnormal results are formed by one final
   rounding.  Arguments below -745.13 give 0 (whatever the intermediate values were), above
   709.78 +inf (with `overflow`); nan, with any payload, stays nan.
   `overflow` CX_EXP_NORMAL: for a caller that knows the result is a normal number (s >= -700
   here, s >= -86 for floats, neither nan nor inf: the row path, for rows whose elements all
   lie within that much of their maximum, cx_max_*): the power of two is added to the exponent
   field of p with no test at all: the same bits as the other ways for a normal result, in
   four operations fewer per vector (the two products, the comparison and the select). */
#define CX_EXP_NORMAL 3
CX_INLINE double cx_exp_core_d(double s, int overflow) {
    const double log2e = 0x1.71547652b82fep0;
    const double ln2_hi = 6.93147180369123816490e-01;  /* 0x3fe62e42fee00000: n * ln2_hi exact */
    const double ln2_lo = 1.90821492927058770002e-10;
    const double shifter = 0x1.8p52;
    double z = s * log2e + shifter;
    double kd = z - shifter;
    double r = (s - kd * ln2_hi) - kd * ln2_lo;
    /* exp(r) = 1 + r + r^2 q(r), q of degree 9 fitted at Chebyshev nodes on |r| <= 0.347:
       relative error below 2e-17.  With FMA q is taken by Horner's rule (nine fused steps).
       Without (the SSE2 baseline build), by Estrin's scheme: pairs a + b r, then powers of r^2,
       two more operations and a dependent chain of 6 operations instead of 18, which is what
       set the baseline's pace: its scheduler fills with the chains' waiting operations
       (cross-entropy + gradient float64 K = 10 / 32 / 100 8 % faster, benchmarks/ab.py, 4M
       elements; with FMA, Estrin's extra products cost the AVX2 build's tiles 3 %), and the
       end as 1 + (r + r^2 q), one operation fewer than (q r + 1) r + 1 and more accurate
       without FMA (against mpmath, 120,000 arguments: max 0.978 ulp, 1.132 before). */
#if CX_HAVE_FMA
    double q = CX_EXP_Q9;
    q = q * r + CX_EXP_Q8;
    q = q * r + CX_EXP_Q7;
    q = q * r + CX_EXP_Q6;
    q = q * r + CX_EXP_Q5;
    q = q * r + CX_EXP_Q4;
    q = q * r + CX_EXP_Q3;
    q = q * r + CX_EXP_Q2;
    q = q * r + CX_EXP_Q1;
    q = q * r + CX_EXP_Q0;
    double p = q * r + 1.0;
    p = p * r + 1.0;
#else
    double u = r * r, u2 = u * u;
    double q01 = CX_EXP_Q1 * r + CX_EXP_Q0, q23 = CX_EXP_Q3 * r + CX_EXP_Q2;
    double q45 = CX_EXP_Q5 * r + CX_EXP_Q4, q67 = CX_EXP_Q7 * r + CX_EXP_Q6;
    double q89 = CX_EXP_Q9 * r + CX_EXP_Q8;
    double q = (q89 * u2 + (q67 * u + q45)) * u2 + (q23 * u + q01);
    double p = 1.0 + (u * q + r);
#endif
    double res;
    if (overflow == CX_EXP_NORMAL) return cx_from_bits_d(cx_bits_d(p) + (cx_bits_d(z) << 52));
    if (overflow) {
        int tiny = kd < -1021.0;
        uint64_t e = cx_bits_d(z) << 52;
        e = tiny ? e + (128ull << 52) : e;
        res = cx_from_bits_d(cx_bits_d(p) + e);
        res = tiny ? res * 0x1p-128 : res;
        res = s > 709.782712893383973096 ? INFINITY : res;
        res = s == s ? res : s; /* the integer add can turn a nan (any payload) into a number */
    } else {
        /* s <= 0, so n <= 0: p * 2^(n + 128) is exact (the power of two is built from its bits,
           normal) and the product by 2^-128 rounds once; a nan p stays nan in the products */
        res = p * cx_from_bits_d((cx_bits_d(z) + (1023u + 128u)) << 52) * 0x1p-128;
    }
    res = s < -7.45133219101941108420e+02 ? 0.0 : res;
    return res;
}

/* `overflow` CX_EXP_MASKED: as 0, the results of s <= -103.97 zeroed by a bit mask instead of a
   select, for a caller that masks the result again before a conversion to float64 (the small-K
   tiles' sums): GCC moves a select past the conversion, as two selects of doubles and a widened
   mask (5 more instructions per 8 floats); two masks merge into one.  Only there: given to every
   float caller (the row sums masking too), the row path at K = 64 was 5-12 % slower. */
#define CX_EXP_MASKED 2
CX_INLINE float cx_exp_core_f(float s, float err, int overflow) {
    const float log2e = 0x1.715476p0f;
    const float ln2_hi = 0x1.62e4p-1f;                    /* 0.693145751953125: n * ln2_hi exact */
    const float ln2_lo = 0x1.7f7d1cp-20f;                 /* ln2 - ln2_hi */
    const float shifter = 0x1.8p23f;
    float z = s * log2e + shifter;
    float kd = z - shifter;
    float r = ((s - kd * ln2_hi) - kd * ln2_lo) + err;
    /* exp(r) = 1 + r + r^2 q(r), q of degree 4 fitted at Chebyshev nodes on |r| <= 0.347:
       relative error 1.1e-8 (0.2 ulp) before rounding */
    float q = 0x1.6d117cp-10f;
    q = q * r + 0x1.120be2p-7f;
    q = q * r + 0x1.555518p-5f;
    q = q * r + 0x1.5554dcp-3f;
    q = q * r + 0.5f;
    float p = q * r + 1.0f;
    p = p * r + 1.0f;
    float res;
    if (overflow == CX_EXP_NORMAL) return cx_from_bits_f(cx_bits_f(p) + (cx_bits_f(z) << 23));
    if (overflow == 1) {
        int tiny = kd < -125.0f;
        uint32_t e = cx_bits_f(z) << 23;
        e = tiny ? e + (64u << 23) : e;
        res = cx_from_bits_f(cx_bits_f(p) + e);
        res = tiny ? res * 0x1p-64f : res;
        res = s > 88.72283172607421875f ? INFINITY : res;  /* ln(FLT_MAX) < next float */
        res = s == s ? res : s; /* the integer add can turn a nan (any payload) into a number */
    } else {
        /* s <= 0, so n <= 0: p * 2^(n + 64) is exact (the power of two is built from its bits,
           normal) and the product by 2^-64 rounds once; a nan p stays nan in the products */
        res = p * cx_from_bits_f((cx_bits_f(z) + (127u + 64u)) << 23) * 0x1p-64f;
        if (overflow == CX_EXP_MASKED) return cx_keep_f(res, !(s <= -103.97208404541015625f));
    }
    res = s <= -103.97208404541015625f ? 0.0f : res;
    return res;
}

CX_INLINE double cx_exp_d(double x) { return cx_exp_core_d(x, 1); }
CX_INLINE float cx_exp_f(float x) { return cx_exp_core_f(x, 0.0f, 1); }

/* exp(a - b) for floats, with the rounding error of the subtraction (TwoSum) added to the reduced
   argument: a float32 difference such as 17.7 - (-20.3) is rounded by up to 2e-6 relative, which
   exp() would carry into the result; this keeps float32 probabilities within 1 ulp.  Inf or nan
   operands make err nan, which only reaches results that the final selects replace (0 for
   a - b = -inf, +inf for +inf) or that are nan anyway.  `overflow` as for cx_exp_core_f. */
CX_INLINE float cx_exp_diff_core_f(float a, float b, int overflow) {
    float s = a - b;
    float bb = s - a;
    float err = (a - (s - bb)) - (b + bb);
    return cx_exp_core_f(s, err, overflow);
}

CX_INLINE float cx_exp_diff_f(float a, float b) { return cx_exp_diff_core_f(a, b, 1); }

/* exp(a - s) for a <= s or nan: the terms of a row shifted by its maximum s, in every path
   (rows, tiles, strided rows), so that they agree to the bit */
CX_INLINE double cx_expm_d(double a, double s) { return cx_exp_core_d(a - s, 0); }
CX_INLINE float cx_expm_f(float a, float s) { return cx_exp_diff_core_f(a, s, 0); }
/* the same values by the exp of MODE (a constant): 0, CX_EXP_MASKED (the tiles' sums; doubles
   take no mask, so it is 0 for them) or CX_EXP_NORMAL (rows and tiles whose terms are all normal
   numbers, CX_ALL_NORMAL) */
#define CX_EXPM_d(a, s, MODE) cx_exp_core_d((a) - (s), (MODE) == CX_EXP_NORMAL ? (MODE) : 0)
#define CX_EXPM_f(a, s, MODE) cx_exp_diff_core_f((a), (s), (MODE))
/* The rule for CX_EXP_NORMAL, one for rows (cx_max_*) and the tiles' groups of rows: the terms
   exp(x - mx) of a row with maximum mx, minimum mn and z the sum of its elements times 0 (nan for
   any nan or infinity) are all normal numbers when z is 0 and mx - mn <= CX_SPAN_* (exp(-86) and
   exp(-700) are normal, with margin, in float32 and float64).  mx - mn in the row's type: its
   rounding moves the limit by far less than the margin (converting float32 lanes to float64
   cost the tiles 3-5 % at K = 4-8). */
#define CX_SPAN_d 700.0
#define CX_SPAN_f 86.0f
#define CX_ALL_NORMAL(SUF, mx, mn, z) ((z) == 0 && (mx) - (mn) <= CX_SPAN_##SUF)

/* tanh(v), vectorizable (the logit soft cap): for |v| < 0.625, |v| + |v|^3 q(v^2) with q of
   degree 10 fitted (least squares at Chebyshev nodes, in 40-digit arithmetic); above, with
   e = exp(-2|v|) from the exp above, (1 - e) / (1 + e), which loses at most a bit (e <= 0.29);
   the sign of v copied back.  Within 2 ulp (tests/test_simd.py: against mpmath); +-inf -> +-1,
   nan -> nan, tanh(-0) = -0. */
CX_INLINE double cx_tanh_d(double v) {
    double a = fabs(v), s = a * a;
    double q = -0x1.21b6339133ae8p-16;
    q = q * s + 0x1.4e0e4e5c4b760p-14;
    q = q * s - 0x1.e40d5c063576bp-13;
    q = q * s + 0x1.33fed76354ce1p-11;
    q = q * s - 0x1.7d807ae08b4cbp-10;
    q = q * s + 0x1.d6d186ddd7415p-9;
    q = q * s - 0x1.226e2951c1a02p-7;
    q = q * s + 0x1.664f48387562cp-6;
    q = q * s - 0x1.ba1ba1b9300d9p-5;
    q = q * s + 0x1.11111111107f2p-3;
    q = q * s - 0x1.5555555555553p-2;
    double small = CX_FMA(a * s, q, a);
    double e = cx_exp_core_d(-2.0 * a, 0);
    double big = (1.0 - e) / (1.0 + e);
    double r = a < 0.625 ? small : big;
    return copysign(r, v);
}

/* Gemma-2's soft cap of logits, cap tanh(v / cap), and a gradient through it from the capped
   value vc, g (1 - (vc / cap)^2), one element (in double) and contiguous runs of them. */
CX_INLINE double cx_softcap1(double v, double cap) { return cap * cx_tanh_d(v / cap); }
CX_INLINE double cx_softcap_grad1(double g, double vc, double cap) {
    double u = vc / cap;
    return g * CX_FMA(-u, u, 1.0);
}
#define CX_SOFTCAP_RUNS(T, SUF)                                                               \
    CX_INLINE void cx_softcap_##SUF(const T *x, T *o, ptrdiff_t n, double cap) {              \
        CX_PRAGMA(omp simd)                                                                   \
        for (ptrdiff_t k = 0; k < n; k++) o[k] = (T)cx_softcap1((double)x[k], cap);          \
    }                                                                                         \
    CX_INLINE void cx_softcap_grad_##SUF(T *g, const T *xc, ptrdiff_t n, double cap) {        \
        CX_PRAGMA(omp simd)                                                                   \
        for (ptrdiff_t k = 0; k < n; k++)                                                     \
            g[k] = (T)cx_softcap_grad1((double)g[k], (double)xc[k], cap);                     \
    }
CX_SOFTCAP_RUNS(double, d)
CX_SOFTCAP_RUNS(float, f)
#undef CX_SOFTCAP_RUNS

/* log1p(u) for u >= -1, vectorizable: w = 1 + u = 2^e f with f in [sqrt(1/2), sqrt(2)),
   log f = 2 atanh(s), s = (f - 1) / (f + 1), |s| <= 0.1716, by its odd series to s^21 (truncation
   below 1e-18), plus the rounding error of 1 + u, (u - (w - 1)) / w.  Within 2 ulp; log1p(-1) =
   -inf, log1p(inf) = inf, nan -> nan, u < -1 -> nan.  `special` 0 (a constant) leaves out the
   tests for those cases, for a caller that knows u is a finite number >= 0: the same bits. */
CX_INLINE double cx_log1p_core_d(double u, int special) {
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
#if CX_HAVE_FMA
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
#else /* Estrin's scheme, as cx_exp_core_d's q */
    double z2 = z * z, z4 = z2 * z2;
    double p01 = 2.0 / 5.0 * z + 2.0 / 3.0, p23 = 2.0 / 9.0 * z + 2.0 / 7.0;
    double p45 = 2.0 / 13.0 * z + 2.0 / 11.0, p67 = 2.0 / 17.0 * z + 2.0 / 15.0;
    double p89 = 2.0 / 21.0 * z + 2.0 / 19.0;
    double p = ((p89 * z4 + (p67 * z2 + p45)) * z4) + (p23 * z2 + p01);
#endif
    double lf = CX_FMA(s * z, p, s * 2.0);                /* log f */
    double res = e * ln2_hi + (lf + (e * ln2_lo + c));
    if (!special) return res;
    res = w < 2.2250738585072014e-308 ? (w == 0.0 ? -INFINITY : NAN) : res;  /* 0, <0, subnormal */
    res = w == INFINITY ? INFINITY : res;
    res = u != u ? u : res;
    return res;
}
CX_INLINE double cx_log1p_d(double u) { return cx_log1p_core_d(u, 1); }

/* The row reductions below work on 16 fixed lanes (lane j takes the elements k with k = j mod
   16) and reduce the lanes by a fixed tree, so the order of the additions is the same for every
   instruction set.  The last partial block of a row of more than 16 is taken as the row's last 16
   elements with the lanes already done masked out (a padded copy costs more: its scalar
   stores do not forward to the vector load); rows of at most CX_SMALL_K_OF(T) are summed element
   by element, in the order of the small-K tiles (_rows.h), so that both paths give the same bits.
   The tiles take float32 rows to 48 classes and float64 rows to 40 (session 21, AVX2 build on
   an Intel Xeon, one thread, 4M elements, benchmarks/ab.py against the groups of rows: float32
   cross-entropy + gradient K = 41 / 44 / 48 46 / 29 / 17 % faster, into new outputs K = 44 / 48
   27 / 35 %, softmax 45 / 26 / 19 %, log_softmax 37 / 28 / 23 %; AVX-512 build K = 44 / 48
   25 / 7 %, baseline K = 41-48 22-61 %; float64 K = 48 25 % slower, as session 20 found for
   K = 48-64: the transposed copies of long rows cost more than the groups' reads).  Since
   session 26 float32 rows to 64 classes: with the output lines fetched a tile ahead (session
   25) the tiles were faster than the groups there (AVX2 build, benchmarks/ab.py, 4M elements,
   min of 9 rounds: cross-entropy + gradient K = 52 / 56 / 60 / 64 47 / 32 / 29 / 30 % faster,
   into new outputs K = 56 / 64 25 / 15 %, softmax K = 56 / 64 34 / 13 %, log_softmax 23 / 5 %,
   logsumexp 56 / 40 %; AVX-512 K = 52-64 13-46 %; baseline K = 52-60 24-37 % faster but K = 64
   7 % slower, where its groups' lanes divide the row).  The row path's rows of up to
   CX_SMALL_K_OF sum in the tiles' order (cxent.score took such rows before it took tiles,
   fit_temperature's float64 rows do): their terms by vectors, then summed in order, and their
   maximum by lanes (cx_max_*).  fit_temperature, AVX2, 1M elements: float64 K = 10 265 -> 216
   ms, float32 K = 32 81 -> 53 ms. */
#define CX_SMALL_K_F 64
#define CX_SMALL_K_D 40
#define CX_SMALL_K CX_SMALL_K_F /* the larger (sizes scratch rows and _set_small_k) */
#define CX_SMALL_K_OF(T) (sizeof(T) == 4 ? CX_SMALL_K_F : CX_SMALL_K_D)
#define CX_TREE16(l, OP)                                                                      \
    for (int h = 8; h > 0; h /= 2) {                                                          \
        CX_PRAGMA(omp simd)                                                                   \
        for (int j = 0; j < h; j++) l[j] = OP(l[j], l[j + h]);                                \
    }
#define CX_MAXOP(a, b) ((b) > (a) ? (b) : (a))
#define CX_ADDOP(a, b) ((a) + (b))

/* max of x[0..n) (contiguous); nan is skipped as by `v > m ? v : m`; -inf for n == 0.  *fast
   says whether the row's terms exp(x - max) are all normal numbers, so that cx_sumexp_rest_*
   may take CX_EXP_NORMAL's exp: a row of more than CX_SMALL_K_OF(T) elements, none of them nan or
   infinite (their products by 0, summed, are 0), all within `span` of the maximum (86 for
   floats, 700 for doubles).  The minimum and the sum ride along the maximum's loads.  The
   minimum is `lo < v ? lo : v`, SSE's minps with the lanes' register as its destination: it
   matters only when the sum of products is 0 (no nan, which the two orders treat differently);
   `v < lo ? v : lo` took two register copies per vector in the baseline build. */
#define CX_MINOP(a, b) ((a) < (b) ? (a) : (b)) /* also the tiles' (_rows.h) */
/* the 16 lanes of the maximum, the minimum and the sum of elements times 0 over b[0..16) */
#define CX_SPAN_LANES(T, b)                                                                   \
    CX_PRAGMA(omp simd)                                                                       \
    for (int j = 0; j < 16; j++) {                                                            \
        T v = (b)[j];                                                                         \
        l[j] = CX_MAXOP(l[j], v);                                                             \
        lo[j] = CX_MINOP(lo[j], v);                                                           \
        z[j] += v * (T)0;                                                                     \
    }
#define CX_ROW_MAX(T, SUF)                                                                    \
    CX_INLINE T cx_max_##SUF(const T *x, ptrdiff_t n, int *fast) {                            \
        T l[16], lo[16], z[16], m = -INFINITY;                                                \
        ptrdiff_t k0 = 0;                                                                     \
        *fast = 0;                                                                            \
        if (n >= 16) {                                                                        \
            CX_PRAGMA(omp simd)                                                               \
            for (int j = 0; j < 16; j++) { l[j] = -INFINITY; lo[j] = INFINITY; z[j] = 0; }    \
            for (; k0 + 16 <= n; k0 += 16) {                                                  \
                CX_SPAN_LANES(T, x + k0)                                                      \
            }                                                                                 \
            if (k0 < n) { /* the last 16 elements again: overlapping is harmless for these */ \
                CX_SPAN_LANES(T, x + n - 16)                                                  \
            }                                                                                 \
            CX_TREE16(l, CX_MAXOP)                                                            \
            if (n > CX_SMALL_K_OF(T)) {                                                       \
                CX_TREE16(lo, CX_MINOP)                                                       \
                CX_TREE16(z, CX_ADDOP)                                                        \
                *fast = CX_ALL_NORMAL(SUF, l[0], lo[0], z[0]);                                \
                return l[0];                                                                  \
            }                                                                                 \
            /* a short row: the maximum in order has this value (nan is skipped either way)   \
               unless it is a zero, whose sign is the first zero's: in order then */          \
            if (l[0] != 0) return l[0];                                                       \
        }                                                                                     \
        for (ptrdiff_t k = 0; k < n; k++) m = CX_MAXOP(m, x[k]);                              \
        return m;                                                                             \
    }
CX_ROW_MAX(double, d)
CX_ROW_MAX(float, f)
#undef CX_ROW_MAX
#undef CX_SPAN_LANES

/* Sum of exp(x[k] - m) over k in [0, n) in float64, split for accuracy: returns the sum of the
   terms whose x[k] != m, and *count gets the number of x[k] == m (each of those terms is exactly
   1).  With m the row maximum (x[k] <= m or nan; m finite or +inf) the whole sum is count +
   rest, and log(sum) = log1p(rest + (count - 1)) keeps its relative accuracy when the other
   terms are tiny.  With e != NULL every term is stored in e[k] (e may be x itself, never a
   shifted view of it).  With pf != NULL (the next row) the blocks fetch pf's elements at
   their offsets into the caches (CX_PREFETCH_NEXT).

   float32 terms are added in pairs in float32 (relative error at most 2^-24 of the pair) before
   the float64 lanes, so the converts cost half as much.  Counts are int32 per lane for float32
   rows (exact for rows of up to 2^35 elements) and cx_lanes_d's integers for float64 rows (2^56).

   cx_sumexp_total_f: the same parts for a caller that needs only their sum, count + rest (the
   softmax, whose logarithm nobody takes): its blocks of 32 add every term, the maximum's 1
   too, to float32 lanes that start at CX_COMP_BASE, each addition's rounding error kept exactly
   in a second lane (Fast2Sum: a lane is at least 4, a term at most 1), both lanes going to the
   float64 ones every CX_COMP_BLOCK elements.  No comparison, mask, count or conversion per
   element: benchmarks/row_loops.c (AVX2) at K = 1,000 1.42-1.44 cycles per element against
   1.57-1.59 for cx_sumexp_rest_f with the terms stored, at K = 4,096 1.35-1.39 against
   1.51-1.56.  Accuracy: a lane's block of 32 terms keeps each
   addition's error e exactly (|e| <= the term, and half an ulp of a lane under 4 + 32 at most);
   the second lane adds the 32 errors within 32 2^-24 = 2^-19 of their sum, itself at most
   min(S, 2^-19 (4 + S)) for a block's sum S: at most 2^-35 while S <= 4, 2^-37 S above.  The
   row's total being at least 1 and at least the blocks' sum, the result is within about
   K 2^-40 of the terms' exact sum, relative (2^-30 at K = 1,000; 2^-24.4 at 50,257 in the worst
   case, where the pairs' rounding of cx_sumexp_rest_f allows 2^-24).  Measured: the same
   float64 number as a long double sum of the terms, rows of 1,000 to 50,257.  The rest it
   returns is then not accurate by itself when it is tiny. */
#define CX_COMP_BASE 4.0f
#define CX_COMP_BLOCK 512
/* the counts and sums of the lanes (CX_SUMEXP_REST's lane_cnt, lane_acc): float64 lanes count in
   cx_lanes_d's integers by the comparison's mask, one subtraction, and drop the maximum's term by
   an AND-NOT of it (GCC: a blend), where int32 counts of float64 lanes took the masks' packing to
   32-bit lanes, 5 instructions more per 8 elements (callgrind, cross-entropy + gradient over 4M
   elements, AVX2 build: float64 K = 100 67.27 -> 64.44 million instructions, K = 1,000 49.76 ->
   47.12; the same bits; time within the noise here); float32 lanes count in int32 */
#define CX_LANE_TERM_d(a, v)                                                                  \
    {                                                                                         \
        cx_mask_d top_ = cx_eq_mask_d(a, m);                                                  \
        lane_cnt[j] -= top_;                                                                  \
        lane_acc[j] += cx_andnot_d(top_, v);                                                  \
    }
#define CX_LANE_TERM_f(a, v)                                                                  \
    {                                                                                         \
        int c_ = (a) == m;                                                                    \
        lane_cnt[j] += c_;                                                                    \
        lane_acc[j] += c_ ? 0.0 : (double)(v);                                                \
    }
#define CX_SUMEXP_LANE(T, SUF, EXPM, a, STORE, MODE)                                          \
    {                                                                                         \
        T v_ = EXPM(a, m, MODE);                                                              \
        STORE                                                                                 \
        CX_LANE_TERM_##SUF(a, v_)                                                             \
    }
/* pf (the next row, or NULL): its 128 bytes at the offset of x + k0 fetched into the caches,
   one block of 16 or 32 elements ahead of their use by the next row's maximum, which reads them
   faster than memory gives them. */
#if CX_SSE2
#define CX_PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#elif defined(__GNUC__)
#define CX_PREFETCH(p) __builtin_prefetch(p)
#else
#define CX_PREFETCH(p) ((void)(p))
#endif
#define CX_PREFETCH_NEXT(k0)                                                                  \
    if (pf) {                                                                                 \
        CX_PREFETCH(pf + (k0));                                                               \
        CX_PREFETCH((const char *)(pf + (k0)) + 64);                                          \
    }
/* the cache lines of [p, p + nbytes) fetched into the caches (a small-K tile's next rows) */
CX_INLINE void cx_prefetch_bytes(const void *p, ptrdiff_t nbytes) {
    for (ptrdiff_t i = 0; i < nbytes; i += 64) CX_PREFETCH((const char *)p + i);
}
/* blocks of 16 from k0, one term per lane */
#define CX_SUMEXP_16(T, SUF, EXPM, STORE, MODE)                                               \
    for (; k0 + 16 <= n; k0 += 16) {                                                          \
        CX_PREFETCH_NEXT(k0)                                                                  \
        CX_PRAGMA(omp simd)                                                                   \
        for (int j = 0; j < 16; j++) CX_SUMEXP_LANE(T, SUF, EXPM, x[k0 + j], STORE, MODE)     \
    }
/* float32 blocks of 32: the 16 lanes taken CX_SUM_CHUNK at a time over all the row's blocks,
   each chunk's float64 sums and counts in local arrays the compiler keeps in registers (every
   lane adds its terms in the same order: the same bits).  The SSE2 build's loop over all 16
   lanes kept them in memory (a load, an add and a store per vector and block); in chunks of 8:
   callgrind, cross-entropy + gradient over 4M elements at K = 1,000, 81.73 -> 78.07 million
   instructions, `benchmarks/ab.py` (baseline build, 8M elements) K = 1,000 1-5 % faster,
   K = 50,257 5-11 %, log_softmax 1 / 7 %.  The AVX builds take the 16 lanes at once (26.65 ->
   25.28 million instructions at K = 1,000 in the AVX2 build, the same time). */
#if defined(__AVX__)
#define CX_SUM_CHUNK 16
#else
#define CX_SUM_CHUNK 8
#endif
#define CX_SUMEXP_BODY_F(STORE, STORE0, STORE1, MODE)                                         \
    {                                                                                         \
        ptrdiff_t kb_ = k0, ke_ = k0 + (n - k0) / 32 * 32;                                    \
        for (int jc_ = 0; jc_ < 16; jc_ += CX_SUM_CHUNK) {                                    \
            double acc_[CX_SUM_CHUNK];                                                        \
            int32_t cnt_[CX_SUM_CHUNK];                                                       \
            for (int i = 0; i < CX_SUM_CHUNK; i++) {                                          \
                acc_[i] = lane_acc[jc_ + i];                                                  \
                cnt_[i] = lane_cnt[jc_ + i];                                                  \
            }                                                                                 \
            for (ptrdiff_t k0 = kb_; k0 < ke_; k0 += 32) {                                    \
                if (jc_ == 0) CX_PREFETCH_NEXT(k0)                                            \
                CX_PRAGMA(omp simd)                                                           \
                for (int i = 0; i < CX_SUM_CHUNK; i++) {                                      \
                    int j = jc_ + i;                                                          \
                    float a0 = x[k0 + j], a1 = x[k0 + 16 + j];                                \
                    float v0 = cx_exp_diff_core_f(a0, m, MODE);                               \
                    float v1 = cx_exp_diff_core_f(a1, m, MODE);                               \
                    STORE0 STORE1                                                             \
                    int c0 = a0 == m, c1 = a1 == m;                                           \
                    cnt_[i] += c0 + c1;                                                       \
                    acc_[i] += (double)((c0 ? 0.0f : v0) + (c1 ? 0.0f : v1));                 \
                }                                                                             \
            }                                                                                 \
            for (int i = 0; i < CX_SUM_CHUNK; i++) {                                          \
                lane_acc[jc_ + i] = acc_[i];                                                  \
                lane_cnt[jc_ + i] = cnt_[i];                                                  \
            }                                                                                 \
        }                                                                                     \
        k0 = ke_;                                                                             \
    }                                                                                         \
    CX_SUMEXP_16(float, f, CX_EXPM_f, STORE, MODE)
#define CX_SUMEXP_BODY_D(STORE, STORE0, STORE1, MODE)                                         \
    CX_SUMEXP_16(double, d, CX_EXPM_d, STORE, MODE)
/* the last 16 elements again, counting only the n - k0 not done yet (rows of more than 16):
   lanes J0 to 15 of them, J0 = 8 when lanes 0-7 are all done (a remainder of at most 8: half
   the exps, the same sums); STORE writes the new terms to e (e may be x: done lanes keep their
   term) */
#define CX_SUMEXP_LAST_LANES(T, EXPM, MODE, J0, STORE)                                        \
    CX_PRAGMA(omp simd)                                                                       \
    for (int j = J0; j < 16; j++) {                                                           \
        T a_ = xl[j];                                                                         \
        T v_ = EXPM(a_, m, MODE);                                                             \
        int ok_ = j >= done, c_ = ok_ && a_ == m;                                             \
        STORE                                                                                 \
        lane_cnt[j] += c_;                                                                    \
        lane_acc[j] += (ok_ && !c_) ? (double)v_ : 0.0;                                       \
    }
#define CX_SUMEXP_LAST_STORE e[n - 16 + j] = ok_ ? v_ : e[n - 16 + j];
#define CX_SUMEXP_LAST(T, EXPM, MODE)                                                         \
    {                                                                                         \
        const T *xl = x + n - 16;                                                             \
        ptrdiff_t done = 16 - (n - k0);                                                       \
        if (e && done >= 8) {                                                                 \
            CX_SUMEXP_LAST_LANES(T, EXPM, MODE, 8, CX_SUMEXP_LAST_STORE)                      \
        } else if (e) {                                                                       \
            CX_SUMEXP_LAST_LANES(T, EXPM, MODE, 0, CX_SUMEXP_LAST_STORE)                      \
        } else if (done >= 8) {                                                               \
            CX_SUMEXP_LAST_LANES(T, EXPM, MODE, 8, )                                          \
        } else {                                                                              \
            CX_SUMEXP_LAST_LANES(T, EXPM, MODE, 0, )                                          \
        }                                                                                     \
        k0 = n;                                                                               \
    }
/* the blocks of 32 of cx_sumexp_total_f: every term, compensated (STORE0/1 as above) */
#define CX_COMP_ADD(v)                                                                        \
    {                                                                                         \
        float t_ = hi[j] + (v);                                                               \
        lo[j] += (v) - (t_ - hi[j]);                                                          \
        hi[j] = t_;                                                                           \
    }
#define CX_SUMEXP_BODY_TOTAL_F(STORE, STORE0, STORE1, MODE)                                   \
    while (k0 + 32 <= n) {                                                                    \
        ptrdiff_t k1 = n - k0 > CX_COMP_BLOCK ? k0 + CX_COMP_BLOCK : n;                       \
        float hi[16], lo[16];                                                                 \
        CX_PRAGMA(omp simd)                                                                   \
        for (int j = 0; j < 16; j++) { hi[j] = CX_COMP_BASE; lo[j] = 0.0f; }                  \
        for (; k0 + 32 <= k1; k0 += 32) {                                                     \
            CX_PREFETCH_NEXT(k0)                                                              \
            CX_PRAGMA(omp simd)                                                               \
            for (int j = 0; j < 16; j++) {                                                    \
                float a0 = x[k0 + j], a1 = x[k0 + 16 + j];                                    \
                float v0 = cx_exp_diff_core_f(a0, m, MODE);                                   \
                float v1 = cx_exp_diff_core_f(a1, m, MODE);                                   \
                STORE0 STORE1                                                                 \
                CX_COMP_ADD(v0)                                                               \
                CX_COMP_ADD(v1)                                                               \
            }                                                                                 \
        }                                                                                     \
        CX_PRAGMA(omp simd)                                                                   \
        for (int j = 0; j < 16; j++)                                                          \
            lane_acc[j] += ((double)hi[j] - (double)CX_COMP_BASE) + (double)lo[j];            \
    }                                                                                         \
    CX_SUMEXP_16(float, f, CX_EXPM_f, STORE, MODE)
/* the blocks of a row of more than CX_SMALL_K_OF(T) elements, the terms stored in e if given,
   by the exp of MODE (a constant: one copy of the loops per mode) */
#define CX_SUMEXP_BLOCKS(T, BODY, EXPM, MODE)                                                 \
    if (e) {                                                                                  \
        BODY(e[k0 + j] = v_;, e[k0 + j] = v0;, e[k0 + 16 + j] = v1;, MODE)                    \
    } else {                                                                                  \
        BODY(, , , MODE)                                                                      \
    }                                                                                         \
    if (k0 < n) CX_SUMEXP_LAST(T, EXPM, MODE)
/* `fast` (cx_max_*'s answer for the row): the terms by CX_EXP_NORMAL's exp, the same bits */
#define CX_SUMEXP_REST(T, SUF, NAME, BODY, EXPM)                                              \
    CX_INLINE double NAME(const T *x, ptrdiff_t n, T m, T *e, double *count, int fast,        \
                          const T *pf) {                                                      \
        double lane_acc[16], lane_n[16], tail = 0.0, tail_cnt = 0.0;                          \
        cx_lanes_##SUF lane_cnt[16];                                                          \
        ptrdiff_t k0 = 0;                                                                     \
        CX_PRAGMA(omp simd)                                                                   \
        for (int j = 0; j < 16; j++) { lane_acc[j] = 0.0; lane_cnt[j] = CX_LANES0_##SUF; }    \
        if (n > CX_SMALL_K_OF(T) && fast) {                                                   \
            CX_SUMEXP_BLOCKS(T, BODY, EXPM, CX_EXP_NORMAL)                                    \
        } else if (n > CX_SMALL_K_OF(T)) {                                                    \
            CX_SUMEXP_BLOCKS(T, BODY, EXPM, 0)                                                \
        } else { /* the terms by vectors, then summed in order (the tiles' order; e may be x: \
                    stored after the tests) */                                               \
            T t_[CX_SMALL_K];                                                                 \
            CX_PRAGMA(omp simd)                                                               \
            for (ptrdiff_t k = 0; k < n; k++) t_[k] = EXPM(x[k], m, 0);                      \
            for (ptrdiff_t k = 0; k < n; k++) {                                               \
                int c_ = x[k] == m;                                                           \
                if (e) e[k] = t_[k];                                                          \
                tail_cnt += c_;                                                               \
                tail += c_ ? 0.0 : (double)t_[k];                                             \
            }                                                                                 \
        }                                                                                     \
        CX_PRAGMA(omp simd)                                                                   \
        for (int j = 0; j < 16; j++) lane_n[j] = cx_lanes_value_##SUF(lane_cnt[j]);           \
        CX_TREE16(lane_acc, CX_ADDOP)                                                         \
        CX_TREE16(lane_n, CX_ADDOP)                                                           \
        *count = lane_n[0] + tail_cnt;                                                        \
        return lane_acc[0] + tail;                                                            \
    }
CX_SUMEXP_REST(double, d, cx_sumexp_rest_d, CX_SUMEXP_BODY_D, CX_EXPM_d)
CX_SUMEXP_REST(float, f, cx_sumexp_rest_f, CX_SUMEXP_BODY_F, CX_EXPM_f)
CX_SUMEXP_REST(float, f, cx_sumexp_total_f, CX_SUMEXP_BODY_TOTAL_F, CX_EXPM_f)
#undef CX_SUMEXP_REST
#undef CX_SUMEXP_BODY_TOTAL_F
#undef CX_COMP_ADD
/* the shortest row for cx_sumexp_total_f; shorter ones take cx_sumexp_rest_f: below it the
   blocks' setup cost about what the compensated sums saved (benchmarks/row_loops.c, AVX2: K =
   128 2-3 % slower, 160 1 % faster, 192 3 %, 256 5 %) */
#define CX_COMP_MIN_K 192
#undef CX_SUMEXP_BODY_F
#undef CX_SUM_CHUNK
#undef CX_SUMEXP_BODY_D
#undef CX_SUMEXP_LANE
#undef CX_LANE_TERM_d
#undef CX_LANE_TERM_f
#undef CX_SUMEXP_16
#undef CX_SUMEXP_LAST
#undef CX_SUMEXP_LAST_LANES
#undef CX_SUMEXP_LAST_STORE
#undef CX_SUMEXP_BLOCKS
#undef CX_PREFETCH_NEXT


/* g[k] = e[k] * c for k in [0, n) (g may be e).  For float32 the result is the float64 product
   rounded once, within half an ulp (plus about 2^-24 ulp) of the exact product: with hardware FMA
   as fma(e, hi, e * lo) with c split as hi + lo in float32 (no conversion of the elements),
   otherwise by forming the product in float64. */
CX_INLINE double cx_mul1_d(double e, double c) { return e * c; }

/* c as hi + lo in float32 (hi = c rounded, lo = the rest rounded): the factor of cx_mul1_f and
   the subtrahend of cx_logsub1_f, split once per row where a row's elements share it */
CX_INLINE float cx_hi_f(double c) { return (float)c; }
CX_INLINE float cx_lo_f(double c) { return (float)(c - (double)(float)c); }
CX_INLINE float cx_mul_split_f(float e, float hi, float lo) { return fmaf(e, hi, e * lo); }
/* the factors c[r] of n lanes (a tile's rows) split once each: hi[r] + lo[r] */
CX_INLINE void cx_split_lanes_f(const double *c, ptrdiff_t n, float *hi, float *lo) {
    CX_PRAGMA(omp simd)
    for (ptrdiff_t r = 0; r < n; r++) { hi[r] = cx_hi_f(c[r]); lo[r] = cx_lo_f(c[r]); }
}

CX_INLINE float cx_mul1_f(float e, double c) {
#if CX_HAVE_FMA
    return cx_mul_split_f(e, cx_hi_f(c), cx_lo_f(c));
#else
    return (float)((double)e * c);
#endif
}

CX_INLINE void cx_scale_d(const double *e, double *g, ptrdiff_t n, double c) {
    CX_PRAGMA(omp simd)
    for (ptrdiff_t k = 0; k < n; k++) g[k] = cx_mul1_d(e[k], c);
}

CX_INLINE void cx_scale_f(const float *e, float *g, ptrdiff_t n, double c) {
    CX_PRAGMA(omp simd)
    for (ptrdiff_t k = 0; k < n; k++) g[k] = cx_mul1_f(e[k], c);
}

/* o[k] = (x[k] - m) - c for k in [0, n) (o may be x): log_softmax from the shift m and the log
   of the normaliser c.  For float32, in float32 with c split as hi + lo: x - m is exact near
   the maximum, and at most half an ulp of the result off elsewhere (|o| >= |x - m|), so the
   result is within about 1 ulp, and the maximum's own entry is -c rounded once. */
CX_INLINE double cx_logsub1_d(double x, double m, double c) { return (x - m) - c; }

CX_INLINE float cx_logsub_split_f(float x, float m, float hi, float lo) {
    return ((x - m) - hi) - lo;
}
CX_INLINE float cx_logsub1_f(float x, float m, double c) {
    return cx_logsub_split_f(x, m, cx_hi_f(c), cx_lo_f(c));
}

CX_INLINE void cx_logsub_d(const double *x, double *o, ptrdiff_t n, double m, double c) {
    CX_PRAGMA(omp simd)
    for (ptrdiff_t k = 0; k < n; k++) o[k] = cx_logsub1_d(x[k], m, c);
}

CX_INLINE void cx_logsub_f(const float *x, float *o, ptrdiff_t n, float m, double c) {
    CX_PRAGMA(omp simd)
    for (ptrdiff_t k = 0; k < n; k++) o[k] = cx_logsub1_f(x[k], m, c);
}

/* A tile's element v of lane r on its way out of the tile: v, or (c != NULL) v times c[r] as
   cx_mul1_* gives it, the float32 factors split as cx_hi_f(c[r]) + cx_lo_f(c[r]) in hi, lo
   (set with c; read with hardware FMA) */
CX_INLINE double cx_out_d(double v, ptrdiff_t r, const double *c, const float *hi,
                          const float *lo) {
    (void)hi;
    (void)lo;
    return c ? cx_mul1_d(v, c[r]) : v;
}
CX_INLINE float cx_out_f(float v, ptrdiff_t r, const double *c, const float *hi, const float *lo) {
#if CX_HAVE_FMA
    return c ? cx_mul_split_f(v, hi[r], lo[r]) : v;
#else
    (void)hi;
    (void)lo;
    return c ? cx_mul1_f(v, c[r]) : v;
#endif
}

/* d[r * dr + k * dk] = s[r * sr + k * sk] for r < n, k < K, with sk == dr == 1 (rows to a tile)
   or sr == dk == 1 (a tile to rows): a transposing copy, by blocks of 4 rows and W columns with
   vector loads, shuffles and stores where the instruction set has them (4 x 4 floats by SSE on
   every x86-64 CPU, after 8 x 8 blocks of groups of 8 rows in the AVX builds: cx_block8_f;
   4 x 2 doubles by AVX, from 16-byte loads and stores, which cross cache lines less often than
   32-byte ones), element by element for the rows after the last whole group of 4
   and for K < W.  A K that is not a multiple of W ends with a block at column K - W, which copies
   some elements a second time (the same values).  With `stream` (a tile to rows, K a multiple
   of W, d 16-byte aligned: cx_tile_stream_*) the blocks' stores are non-temporal.  With c (a
   tile to rows by ordinary stores: cx_tile_scatter_*) each lane r's elements are multiplied by
   c[r] on their way (cx_out_*, in the blocks' vectors).  With pf (the first row of the next
   tile on the rows' side, all n of whose rows are in the array: the callers pass NULL
   otherwise, never a pointer past the array) each group of rows first fetches the same rows
   of the next tile into the caches (its rows are K elements apart, as the copy's own rows on
   that side): a small-K tile's rows are read or written at a burst, faster than the hardware's
   prefetchers run ahead of them.  Rows to a tile (cx_tile_gather_*; session 20, an Intel Xeon
   with AVX-512, AVX2 build, cross-entropy + gradient from memory: float64 K = 2-33 4-20 %
   faster, float32 within 4 %; softmax float64 4-16 %, float32 0-6 %; a fetch two tiles ahead
   gained nothing more).  A tile to rows (cx_tile_scatter_*, the next tile's output lines, whose
   stores would otherwise each wait for its line to be read; session 25, the same machine, AVX2
   build, 4M elements, benchmarks/ab.py, three runs): cross-entropy + gradient float32 K = 8 /
   16 / 24 / 32 / 48 8-17 / 27-31 / 15 / 9-31 / 13-33 % faster, float64 K = 10 14-22 %; softmax
   float32 K = 8 / 16 / 32 22 / 12 / 4 %, float64 K = 10 12 %; in the caches (131,072 elements)
   -3..+3 %. */
/* o[0..3] stored 16 bytes each at d, d + ds, d + 2 ds, d + 3 ds: by `stream` (non-temporal,
   d 16-byte aligned) when `nt`, else by `store` */
#define CX_PUT4(nt, stream, store, d, ds, o)                                                  \
    for (int i_ = 0; i_ < 4; i_++) {                                                          \
        if (nt)                                                                               \
            stream((d) + i_ * (ds), (o)[i_]);                                                 \
        else                                                                                  \
            store((d) + i_ * (ds), (o)[i_]);                                                  \
    }
#if defined(__AVX__)
#include <immintrin.h>
#define CX_BLOCK_W_D 2
/* tile columns k, k+1 (rows r..r+3, sk apart) -> rows r..r+3 (dr apart), columns k, k+1, by
   ordinary or (stream, d 16-byte aligned) non-temporal stores */
CX_INLINE void cx_block_out_d(const double *s, ptrdiff_t sk, double *d, ptrdiff_t dr,
                              int stream, const double *c) {
    __m256d c0 = _mm256_loadu_pd(s), c1 = _mm256_loadu_pd(s + sk);
    if (c) { /* the rows' factors (cx_out_d) */
        __m256d f = _mm256_loadu_pd(c);
        c0 = _mm256_mul_pd(c0, f);
        c1 = _mm256_mul_pd(c1, f);
    }
    __m256d lo = _mm256_unpacklo_pd(c0, c1), hi = _mm256_unpackhi_pd(c0, c1);
    __m128d o[4];
    o[0] = _mm256_castpd256_pd128(lo);
    o[1] = _mm256_castpd256_pd128(hi);
    o[2] = _mm256_extractf128_pd(lo, 1);
    o[3] = _mm256_extractf128_pd(hi, 1);
    CX_PUT4(stream, _mm_stream_pd, _mm_storeu_pd, d, dr, o)
}
CX_INLINE void cx_block_d(const double *s, ptrdiff_t sr, ptrdiff_t sk, double *d, ptrdiff_t dr,
                          ptrdiff_t dk, int stream, const double *c, const float *hi,
                          const float *lo) {
    (void)hi;
    (void)lo;
    if (sk == 1) { /* rows r..r+3, columns k, k+1 -> tile columns k, k+1 */
        __m256d a0 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(s)),
                                          _mm_loadu_pd(s + 2 * sr), 1);
        __m256d a1 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(s + sr)),
                                          _mm_loadu_pd(s + 3 * sr), 1);
        _mm256_storeu_pd(d, _mm256_unpacklo_pd(a0, a1));
        _mm256_storeu_pd(d + dk, _mm256_unpackhi_pd(a0, a1));
    } else { /* tile columns k, k+1 (rows r..r+3) -> rows r..r+3, columns k, k+1 */
        cx_block_out_d(s, sk, d, dr, stream, c);
    }
}
#elif CX_SSE2
#define CX_BLOCK_W_D 2
/* the SSE2 baseline: the same 4 x 2 blocks as two 2 x 2 ones of 16-byte vectors, by ordinary
   stores (CX_STREAM is 0 without AVX).  Element by element before: callgrind, cross-entropy +
   gradient, 1M float64 elements, K = 10, the tile copies 6.25 -> 5.45 million instructions;
   benchmarks/ab.py, 4M elements, softmax K = 10 / 32 16 / 6 % faster. */
CX_INLINE void cx_block_d(const double *s, ptrdiff_t sr, ptrdiff_t sk, double *d, ptrdiff_t dr,
                          ptrdiff_t dk, int stream, const double *c, const float *hi,
                          const float *lo) {
    (void)hi;
    (void)lo;
    (void)stream;
    for (int i = 0; i < 4; i += 2) {
        if (sk == 1) { /* rows r+i, r+i+1, columns k, k+1 -> tile columns k, k+1 */
            __m128d a0 = _mm_loadu_pd(s + i * sr), a1 = _mm_loadu_pd(s + (i + 1) * sr);
            _mm_storeu_pd(d + i, _mm_unpacklo_pd(a0, a1));
            _mm_storeu_pd(d + dk + i, _mm_unpackhi_pd(a0, a1));
        } else { /* tile columns k, k+1 (rows r+i, r+i+1) -> those rows, columns k, k+1 */
            __m128d c0 = _mm_loadu_pd(s + i), c1 = _mm_loadu_pd(s + sk + i);
            if (c) { /* the rows' factors (cx_out_d) */
                __m128d f = _mm_loadu_pd(c + i);
                c0 = _mm_mul_pd(c0, f);
                c1 = _mm_mul_pd(c1, f);
            }
            _mm_storeu_pd(d + i * dr, _mm_unpacklo_pd(c0, c1));
            _mm_storeu_pd(d + (i + 1) * dr, _mm_unpackhi_pd(c0, c1));
        }
    }
}
#else
#define CX_BLOCK_W_D 0
#define cx_block_d(s, sr, sk, d, dr, dk, stream, c, hi, lo) /* never called: W == 0 */         \
    ((void)(stream), (void)(c), (void)(hi), (void)(lo))
#endif
#if CX_SSE2
#define CX_BLOCK_W_F 4
/* cx_mul1_f of 4 lanes: a times c[0..3], as hi + lo in float32 with hardware FMA (cx_out_f) */
CX_INLINE __m128 cx_mul4_f(__m128 a, const double *c, const float *hi, const float *lo) {
#if CX_HAVE_FMA /* an x86 FMA build (SSE2 here): AVX and immintrin.h too */
    (void)c;
    return _mm_fmadd_ps(a, _mm_loadu_ps(hi), _mm_mul_ps(a, _mm_loadu_ps(lo)));
#else
    (void)hi;
    (void)lo;
    __m128d l = _mm_mul_pd(_mm_cvtps_pd(a), _mm_loadu_pd(c));
    __m128d h = _mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(a, a)), _mm_loadu_pd(c + 2));
    return _mm_movelh_ps(_mm_cvtpd_ps(l), _mm_cvtpd_ps(h));
#endif
}
/* a 4 x 4 transpose: 4 contiguous source vectors ss apart, 4 destination ds apart, by ordinary
   or (stream, d 16-byte aligned) non-temporal stores */
CX_INLINE void cx_block4_f(const float *s, ptrdiff_t ss, float *d, ptrdiff_t ds, int stream,
                           const double *c, const float *hi, const float *lo) {
    __m128 a0 = _mm_loadu_ps(s), a1 = _mm_loadu_ps(s + ss);
    __m128 a2 = _mm_loadu_ps(s + 2 * ss), a3 = _mm_loadu_ps(s + 3 * ss);
    if (c) { /* tile columns of 4 lanes: times the lanes' factors (cx_out_f) */
        a0 = cx_mul4_f(a0, c, hi, lo);
        a1 = cx_mul4_f(a1, c, hi, lo);
        a2 = cx_mul4_f(a2, c, hi, lo);
        a3 = cx_mul4_f(a3, c, hi, lo);
    }
    __m128 b0 = _mm_unpacklo_ps(a0, a1), b1 = _mm_unpackhi_ps(a0, a1);
    __m128 b2 = _mm_unpacklo_ps(a2, a3), b3 = _mm_unpackhi_ps(a2, a3);
    __m128 o[4];
    o[0] = _mm_movelh_ps(b0, b2);
    o[1] = _mm_movehl_ps(b2, b0);
    o[2] = _mm_movelh_ps(b1, b3);
    o[3] = _mm_movehl_ps(b3, b1);
    CX_PUT4(stream, _mm_stream_ps, _mm_storeu_ps, d, ds, o)
}
CX_INLINE void cx_block_f(const float *s, ptrdiff_t sr, ptrdiff_t sk, float *d, ptrdiff_t dr,
                          ptrdiff_t dk, int stream, const double *c, const float *hi,
                          const float *lo) {
    /* either way: rows to a tile (sk == 1) or a tile to rows (the only way with c) */
    cx_block4_f(s, sk == 1 ? sr : sk, d, sk == 1 ? dk : dr, stream, c, hi, lo);
}
#else
#define CX_BLOCK_W_F 0
#define cx_block_f(s, sr, sk, d, dr, dk, stream, c, hi, lo) /* never called: W == 0 */         \
    ((void)(stream), (void)(c), (void)(hi), (void)(lo))
#endif
/* In the AVX builds (which have FMA), floats also by 8 x 8 blocks (groups of 8 rows, K >= 8,
   ordinary stores) before the 4 x 4 ones: 32-byte vectors and, per element, 3 shuffles instead
   of 4; the factors (cx_out_f's split product) multiply 8 lanes at a time, the same products.
   callgrind, cross-entropy + gradient over 4M elements, AVX2 build: float32 K = 8 / 10 / 16 /
   48 85.4 / 77.8 / 59.7 / 44.2 -> 79.6 / 73.9 / 54.5 / 40.4 million instructions (K = 4
   unchanged).  benchmarks/ab.py (4M elements, reused outputs, min of 15 rounds): AVX2 K = 16 /
   24 / 33 / 48 7 / 5 / 12 / 6 % faster, K = 8-12 -4..+4 % in three runs (in the caches, 8,192
   rows: K = 8 the same, K = 10 / 16 2-5 % faster); new outputs K = 16 13 %; AVX-512 K = 8 / 16
   / 33 / 48 4 / 4 / 4 / 10 %; log_softmax K = 8 / 40 within 3 %, softmax K = 16 12 %. */
#define CX_BLOCK8_d 0
#define cx_block8_d(s, sr, sk, d, dr, dk, stream, c, hi, lo) /* never called */               \
    ((void)(stream), (void)(c), (void)(hi), (void)(lo))
#if defined(__AVX__) && CX_HAVE_FMA
#define CX_BLOCK8_f 1
CX_INLINE __m256 cx_mul8_f(__m256 a, const float *hi, const float *lo) {
    return _mm256_fmadd_ps(a, _mm256_loadu_ps(hi), _mm256_mul_ps(a, _mm256_loadu_ps(lo)));
}
/* an 8 x 8 transpose, as cx_block_f (ordinary stores only): 8 source vectors ss apart to 8
   destination vectors ds apart; with c each source vector (a tile column of 8 lanes) times the
   lanes' factors first */
CX_INLINE void cx_block8_f(const float *s, ptrdiff_t sr, ptrdiff_t sk, float *d, ptrdiff_t dr,
                           ptrdiff_t dk, int stream, const double *c, const float *hi,
                           const float *lo) {
    ptrdiff_t ss = sk == 1 ? sr : sk, ds = sk == 1 ? dk : dr;
    __m256 a[8], t[8];
    (void)stream;
    for (int i = 0; i < 8; i++) {
        a[i] = _mm256_loadu_ps(s + i * ss);
        if (c) a[i] = cx_mul8_f(a[i], hi, lo);
    }
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(a[i], a[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(a[i], a[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        a[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        a[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
        a[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        a[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(d + i * ds, _mm256_permute2f128_ps(a[i], a[i + 4], 0x20));
        _mm256_storeu_ps(d + (i + 4) * ds, _mm256_permute2f128_ps(a[i], a[i + 4], 0x31));
    }
}
#else
#define CX_BLOCK8_f 0
#define cx_block8_f cx_block8_d
#endif
/* groups of R rows from r by BLOCK's blocks of W columns (the last at column K - W) */
#define CX_ROW_GROUPS(T, R, W, BLOCK)                                                         \
    for (; r + (R) <= n; r += (R)) {                                                          \
        const double *cr = c ? c + r : NULL;                                                  \
        const float *hr = hi ? hi + r : NULL, *lr = lo ? lo + r : NULL;                       \
        if (pf) cx_prefetch_bytes(pf + r * K, (R) * K * (ptrdiff_t)sizeof(T));                \
        for (ptrdiff_t k = 0; k + (W) <= K; k += (W))                                         \
            BLOCK(s + r * sr + k * sk, sr, sk, d + r * dr + k * dk, dr, dk, stream, cr, hr,   \
                  lr);                                                                        \
        if (K % ((W) ? (W) : 1))                                                              \
            BLOCK(s + r * sr + (K - (W)) * sk, sr, sk, d + r * dr + (K - (W)) * dk, dr, dk,   \
                  stream, cr, hr, lr);                                                        \
    }
#define CX_TRANSPOSE(T, SUF, W)                                                               \
    CX_INLINE void cx_transpose_##SUF(const T *s, ptrdiff_t sr, ptrdiff_t sk, T *d,            \
                                      ptrdiff_t dr, ptrdiff_t dk, ptrdiff_t n, ptrdiff_t K,    \
                                      int stream, const T *pf, const double *c,               \
                                      const float *hi, const float *lo) {                     \
        ptrdiff_t r = 0;                                                                      \
        if (CX_BLOCK8_##SUF && !stream && K >= 8) CX_ROW_GROUPS(T, 8, 8, cx_block8_##SUF)     \
        if (W && K >= W) CX_ROW_GROUPS(T, 4, W, cx_block_##SUF)                               \
        for (; r < n; r++)                                                                    \
            for (ptrdiff_t k = 0; k < K; k++)                                                 \
                d[r * dr + k * dk] = cx_out_##SUF(s[r * sr + k * sk], r, c, hi, lo);          \
    }
CX_TRANSPOSE(double, d, CX_BLOCK_W_D)
CX_TRANSPOSE(float, f, CX_BLOCK_W_F)
#undef CX_TRANSPOSE
#undef CX_ROW_GROUPS

/* Transposed copies between rows and a small-K tile (tile[k * CX_TILE + r] = row r's k-th
   element), for rows with unit element stride at offsets off[r]; run says that they follow each
   other K elements apart (rows of a C-contiguous array): then the copy is cx_transpose's blocks
   of vector loads, shuffles and stores.  With K a compile-time constant
   (one case per K up to CX_SMALL_K) the copies run near memory speed; a runtime K leaves the
   compiler a loop it vectorizes badly.  Not forced inline: one copy of the 2 x 32 cases per
   module, not one in every kernel (a call per tile costs nothing; the build time does).  Tiles
   of 32 rows: measured faster than 64 or 128, on par with 16. */
#define CX_TILE 32

/* The same two operations on a small-K tile's columns k < K with a factor per lane r < n:
   et[k * CX_TILE + r] *= c[r] (softmax, gradients), o[k * CX_TILE + r] =
   (xt[k * CX_TILE + r] - m[r]) - c[r] (log_softmax).  For float32 the factor is split into
   hi + lo once per row, not once per element (the same values). */
/* A gradient tile's label entries: gy[r] at row r's class, k == lab[r] (rows with lab[r] < 0
   keep theirs), one select per element (cx_tile_put_*, and cx_tile_scale_* given lab).  A
   function, so that both operands are loaded unconditionally: `lab[r] == k ? gy[r] : e[r]`
   written in the loop made GCC load gy by masked loads (vmaskmovpd), the mask computed twice. */
CX_INLINE double cx_put1_d(double e, ptrdiff_t lab, ptrdiff_t k, double gy) {
    return lab == k ? gy : e;
}
CX_INLINE float cx_put1_f(float e, ptrdiff_t lab, ptrdiff_t k, float gy) {
    return lab == k ? gy : e;
}

/* cx_tile_scale_* with lab != NULL puts the label entries gy[r] in the same pass, in place of
   the products (cx_tile_put_*'s entries; a gradient tile copied out by non-temporal stores):
   one pass over the tile fewer.  callgrind, cross-entropy + gradient streamed (AVX2 build, 1M
   elements): float64 K = 16 / 24 22.49 / 21.49 -> 20.74 / 19.73 million instructions, float32
   K = 32 13.73 -> 12.68 (the same in the AVX-512 build); the time within this Xeon's noise,
   where those outputs wait for the memory (benchmarks/ab.py, float64 K = 16-40, 4M elements,
   two runs: -10..+8 %, most 2-7 % faster).  Outputs stream only above the L3's size since. */
#define CX_TILE_SCALE_LOOP(T, SUF, PRODUCT)                                                   \
    for (ptrdiff_t k = 0; k < K; k++) {                                                       \
        T *e = et + k * CX_TILE;                                                              \
        if (lab) {                                                                            \
            CX_PRAGMA(omp simd)                                                               \
            for (ptrdiff_t r = 0; r < n; r++)                                                 \
                e[r] = cx_put1_##SUF(PRODUCT, lab[r], k, (T)gy[r]);                           \
        } else {                                                                              \
            CX_PRAGMA(omp simd)                                                               \
            for (ptrdiff_t r = 0; r < n; r++) e[r] = PRODUCT;                                 \
        }                                                                                     \
    }

CX_INLINE void cx_tile_scale_d(double *et, const double *c, ptrdiff_t n, ptrdiff_t K,
                               const ptrdiff_t *lab, const double *gy) {
    CX_TILE_SCALE_LOOP(double, d, cx_mul1_d(e[r], c[r]))
}

CX_INLINE void cx_tile_scale_f(float *et, const double *c, ptrdiff_t n, ptrdiff_t K,
                               const ptrdiff_t *lab, const double *gy) {
#if CX_HAVE_FMA
    float hi[CX_TILE], lo[CX_TILE];
    cx_split_lanes_f(c, n, hi, lo);
    CX_TILE_SCALE_LOOP(float, f, cx_mul_split_f(e[r], hi[r], lo[r]))
#else
    CX_TILE_SCALE_LOOP(float, f, cx_mul1_f(e[r], c[r]))
#endif
}
#undef CX_TILE_SCALE_LOOP

CX_INLINE void cx_tile_logsub_d(const double *xt, double *o, const double *m, const double *c,
                                ptrdiff_t n, ptrdiff_t K) {
    for (ptrdiff_t k = 0; k < K; k++) {
        CX_PRAGMA(omp simd)
        for (ptrdiff_t r = 0; r < n; r++)
            o[k * CX_TILE + r] = cx_logsub1_d(xt[k * CX_TILE + r], m[r], c[r]);
    }
}

CX_INLINE void cx_tile_logsub_f(const float *xt, float *o, const float *m, const double *c,
                                ptrdiff_t n, ptrdiff_t K) {
    float hi[CX_TILE], lo[CX_TILE];
    cx_split_lanes_f(c, n, hi, lo);
    for (ptrdiff_t k = 0; k < K; k++) {
        CX_PRAGMA(omp simd)
        for (ptrdiff_t r = 0; r < n; r++)
            o[k * CX_TILE + r] = cx_logsub_split_f(xt[k * CX_TILE + r], m[r], hi[r], lo[r]);
    }
}

#define CX_TILE_COPIES(T, SUF)                                                                \
    static void cx_tile_gather_##SUF(const T *x, const ptrdiff_t *off, ptrdiff_t n,           \
                                     ptrdiff_t K, T *tile, int run, ptrdiff_t npf) {          \
        switch (K) {                                                                          \
            CX_TILE_CASES(CX_GATHER_CASE, SUF)                                                     \
            default:                                                                          \
                for (ptrdiff_t r = 0; r < n; r++)                                             \
                    for (ptrdiff_t k = 0; k < K; k++) tile[k * CX_TILE + r] = x[off[r] + k];  \
        }                                                                                     \
    }                                                                                         \
    static void cx_tile_scatter_##SUF(const T *tile, ptrdiff_t n, ptrdiff_t K, T *g,          \
                                      const ptrdiff_t *off, int run, const double *c,         \
                                      ptrdiff_t npf) {                                        \
        float hi[CX_TILE], lo[CX_TILE]; /* c split, for float32 with hardware FMA */          \
        if (c && sizeof(T) == 4 && CX_HAVE_FMA) cx_split_lanes_f(c, n, hi, lo);              \
        switch (K) {                                                                          \
            CX_TILE_CASES(CX_SCATTER_CASE, SUF)                                                    \
            default:                                                                          \
                for (ptrdiff_t r = 0; r < n; r++)                                             \
                    for (ptrdiff_t k = 0; k < K; k++)                                         \
                        g[off[r] + k] = cx_out_##SUF(tile[k * CX_TILE + r], r, c, hi, lo);    \
        }                                                                                     \
    }
#define CX_GATHER_CASE(KK, SUF)                                                               \
    case KK:                                                                                  \
        if (run) {                                                                            \
            cx_transpose_##SUF(x + off[0], KK, 1, tile, 1, CX_TILE, n, KK, 0,                 \
                               npf >= n ? x + off[0] + n * KK : NULL, NULL, NULL, NULL);      \
            return;                                                                           \
        }                                                                                     \
        for (ptrdiff_t r = 0; r < n; r++)                                                     \
            for (int k = 0; k < KK; k++) tile[k * CX_TILE + r] = x[off[r] + k];               \
        return;
#define CX_SCATTER_CASE(KK, SUF)                                                              \
    case KK:                                                                                  \
        if (run) {                                                                            \
            cx_transpose_##SUF(tile, 1, CX_TILE, g + off[0], KK, 1, n, KK, 0,                 \
                               npf >= n ? g + off[0] + n * KK : NULL, c, hi, lo);             \
            return;                                                                           \
        }                                                                                     \
        for (ptrdiff_t r = 0; r < n; r++)                                                     \
            for (int k = 0; k < KK; k++)                                                      \
                g[off[r] + k] = cx_out_##SUF(tile[k * CX_TILE + r], r, c, hi, lo);            \
        return;
#define CX_TILE_CASES(C, S) C(1, S) C(2, S) C(3, S) C(4, S) C(5, S) C(6, S) C(7, S) C(8, S)      \
    C(9, S) C(10, S) C(11, S) C(12, S) C(13, S) C(14, S) C(15, S) C(16, S) C(17, S) C(18, S)     \
    C(19, S) C(20, S) C(21, S) C(22, S) C(23, S) C(24, S) C(25, S) C(26, S) C(27, S) C(28, S)    \
    C(29, S) C(30, S) C(31, S) C(32, S) C(33, S) C(34, S) C(35, S) C(36, S) C(37, S) C(38, S)    \
    C(39, S) C(40, S) CX_TILE_CASES_##S(C, S)
/* one case per K to the type's tile limit (CX_SMALL_K_OF; a larger K would take the default's
   loops, slower) */
#if CX_SMALL_K_D != 40 || CX_SMALL_K_F != 64
#error "the tile copies' cases end at CX_SMALL_K_D and CX_SMALL_K_F"
#endif
#define CX_TILE_CASES_d(C, S)
#define CX_TILE_CASES_f(C, S) C(41, S) C(42, S) C(43, S) C(44, S) C(45, S) C(46, S) C(47, S)      \
    C(48, S) C(49, S) C(50, S) C(51, S) C(52, S) C(53, S) C(54, S) C(55, S) C(56, S) C(57, S)    \
    C(58, S) C(59, S) C(60, S) C(61, S) C(62, S) C(63, S) C(64, S)
CX_TILE_COPIES(double, d)
CX_TILE_COPIES(float, f)
#undef CX_TILE_COPIES
#undef CX_GATHER_CASE
#undef CX_SCATTER_CASE
#undef CX_TILE_CASES
#undef CX_TILE_CASES_d
#undef CX_TILE_CASES_f

/* The label entries of a gradient tile put in place: et[k * CX_TILE + r] = gy[r] for
   k == lab[r] (rows with lab[r] < 0 keep theirs), one select per element, for a tile that is
   copied out by cx_tile_stream_* (entries written into the rows after such a copy would read
   their cache lines back from memory) after label smoothing's pass; without smoothing
   cx_tile_scale_* puts them in its own pass. */
#define CX_TILE_PUT(T, SUF)                                                                   \
    CX_INLINE void cx_tile_put_##SUF(T *et, const ptrdiff_t *lab, const double *gy,           \
                                     ptrdiff_t n, ptrdiff_t K) {                              \
        for (ptrdiff_t k = 0; k < K; k++) {                                                   \
            T *e = et + k * CX_TILE;                                                          \
            CX_PRAGMA(omp simd)                                                               \
            for (ptrdiff_t r = 0; r < n; r++) e[r] = cx_put1_##SUF(e[r], lab[r], k, (T)gy[r]); \
        }                                                                                     \
    }
CX_TILE_PUT(double, d)
CX_TILE_PUT(float, f)
#undef CX_TILE_PUT

/* cx_tile_scatter_*'s copy of a tile to rows that follow each other (run), by non-temporal
   stores: they write whole cache lines without reading them from memory first, and leave the
   caches to other data, for outputs much larger than the caches (the callers decide).  The
   stores are 16 bytes and aligned, straight from the tile's transposed blocks: for K a multiple
   of 2 doubles / 4 floats with g 16-byte aligned, every row's (the rows after the last whole
   group of 4, in a block's last tile, by ordinary stores); for float64 rows of odd K with g
   8-byte aligned, by pairs of rows (cx_stream_odd_d).  The caller ends its loop over tiles with
   cx_stream_fence(), so that the rows are in memory, as after ordinary stores, before anything
   that follows (a fence after every tile cost 9-16 % at K = 2-10: it waits for the memory).
   cx_tile_can_stream_* says when: only in the AVX builds, for rows of CX_STREAM_ROW_BYTES or
   more that allow the aligned stores (float32 K not a multiple of 4, and outputs not so
   aligned, keep ordinary stores).  Measured (one thread, from memory): slower streamed were
   shorter rows (AVX2 build, cross-entropy + gradient: float64 K = 2-10 2-17 %, float32 K = 8-24
   3-7 %) and the SSE2 baseline build (float32 K = 32-40 13 %), where the arithmetic, not
   memory, sets the pace; faster were rows of 128 bytes and more in the AVX2 build (float64
   K = 16-40 5-18 %, float32 K = 32-40 3-15 %; softmax 14-24 % at K = 24-40) and in the AVX-512
   build (cross-entropy 10-25 %).  Odd K by pairs of rows, against ordinary stores or the stage
   it replaced: cross-entropy float64 K = 19-39 4-18 % faster, K = 17 3-5 %; softmax K = 19-39
   7-23 % faster, K = 17 3-5 % slower (K = 17 no longer streams: below).  The stage (the rows
   copied into a contiguous buffer in L1, streamed from there) was slower than ordinary stores
   for rows under 256 bytes (float64 K = 17 3 %, float32 K = 33-38 1-7 %). */
#define CX_STREAM_ROW_BYTES 128
/* float64 rows of odd K stream from K = 19.  At K = 17 (136 bytes) the pairs of rows gained
   3-5 % (cross-entropy) and lost 3-5 % (softmax) on the EPYC with AVX-512, and on an Intel Xeon
   (session 20) cross-entropy + gradient lost 11-16 % in the AVX2 build (4M and 16M elements)
   and 20 % in the AVX-512 build; by ordinary stores there K = 17 is 15-29 % faster in both
   builds (cross-entropy into a reused or a new output, softmax), K = 16 and 19 unchanged.  The
   benchmark's K = 17 cost more per element than K = 16 on both EPYCs too.  K = 19-39 gain on
   the Intel Xeon as well (3-8 %; K = 25 loses 5-9 %, kept for one rule). */
#define CX_STREAM_ODD_ROW_BYTES 144
#if defined(__AVX__)
#define CX_STREAM 1
/* Elements [i0, i1) of a tile's rows taken as one run (element i = r K + k, tile[k CX_TILE +
   r]) to g + i by aligned 16-byte non-temporal stores: g + i0 16-byte aligned, i1 - i0 even. */
CX_INLINE void cx_stream_run_d(const double *tile, ptrdiff_t K, double *g, ptrdiff_t i0,
                               ptrdiff_t i1) {
    ptrdiff_t r = i0 / K, k = i0 % K;
    for (ptrdiff_t i = i0; i < i1; i += 2) {
        double v0 = tile[k * CX_TILE + r];
        if (++k == K) { k = 0; r++; }
        double v1 = tile[k * CX_TILE + r];
        if (++k == K) { k = 0; r++; }
        _mm_stream_pd(g + i, _mm_set_pd(v1, v0));
    }
}
/* A tile of odd K to its n rows at g (8-byte aligned) by aligned 16-byte non-temporal stores:
   two rows of odd K are an even number of doubles, so with an even row 16-byte aligned its
   pairs of columns (k, k + 1) are aligned, the next row's (k + 1, k + 2), and the pair across
   the two rows (K - 1 of the first, 0 of the second) too.  4 rows at a time from the tile's
   columns k, k + 1, k + 2, from the first row that starts aligned; the rows before and after
   them element pair by element pair (cx_stream_run_d), and an element at either end of the
   tile's rows that has no aligned pair (g not 16-byte aligned; n K odd) by an ordinary store. */
CX_INLINE void cx_stream_odd_d(const double *tile, ptrdiff_t n, ptrdiff_t K, double *g) {
    ptrdiff_t r0 = (uintptr_t)g % 16 ? 1 : 0, r = r0, end = n * K;
    if (n == 0) return;
    if (r0) { /* row 0 starts 8 bytes past alignment: the next row starts aligned */
        g[0] = tile[0];
        cx_stream_run_d(tile, K, g, 1, K);
    }
    for (; r + 4 <= n; r += 4) {
        const double *t = tile + r;
        double *d0 = g + r * K, *d1 = d0 + K, *d2 = d1 + K, *d3 = d2 + K;
        __m256d first = _mm256_loadu_pd(t), a = first;
        for (ptrdiff_t k = 0; k + 2 < K; k += 2) {
            __m256d b = _mm256_loadu_pd(t + (k + 1) * CX_TILE);
            __m256d c = _mm256_loadu_pd(t + (k + 2) * CX_TILE);
            __m256d ev = _mm256_unpacklo_pd(a, b); /* rows r, r + 2: columns k, k + 1 */
            __m256d od = _mm256_unpackhi_pd(b, c); /* rows r + 1, r + 3: columns k + 1, k + 2 */
            _mm_stream_pd(d0 + k, _mm256_castpd256_pd128(ev));
            _mm_stream_pd(d2 + k, _mm256_extractf128_pd(ev, 1));
            _mm_stream_pd(d1 + k + 1, _mm256_castpd256_pd128(od));
            _mm_stream_pd(d3 + k + 1, _mm256_extractf128_pd(od, 1));
            a = c;
        }
        /* a is column K - 1: (row r, K - 1; row r + 1, 0) and (row r + 2, K - 1; row r + 3, 0) */
        a = _mm256_shuffle_pd(a, first, 0xA);
        _mm_stream_pd(d0 + K - 1, _mm256_castpd256_pd128(a));
        _mm_stream_pd(d2 + K - 1, _mm256_extractf128_pd(a, 1));
    }
    /* the rows after the last group of 4 (they start aligned) */
    cx_stream_run_d(tile, K, g, r * K, r * K + (end - r * K) / 2 * 2);
    if ((end - r * K) % 2) g[end - 1] = tile[(K - 1) * CX_TILE + n - 1];
}
CX_INLINE void cx_stream_fence(void) { _mm_sfence(); }
#else
#define CX_STREAM 0
CX_INLINE void cx_stream_fence(void) {}
#endif
CX_INLINE int cx_tile_can_stream_d(const double *g, ptrdiff_t K) {
    return CX_STREAM && K * 8 >= (K % 2 ? CX_STREAM_ODD_ROW_BYTES : CX_STREAM_ROW_BYTES) &&
           (uintptr_t)g % (K % 2 ? 8 : 16) == 0;
}
/* float32 rows of more than 40 classes (the tiles take them to 48 since session 21) keep
   ordinary stores: streamed, K = 44 / 48 took 1.35-1.36 ns per element against 1.05-1.12 at
   K = 45-47 by ordinary stores (AVX2 build on an Intel Xeon, benchmarks/ab.py, 4M elements);
   at K = 32-40 the EPYCs measured streaming faster, not measured there for 44-48 */
#define CX_STREAM_MAX_K_F 40
CX_INLINE int cx_tile_can_stream_f(const float *g, ptrdiff_t K) {
    return CX_STREAM && K * 4 >= CX_STREAM_ROW_BYTES && K <= CX_STREAM_MAX_K_F && K % 4 == 0 &&
           (uintptr_t)g % 16 == 0;
}
#define CX_TILE_STREAM(T, SUF, OTHER)                                                         \
    static void cx_tile_stream_##SUF(const T *tile, ptrdiff_t n, ptrdiff_t K, T *g) {         \
        switch (K) { /* one case per K up to CX_SMALL_K, unrolled as the plain copies */       \
            CX_STREAM_CASES_##SUF                                                             \
            default:                                                                          \
                OTHER;                                                                        \
        }                                                                                     \
    }
#define CX_STREAM_CASE(KK, SUF)                                                               \
    case KK:                                                                                  \
        cx_transpose_##SUF(tile, 1, CX_TILE, g, KK, 1, n, KK, 1, NULL, NULL, NULL, NULL);     \
        return;
#define CX_STREAM_CASES_d                                                                     \
    CX_STREAM_CASE(16, d) CX_STREAM_CASE(18, d) CX_STREAM_CASE(20, d) CX_STREAM_CASE(22, d)    \
    CX_STREAM_CASE(24, d) CX_STREAM_CASE(26, d) CX_STREAM_CASE(28, d) CX_STREAM_CASE(30, d)    \
    CX_STREAM_CASE(32, d) CX_STREAM_CASE(34, d) CX_STREAM_CASE(36, d) CX_STREAM_CASE(38, d)    \
    CX_STREAM_CASE(40, d)
#define CX_STREAM_CASES_f CX_STREAM_CASE(32, f) CX_STREAM_CASE(36, f) CX_STREAM_CASE(40, f)
#if CX_STREAM
CX_TILE_STREAM(double, d,
               if (K % 2) cx_stream_odd_d(tile, n, K, g);
               else cx_transpose_d(tile, 1, CX_TILE, g, K, 1, n, K, 1, NULL, NULL, NULL, NULL))
CX_TILE_STREAM(float, f,
               cx_transpose_f(tile, 1, CX_TILE, g, K, 1, n, K, 1, NULL, NULL, NULL, NULL))
#else /* never called: cx_tile_can_stream_* is 0 */
#define cx_tile_stream_d(tile, n, K, g) ((void)0)
#define cx_tile_stream_f(tile, n, K, g) ((void)0)
#endif
#undef CX_STREAM_CASE
#undef CX_STREAM_CASES_d
#undef CX_STREAM_CASES_f
#undef CX_TILE_STREAM
#undef CX_PUT4

#endif
