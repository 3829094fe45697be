/* Stand-in for MSVC's <emmintrin.h> in the MSVC-mode syntax check (.ci/msvc-syntax): the type
   and the prototypes Microsoft documents for the SSE intrinsics cxent uses (clang's own header
   does not parse in MSVC mode with MinGW's headers). */
#pragma once
typedef union __declspec(align(16)) __m128 {
    float m128_f32[4];
    unsigned __int64 m128_u64[2];
} __m128;
__m128 _mm_loadu_ps(float const *p);
void _mm_storeu_ps(float *p, __m128 a);
__m128 _mm_unpacklo_ps(__m128 a, __m128 b);
__m128 _mm_unpackhi_ps(__m128 a, __m128 b);
__m128 _mm_movelh_ps(__m128 a, __m128 b);
__m128 _mm_movehl_ps(__m128 a, __m128 b);
void _mm_stream_ps(float *p, __m128 a);
void _mm_sfence(void);
#define _MM_HINT_T0 1
void _mm_prefetch(char const *p, int i);
