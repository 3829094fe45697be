# cxent kernels, the portable baseline (SSE2 on x86-64, NEON on aarch64).
# The code is _kernels_impl.pxi; cxent._isa chooses the build at import.
include "_kernels_impl.pxi"
