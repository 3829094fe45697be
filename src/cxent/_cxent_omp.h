/* OpenMP shim for cxent's kernels.
 *
 * The extension is compiled with OpenMP when the compiler supports it (setup.py probes for it) and
 * serially otherwise; Cython's prange then degrades to a plain loop.  This header gives the kernels
 * the few runtime calls they need in both cases, so the .pyx never has to know which build it is.
 */
#ifndef CXENT_OMP_H
#define CXENT_OMP_H

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

#endif
