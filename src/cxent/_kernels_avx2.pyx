# cxent kernels, built for AVX2 + FMA.
# The code is _kernels_impl.pxi; cxent._isa chooses the build at import.
include "_kernels_impl.pxi"
