/* Stand-in for MSVC's <omp.h> (vcomp) in the MSVC-mode syntax check: the OpenMP 2.0 calls cxent
   makes. */
#pragma once
int omp_get_max_threads(void);
