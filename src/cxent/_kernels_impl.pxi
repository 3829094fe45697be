# The compiled kernels of cxent, included by _kernels.pyx (the portable baseline) and by
# _kernels_avx2.pyx / _kernels_avx512.pyx (the same code compiled for those instruction sets;
# cxent._isa picks one at import).  Compiler directives are set in setup.py for all of them:
# boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False,
# freethreading_compatible=True.
"""Compiled kernels of cxent.

Layering
--------
The public functions (``cxent._softmax``, ``_losses``, ``_information``, ``_metrics``,
``_scale``) validate their input and present every array to this module as a strided 3-D view
``(A, B, K)``: ``K`` runs along the class axis and the ``M = A * B`` rows are all other
positions, merged into at most two strided dimensions without copying
(``cxent._validate.Layout``).  Each ``def`` runs one public operation over all rows; keyword
arguments, ``None`` for an array the call does not have.  The code reads top-down:

* ``_k_driver.pxi``: the one driver, ``_run``.  Rows are cut into blocks whose size depends only
  on ``K`` (never on the thread count); blocks are spread over threads by
  ``prange(schedule="static")`` with the GIL released, small work (fewer than ``_grain``
  elements) stays on the calling thread; blocks run in chunks of about ``_CHUNK`` elements with
  a check for signals (Ctrl-C) between chunks; a forked child runs serially (libgomp's pool does
  not survive fork).  Each block reports a ``BlockOut`` (its sum of losses, first invalid class
  index, count), added in block order, so every result is bit-identical whatever
  ``n_threads`` is.
* ``_k_row.pxi``: what every family shares: a row's maximum and normaliser, the small-K tiles.
* One file per family, each with its own argument struct whose fields mean one thing and its
  own block functions (one per operation and dtype, the function pointer the driver calls):
  ``_k_softmax.pxi`` (softmax, log_softmax, logsumexp, their backward), ``_k_labels.pxi``
  (class-index losses), ``_k_targets.pxi`` (probability targets), ``_k_bce.pxi``,
  ``_k_info.pxi`` (entropy, KL, cross-entropy of distributions).
* The per-row formulas are C inline functions of ``_rows.h`` (normaliser, the loss of a label
  and its gradient coefficients) and ``_simd.h`` (exp, log1p, products, reductions), called with
  the same operands by the row path and by the small-K tile path (K <= 40: rows transposed so
  that one vector lane holds one row), so both give the same bits.  Cross-entropy with class
  indices also takes rows of more classes 32 at a time: each row's sums, then the normalisers
  and label terms of the group one row per lane (cx_lanes_rowsum, cx_label_lanes).

Numerics
--------
Each row is shifted by its maximum.  Sums of exponentials and losses are accumulated in float64,
for float32 data too (float32 terms added in pairs first, see _simd.h).  Non-finite values
follow PyTorch: a +inf logit makes its row nan (logsumexp gives +inf), an all -inf row gives
logsumexp -inf and nan elsewhere, nan stays in its row.

Array arguments are marked ``# IN`` (read, never written: ``const`` memoryviews, so read-only
arrays and memory maps are accepted) or ``# OUT`` (written).
"""
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBUF_C_CONTIGUOUS,
                             PyBUF_FORMAT, PyBUF_WRITABLE)
from cpython.exc cimport PyErr_CheckSignals
cimport cython
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, fabs, log, log1p, pow, INFINITY, NAN
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset

cdef extern from "_simd.h" nogil:
    double cx_exp_d(double x)
    float cx_exp_f(float x)
    double cx_expm_d(double a, double s)
    float cx_expm_f(float a, float s)
    double cx_log1p_d(double u)
    double cx_fma_d(double a, double b, double c)
    double cx_tanh_d(double v)
    double cx_softcap1(double v, double cap)
    double cx_softcap_grad1(double g, double vc, double cap)
    void cx_softcap_d(const double* x, double* o, Py_ssize_t n, double cap)
    void cx_softcap_f(const float* x, float* o, Py_ssize_t n, double cap)
    void cx_softcap_grad_d(double* g, const double* xc, Py_ssize_t n, double cap)
    void cx_softcap_grad_f(float* g, const float* xc, Py_ssize_t n, double cap)
    double cx_max_d(const double* x, Py_ssize_t n, int* fast)
    float cx_max_f(const float* x, Py_ssize_t n, int* fast)
    double cx_sumexp_rest_d(const double* x, Py_ssize_t n, double m, double* e, double* count,
                            int fast, const double* pf)
    double cx_sumexp_rest_f(const float* x, Py_ssize_t n, float m, float* e, double* count,
                            int fast, const float* pf)
    double cx_sumexp_total_f(const float* x, Py_ssize_t n, float m, float* e, double* count,
                             int fast, const float* pf)
    double cx_mul1_d(double e, double c)
    float cx_mul1_f(float e, double c)
    void cx_scale_d(const double* e, double* g, Py_ssize_t n, double c)
    void cx_scale_f(const float* e, float* g, Py_ssize_t n, double c)
    double cx_logsub1_d(double x, double m, double c)
    float cx_logsub1_f(float x, float m, double c)
    void cx_logsub_d(const double* x, double* o, Py_ssize_t n, double m, double c)
    void cx_logsub_f(const float* x, float* o, Py_ssize_t n, float m, double c)
    enum: CX_TILE
    enum: CX_SMALL_K
    enum: CX_SMALL_K_F
    enum: CX_SMALL_K_D
    enum: CX_COMP_MIN_K
    void cx_tile_scale_d(double* et, const double* c, Py_ssize_t n, Py_ssize_t K,
                         const Py_ssize_t* lab, const double* gy)
    void cx_tile_scale_f(float* et, const double* c, Py_ssize_t n, Py_ssize_t K,
                         const Py_ssize_t* lab, const double* gy)
    void cx_tile_logsub_d(const double* xt, double* o, const double* m, const double* c,
                          Py_ssize_t n, Py_ssize_t K)
    void cx_tile_logsub_f(const float* xt, float* o, const float* m, const double* c,
                          Py_ssize_t n, Py_ssize_t K)
    void cx_tile_gather_d(const double* x, const Py_ssize_t* off, Py_ssize_t n, Py_ssize_t K,
                          double* tile, bint run, Py_ssize_t npf)
    void cx_tile_gather_f(const float* x, const Py_ssize_t* off, Py_ssize_t n, Py_ssize_t K,
                          float* tile, bint run, Py_ssize_t npf)
    void cx_tile_scatter_d(const double* tile, Py_ssize_t n, Py_ssize_t K, double* g,
                           const Py_ssize_t* off, bint run, const double* c, Py_ssize_t npf)
    void cx_tile_scatter_f(const float* tile, Py_ssize_t n, Py_ssize_t K, float* g,
                           const Py_ssize_t* off, bint run, const double* c, Py_ssize_t npf)
    void cx_tile_put_d(double* et, const Py_ssize_t* lab, const double* gy, Py_ssize_t n,
                       Py_ssize_t K)
    void cx_tile_put_f(float* et, const Py_ssize_t* lab, const double* gy, Py_ssize_t n,
                       Py_ssize_t K)
    void cx_stream_fence()
    void cx_prefetch_bytes(const void* p, Py_ssize_t nbytes)
    bint cx_tile_can_stream_d(const double* g, Py_ssize_t K)
    bint cx_tile_can_stream_f(const float* g, Py_ssize_t K)
    void cx_tile_stream_d(const double* tile, Py_ssize_t n, Py_ssize_t K, double* g)
    void cx_tile_stream_f(const float* tile, Py_ssize_t n, Py_ssize_t K, float* g)

cdef extern from "_rows.h" nogil:
    ctypedef struct RowSum "cx_rowsum":
        double shift, rest, total, log_total
    RowSum cx_rowsum_finish(double m, double acc, double cnt, int want_log)
    ctypedef struct LabelTerms "cx_label_terms_t":
        double loss, coef, smooth, gy
    LabelTerms cx_label_terms(double xy, double ey, double wy, double dot, RowSum r, double eps,
                              double sm, double wsum, double scale)
    LabelTerms cx_label_zloss(LabelTerms o, double ey, RowSum r, double scale, double zl,
                              double lse)
    int cx_tile_rowsum_d(double* xt, Py_ssize_t n, Py_ssize_t K, double* et, double* sh,
                         double* rest, double* tot, double* logt, double* lse, int fast_ok)
    int cx_tile_rowsum_f(float* xt, Py_ssize_t n, Py_ssize_t K, float* et, float* sh,
                         double* rest, double* tot, double* logt, double* lse, int fast_ok)
    void cx_lanes_rowsum(const double* m, const double* acc, const double* cnt, Py_ssize_t n,
                         double* rest, double* tot, double* logt, double* lse)
    void cx_label_lanes(const double* xy, const double* ey, const double* wy,
                        const Py_ssize_t* lab, Py_ssize_t n, const double* rest,
                        const double* tot, const double* logt, const double* dot, double eps,
                        double wsum, const double* sc, double zl, const double* lse,
                        Py_ssize_t K, double* val, double* coef, double* smooth, double* gy)
    void cx_tile_labels_d(const double* xt, const double* et, const Py_ssize_t* lab,
                          const double* w, Py_ssize_t sw, Py_ssize_t n, const double* sh,
                          const double* rest, const double* tot, const double* logt,
                          const double* dot, double eps, double wsum, const double* sc,
                          double zl, const double* lse, Py_ssize_t K, double* val, double* coef,
                          double* smooth, double* gy)
    void cx_tile_labels_f(const float* xt, const float* et, const Py_ssize_t* lab,
                          const float* w, Py_ssize_t sw, Py_ssize_t n, const float* sh,
                          const double* rest, const double* tot, const double* logt,
                          const double* dot, double eps, double wsum, const double* sc,
                          double zl, const double* lse, Py_ssize_t K, double* val, double* coef,
                          double* smooth, double* gy)

cdef extern from "_cxent_platform.h" nogil:
    int cx_omp_max_threads()
    const char* cx_omp_runtime_path()
    int cx_cpu_features()
    long cx_l3_bytes()
    int cx_install_fork_handler()
    int cx_in_forked_child()
    int CX_HAVE_OPENMP
    int CX_OPENMP_VERSION


include "_k_driver.pxi"
include "_k_row.pxi"
include "_k_softmax.pxi"
include "_k_labels.pxi"
include "_k_targets.pxi"
include "_k_bce.pxi"
include "_k_info.pxi"
include "_k_probes.pxi"
