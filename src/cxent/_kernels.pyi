# Typing stub of the compiled kernel modules cxent._kernels, cxent._kernels_avx2 and
# cxent._kernels_avx512 (one source, src/cxent/_kernels_impl.pxi and the _k_*.pxi it includes;
# cxent._isa picks one).  Arrays are Cython typed memoryviews; their real types are in the
# comments ("floating" is float32 or float64, the same for every floating array of one call).
# Arguments after the `*` are keywords, all required but for the small-call entry points
# (*_c); None is an array the call does not have.
import numpy as np

def openmp_info() -> tuple[bool, int, int, str | None]: ...
def cpu_features() -> int: ...
def stream_info() -> tuple[int, int]: ...
def _set_grain(elements: int) -> int: ...
def _set_small_k(K: int) -> int: ...
def _set_stream_bytes(nbytes: int) -> int: ...
def _set_fast_rows(on: bool) -> bool: ...
def _fast_row(x: np.ndarray) -> bool: ...  # const floating[::1]
def _fast_tile(x: np.ndarray) -> int: ...  # const floating[:, ::1]

# softmax family (_k_softmax.pxi)
def softmax_rows(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    out: np.ndarray,  # floating[:, :, :]  (A, B, K)
    *,
    n_threads: int,
    new_pages: bool,  # no store has touched out's pages yet (cxent._memory.new_pages)
) -> None: ...
def log_softmax_rows(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    out: np.ndarray,  # floating[:, :, :]  (A, B, K)
    *,
    n_threads: int,
    new_pages: bool,
) -> None: ...
def logsumexp_rows(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    out: np.ndarray,  # floating[:, :]  (A, B)
    *,
    b: np.ndarray | None,  # const floating[:, :, :]  (A, B, K)
    sign: np.ndarray | None,  # floating[:, :]  (A, B)
    n_threads: int,
) -> None: ...
def softmax_backward_rows(
    y: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    grad_output: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    out: np.ndarray,  # floating[:, :, :]  (A, B, K)
    *,
    n_threads: int,
) -> None: ...
def log_softmax_backward_rows(
    y: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    grad_output: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    out: np.ndarray,  # floating[:, :, :]  (A, B, K)
    *,
    n_threads: int,
) -> None: ...
def softmax_c(
    x: np.ndarray,  # C-contiguous float32/float64, classes along the last axis
    out: np.ndarray,  # new C-contiguous, x's shape and dtype
    *,
    K: int,
    n_threads: int,
    new_pages: bool = False,  # as for softmax_rows
) -> None: ...
def log_softmax_c(
    x: np.ndarray,  # as softmax_c
    out: np.ndarray,
    *,
    K: int,
    n_threads: int,
    new_pages: bool = False,
) -> None: ...
def logsumexp_c(
    x: np.ndarray,  # as softmax_c
    out: np.ndarray,  # new C-contiguous, x's shape without the last axis
    *,
    K: int,
    n_threads: int,
) -> None: ...

# class-index losses (_k_labels.pxi): (sum of the losses, first bad position or -1, counted)
def cross_entropy_labels(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    y: np.ndarray,  # const int64_t[:, :]  (A, B)
    *,
    weight: np.ndarray | None,  # const floating[:]  (K,)
    sample_weight: np.ndarray | None,  # const double[:, :]  (A, B)
    loss: np.ndarray | None,  # floating[:, :]  (A, B)
    grad: np.ndarray | None,  # floating[:, :, :]  (A, B, K)
    lse: np.ndarray | None,  # floating[:, :]  (A, B)
    ignore_index: int,
    label_smoothing: float,
    weight_sum: float,
    scale: float,
    z_loss: float,
    softcap: float,  # 0: none
    focal_gamma: float,
    n_threads: int,
    new_pages: bool,  # no store has touched grad's pages yet (cxent._memory.new_pages)
) -> tuple[float, int, int]: ...
def nll_labels(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    y: np.ndarray,  # const int64_t[:, :]  (A, B)
    *,
    weight: np.ndarray | None,  # const floating[:]  (K,)
    sample_weight: np.ndarray | None,  # const double[:, :]  (A, B)
    loss: np.ndarray | None,  # floating[:, :]  (A, B)
    grad: np.ndarray | None,  # floating[:, :, :]  (A, B, K)
    ignore_index: int,
    scale: float,
    n_threads: int,
    new_pages: bool,
) -> tuple[float, int, int]: ...
def log_loss_labels(
    p: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    y: np.ndarray,  # const int64_t[:, :]  (A, B)
    loss: np.ndarray,  # floating[:, :]  (A, B)
    *,
    lo: float,
    hi: float,
    ignore_index: int,
    n_threads: int,
) -> tuple[float, int, int]: ...
def cross_entropy_c(
    x: np.ndarray,  # C-contiguous float32/float64 (N, K)
    y: np.ndarray,  # C-contiguous int64 (N,)
    *,
    loss: np.ndarray | None = None,  # new C-contiguous (N,) of x's dtype
    grad: np.ndarray | None = None,  # C-contiguous (N, K) of x's dtype
    K: int,
    mean: bool,
    n_threads: int,
    new_pages: bool = False,  # as for cross_entropy_labels
) -> tuple[float, int, int]: ...
def label_stats(
    y: np.ndarray,  # const int64_t[:, :]  (A, B)
    *,
    K: int,
    ignore_index: int,
    weight: np.ndarray | None,  # const floating[:]  (K,)
    sample_weight: np.ndarray | None,  # const double[:, :]  (A, B)
) -> tuple[float, int, int]: ...

# probability targets (_k_targets.pxi), BCE (_k_bce.pxi): the sum of the losses
def cross_entropy_targets(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    target: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    *,
    weight: np.ndarray | None,  # const floating[:]  (K,)
    sample_weight: np.ndarray | None,  # const double[:, :]  (A, B)
    loss: np.ndarray | None,  # floating[:, :]  (A, B)
    grad: np.ndarray | None,  # floating[:, :, :]  (A, B, K)
    lse: np.ndarray | None,  # floating[:, :]  (A, B)
    label_smoothing: float,
    scale: float,
    z_loss: float,
    softcap: float,  # 0: none
    focal_gamma: float,
    n_threads: int,
) -> float: ...
def bce_with_logits(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    target: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    *,
    weight: np.ndarray | None,  # const floating[:, :, :]  (A, B, K) broadcast view
    pos_weight: np.ndarray | None,  # const floating[:, :, :]  (A, B, K) broadcast view
    loss: np.ndarray | None,  # floating[:, :, :]  (A, B, K)
    grad: np.ndarray | None,  # floating[:, :, :]  (A, B, K)
    scale: float,
    n_threads: int,
) -> float: ...

# information measures (_k_info.pxi)
def entropy_rows(
    p: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    out: np.ndarray,  # floating[:, :]  (A, B)
    *,
    factor: float,
    n_threads: int,
) -> None: ...
def kl_rows(
    p: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    q: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    out: np.ndarray,  # floating[:, :]  (A, B)
    *,
    factor: float,
    n_threads: int,
) -> None: ...
def cross_entropy_dist_rows(
    p: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    q: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    out: np.ndarray,  # floating[:, :]  (A, B)
    *,
    factor: float,
    lo: float,  # q is clipped into [lo, hi]; -inf, inf: not at all
    hi: float,
    n_threads: int,
) -> None: ...

# the numeric primitives, for the accuracy tests (_k_probes.pxi)
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
def score_labels(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    y: np.ndarray,  # const int64_t[:, :]  (A, B)
    loss: np.ndarray,  # floating[:, :]  (A, B)
    confidence: np.ndarray,  # double[::1]  (A * B,)
    rank: np.ndarray,  # int64_t[::1]  (A * B,)
    brier: np.ndarray,  # double[::1]  (A * B,)
    entropy: np.ndarray,  # double[::1]  (A * B,)
    *,
    n_threads: int,
) -> tuple[float, int, int]: ...
def temperature_stats(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    y: np.ndarray,  # const int64_t[:, :]  (A, B)
    *,
    sample_weight: np.ndarray | None,  # const double[:, :]  (A, B)
    beta: float,
    n_threads: int,
) -> tuple[float, float, float, int]: ...
def tanh_array(
    x: np.ndarray,  # const double[::1]
    out: np.ndarray,  # double[::1]
) -> None: ...
