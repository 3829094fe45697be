/* Stand-in for MSVC's <intrin.h> in the MSVC-mode syntax check (.ci/msvc-syntax): the
   prototypes Microsoft documents for the intrinsics cxent uses.  (MinGW's headers define
   __attribute__ away outside GCC, which breaks clang's own intrinsic headers.) */
#pragma once
void __cpuid(int cpuInfo[4], int function_id);
void __cpuidex(int cpuInfo[4], int function_id, int subfunction_id);
unsigned __int64 _xgetbv(unsigned int xcr);
