/* Platform shims for cxent's kernels: OpenMP when the build has it, CPU features.
 *
 * The extension is compiled with OpenMP when the compiler supports it (setup.py probes for it) and
 * serially otherwise; Cython's prange then degrades to a plain loop.  This header gives the kernels
 * the few runtime calls they need in both cases, so the .pyx never has to know which build it is.
 */
#ifndef CXENT_PLATFORM_H
#define CXENT_PLATFORM_H

#ifdef _OPENMP
#include <omp.h>
#define CX_HAVE_OPENMP 1
#define CX_OPENMP_VERSION _OPENMP
static inline int cx_omp_max_threads(void) { return omp_get_max_threads(); }
#else
#define CX_HAVE_OPENMP 0
#define CX_OPENMP_VERSION 0
static inline int cx_omp_max_threads(void) { return 1; }
#endif

/* Path of the shared library that provides this module's OpenMP runtime (the one the dynamic
   linker bound omp_get_max_threads to: the bundled copy in a repaired wheel), or "" */
#if defined(_OPENMP) && (defined(__linux__) || defined(__APPLE__))
#include <dlfcn.h>
static inline const char *cx_omp_runtime_path(void) {
    Dl_info info;
    if (dladdr((void *)&omp_get_max_threads, &info) && info.dli_fname) return info.dli_fname;
    return "";
}
#elif defined(_OPENMP) && defined(_WIN32)
#include <windows.h>
static inline const char *cx_omp_runtime_path(void) {
    static char path[1024];
    HMODULE mod = NULL;
    if (GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS
                           | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                           (LPCSTR)&omp_get_max_threads, &mod)
        && GetModuleFileNameA(mod, path, sizeof path))
        return path;
    return "";
}
#else
static inline const char *cx_omp_runtime_path(void) { return ""; }
#endif

/* Fork safety.  GNU libgomp keeps its thread pool across fork() but not the threads: a child
   that enters a parallel region after its parent ran one hangs.  A handler registered with
   pthread_atfork marks the child, and the kernels then run serially there (and in its
   children); the parent is unaffected. */
#if defined(_OPENMP) && !defined(_WIN32)
#include <pthread.h>
static volatile int cx_forked = 0;
static void cx_on_fork_child(void) { cx_forked = 1; }
static inline int cx_install_fork_handler(void) {
    return pthread_atfork(NULL, NULL, cx_on_fork_child);
}
static inline int cx_in_forked_child(void) { return cx_forked; }
#else
static inline int cx_install_fork_handler(void) { return 0; }
static inline int cx_in_forked_child(void) { return 0; }
#endif

/* bit 0: AVX2 and FMA usable (CPU and OS); bit 1: AVX-512 F, DQ, VL and BW usable */
/* MSVC's intrinsics first: clang-cl defines __clang__ too, and takes them (so that an MSVC-mode
   compile checks this branch) */
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
static inline int cx_cpu_features(void) {
    int r[4], f = 0;
    unsigned long long xcr0;
    __cpuid(r, 1);
    int fma = (r[2] >> 12) & 1, osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1;
    if (!(fma && osxsave && avx)) return 0;
    xcr0 = _xgetbv(0);
    if ((xcr0 & 6) != 6) return 0;                       /* OS saves XMM and YMM state */
    __cpuidex(r, 7, 0);
    if ((r[1] >> 5) & 1) f |= 1;                          /* AVX2 */
    if ((f & 1) && ((xcr0 & 0xe6) == 0xe6)                /* OS saves opmask and ZMM state */
        && ((r[1] >> 16) & 1) && ((r[1] >> 17) & 1)      /* AVX512F, AVX512DQ */
        && ((r[1] >> 30) & 1) && ((r[1] >> 31) & 1))     /* AVX512BW, AVX512VL */
        f |= 2;
    return f;
}
#elif (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
static inline int cx_cpu_features(void) {
    int f = 0;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        f |= 1;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
            f |= 2;
    }
    return f;
}
#else
static inline int cx_cpu_features(void) { return 0; }
#endif

/* The size of the L3 cache in bytes as the OS reports it (glibc's sysconf), 0 where unknown
   (other C libraries, other systems) */
#if defined(__linux__)
#include <unistd.h>
#endif
static inline long cx_l3_bytes(void) {
#if defined(__linux__) && defined(_SC_LEVEL3_CACHE_SIZE)
    long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
    return v > 0 ? v : 0;
#else
    return 0;
#endif
}

#endif
