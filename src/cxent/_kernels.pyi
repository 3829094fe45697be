# Typing stub of the compiled module cxent._kernels (src/cxent/_kernels.pyx).
# The arrays are Cython typed memoryviews; their real types are given in the comments
# ("floating" is float32 or float64, the same for every array of one call).
import numpy as np

def openmp_info() -> tuple[bool, int, int]: ...
def _set_grain(elements: int) -> int: ...
def softmax_rows(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    out: np.ndarray,  # floating[:, :, :]  (A, B, K)
    log_space: bool,
    n_threads: int,
) -> None: ...
def logsumexp_rows(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    out: np.ndarray,  # floating[:, :]  (A, B)
    n_threads: int,
) -> None: ...
def cross_entropy_labels(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    y: np.ndarray,  # const int64_t[:, :]  (A, B)
    loss: np.ndarray,  # floating[:, :]  (A, B)
    grad: np.ndarray,  # floating[:, :, :]  (A, B, K)
    want_loss: bool,
    want_grad: bool,
    scale: float,
    n_threads: int,
) -> tuple[float, int]: ...
def cross_entropy_probs(
    x: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    t: np.ndarray,  # const floating[:, :, :]  (A, B, K)
    loss: np.ndarray,  # floating[:, :]  (A, B)
    grad: np.ndarray,  # floating[:, :, :]  (A, B, K)
    want_loss: bool,
    want_grad: bool,
    scale: float,
    n_threads: int,
) -> float: ...
