# cxent kernels, built for AVX-512 (F, DQ, VL, BW).
# The code is _kernels_impl.pxi; cxent._isa chooses the build at import.
include "_kernels_impl.pxi"
