/* Stand-in for MSVC's <immintrin.h> in the MSVC-mode syntax check (.ci/msvc-syntax, its AVX
   pass): the types and the prototypes Microsoft documents for the AVX intrinsics cxent uses. */
#pragma once
#include <emmintrin.h>
typedef struct __declspec(align(32)) __m256d {
    double m256d_f64[4];
} __m256d;
__m128d _mm_set_pd(double e1, double e0);
void _mm_storeu_pd(double *p, __m128d a);
__m256d _mm256_loadu_pd(double const *p);
void _mm256_storeu_pd(double *p, __m256d a);
__m256d _mm256_castpd128_pd256(__m128d a);
__m128d _mm256_castpd256_pd128(__m256d a);
__m256d _mm256_insertf128_pd(__m256d a, __m128d b, int imm);
__m128d _mm256_extractf128_pd(__m256d a, int imm);
__m256d _mm256_unpacklo_pd(__m256d a, __m256d b);
__m256d _mm256_unpackhi_pd(__m256d a, __m256d b);
__m256d _mm256_mul_pd(__m256d a, __m256d b);
__m256d _mm256_shuffle_pd(__m256d a, __m256d b, const int imm);
void _mm_stream_pd(double *p, __m128d a);
