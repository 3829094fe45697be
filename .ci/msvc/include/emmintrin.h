/* Stand-in for MSVC's <emmintrin.h> in the MSVC-mode syntax check (.ci/msvc-syntax): the type
   and the prototypes Microsoft documents for the SSE intrinsics cxent uses (clang's own header
   does not parse in MSVC mode with MinGW's headers). */
#pragma once
typedef union __declspec(align(16)) __m128 {
    float m128_f32[4];
    unsigned __int64 m128_u64[2];
} __m128;
typedef struct __declspec(align(16)) __m128d {
    double m128d_f64[2];
} __m128d;
__m128 _mm_loadu_ps(float const *p);
void _mm_storeu_ps(float *p, __m128 a);
__m128 _mm_unpacklo_ps(__m128 a, __m128 b);
__m128 _mm_unpackhi_ps(__m128 a, __m128 b);
__m128 _mm_movelh_ps(__m128 a, __m128 b);
__m128 _mm_movehl_ps(__m128 a, __m128 b);
void _mm_stream_ps(float *p, __m128 a);
__m128d _mm_loadu_pd(double const *p);
__m128d _mm_mul_pd(__m128d a, __m128d b);
__m128d _mm_unpacklo_pd(__m128d a, __m128d b);
__m128d _mm_unpackhi_pd(__m128d a, __m128d b);
void _mm_storeu_pd(double *p, __m128d a);
__m128d _mm_cvtps_pd(__m128 a);
__m128 _mm_cvtpd_ps(__m128d a);
void _mm_sfence(void);
#define _MM_HINT_T0 1
void _mm_prefetch(char const *p, int i);
