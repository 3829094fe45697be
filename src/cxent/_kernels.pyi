# Typing stub of the compiled kernel modules cxent._kernels, cxent._kernels_avx2 and
# cxent._kernels_avx512 (one source, src/cxent/_kernels_impl.pxi; cxent._isa picks one).
# Arrays are Cython typed memoryviews; their real types are in the comments ("floating" is
# float32 or float64, the same for every floating array of one call).
import numpy as np

def openmp_info() -> tuple[bool, int, int, str | None]: ...
def cpu_features() -> int: ...
def _set_grain(elements: int) -> int: ...
def softmax_rows(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    out: np.ndarray,  # floating[:, :, :]  (A, B, K)
    log_space: bool,
    n_threads: int,
) -> None: ...
def rows_c(
    x: np.ndarray,  # C-contiguous float32/float64, classes along the last axis
    out: np.ndarray,  # new C-contiguous, x's dtype: x's shape (what 0, 1) or without the last axis
    K: int,
    what: int,  # 0 softmax, 1 log_softmax, 2 logsumexp
    n_threads: int,
) -> None: ...
def class_index_loss_c(
    x: np.ndarray,  # C-contiguous float32/float64 (N, K)
    y: np.ndarray,  # C-contiguous int64 (N,)
    loss: np.ndarray | None,  # new C-contiguous (N,) of x's dtype
    grad: np.ndarray | None,  # new C-contiguous (N, K) of x's dtype
    K: int,
    scale: float,
    n_threads: int,
) -> tuple[float, int, int]: ...
def softmax_backward_rows(
    y: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    go: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    out: np.ndarray,  # floating[:, :, :]  (A, B, K)
    log_space: bool,
    n_threads: int,
) -> None: ...
def logsumexp_rows(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    b: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    out: np.ndarray,  # floating[:, :]  (A, B)
    sign: np.ndarray,  # floating[:, :]  (A, B)
    has_b: bool,
    want_sign: bool,
    n_threads: int,
) -> None: ...
def label_stats(
    y: np.ndarray,  # const int64_t[:, :]  (A, B)
    w: np.ndarray,  # const floating[:]  (K,)
    rw: np.ndarray,  # const double[:, :]  (A, B)
    has_w: bool,
    has_rw: bool,
    ignore_index: int,
    K: int,
) -> tuple[float, int, int]: ...
def class_index_loss(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    y: np.ndarray,  # const int64_t[:, :]  (A, B)
    w: np.ndarray,  # const floating[:]  (K,)
    rw: np.ndarray,  # const double[:, :]  (A, B)
    loss: np.ndarray,  # floating[:, :]  (A, B)
    grad: np.ndarray,  # floating[:, :, :]  (A, B, K)
    nll: bool,
    has_w: bool,
    has_rw: bool,
    want_loss: bool,
    want_grad: bool,
    ignore_index: int,
    eps: float,
    wsum: float,
    scale: float,
    n_threads: int,
) -> tuple[float, int, int]: ...
def probability_loss(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    t: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    w: np.ndarray,  # const floating[:]  (K,)
    rw: np.ndarray,  # const double[:, :]  (A, B)
    loss: np.ndarray,  # floating[:, :]  (A, B)
    grad: np.ndarray,  # floating[:, :, :]  (A, B, K)
    has_w: bool,
    has_rw: bool,
    want_loss: bool,
    want_grad: bool,
    eps: float,
    scale: float,
    n_threads: int,
) -> float: ...
def bce_loss(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    t: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    w: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    pw: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    loss: np.ndarray,  # floating[:, :, :]  (A, B, K)
    grad: np.ndarray,  # floating[:, :, :]  (A, B, K)
    has_w: bool,
    has_pw: bool,
    want_loss: bool,
    want_grad: bool,
    scale: float,
    n_threads: int,
) -> float: ...
def information_rows(
    p: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    q: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    out: np.ndarray,  # floating[:, :]  (A, B)
    mode: int,
    has_q: bool,
    factor: float,
    lo: float,
    hi: float,
    n_threads: int,
) -> None: ...
def class_probability_loss(
    p: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    y: np.ndarray,  # const int64_t[:, :]  (A, B)
    loss: np.ndarray,  # floating[:, :]  (A, B)
    lo: float,
    hi: float,
    n_threads: int,
) -> tuple[float, int]: ...
def exp_array(
    x: np.ndarray,  # const floating[::1]
    out: np.ndarray,  # floating[::1]
) -> None: ...
def scale_array(
    e: np.ndarray,  # const floating[::1]
    c: float,
    out: np.ndarray,  # floating[::1]
) -> None: ...
def scale_lanes_array(
    e: np.ndarray,  # floating[::1]
    c: np.ndarray,  # const double[::1]
) -> None: ...
def log1p_array(
    x: np.ndarray,  # const double[::1]
    out: np.ndarray,  # double[::1]
) -> None: ...
