"""Scale: batch scoring of arrays larger than memory, and a fused linear cross-entropy that never
materialises the full logits."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np

from . import _labels
from ._isa import kernels as _kernels
from ._typing import ArrayLike, FloatArray, FloatScalar, Scalarish
from ._validate import (
    NO_LOSS_OPTIONS,
    as_array,
    check_ignore_index,
    check_label_smoothing,
    check_n_threads,
    check_reduction,
    check_topk,
    loss_options,
)

__all__ = ["ScoreResult", "linear_cross_entropy", "score"]

@dataclass(frozen=True)
class ScoreResult:
    """Summary of :func:`score`: counts, mean cross-entropy, accuracies, throughput.

    Examples
    --------
    >>> import cxent
    >>> r = cxent.score([[0.0, 2.0], [1.0, 0.0]], [1, 1], topk=1)
    >>> r.accuracy, r.samples_per_second > 0
    (0.5, True)
    """

    n_samples: int
    mean_loss: float
    accuracy: float
    topk: int
    topk_accuracy: float
    seconds: float
    ece: float = math.nan
    """Expected calibration error of the top-1 confidence over `n_bins` equal-width bins."""
    brier: float = math.nan
    """Mean over samples of ``sum_k (p_k - onehot_k)**2`` (scikit-learn's multiclass Brier)."""
    entropy: float = math.nan
    """Mean entropy of the predicted distributions, in nats."""
    n_bins: int = 15

    @property
    def samples_per_second(self) -> float:
        return self.n_samples / self.seconds if self.seconds > 0 else math.inf


def score(logits: ArrayLike, labels: ArrayLike, *, batch_size: int | None = None,
          topk: int = 5, n_bins: int = 15, out: FloatArray | None = None,
          n_threads: int | None = None,
          progress: Callable[[int], object] | None = None) -> ScoreResult:
    """Score class indices against logits batch by batch: cross-entropy, accuracy, top-k,
    calibration (ECE, Brier score) and the entropy of the predictions.

    Built for arrays larger than memory (``np.load(path, mmap_mode="r")``): rows are read one
    batch at a time, each batch scored by the compiled kernel (per-sample losses), and the
    summary accumulated in float64.  Reentrant: services can score from many threads at once.

    Parameters
    ----------
    logits : array_like of shape (n_samples, n_classes)
        float32 or float64 (others are converted batch by batch); memory maps welcome.
    labels : array_like of int, shape (n_samples,)
    batch_size : int, optional
        Rows per batch; default: about 64 MiB of logits.
    topk : int, default 5
        Also report top-k accuracy: the label's logit has fewer than k logits strictly larger
        (ties count in its favour).
    n_bins : int, default 15
        Bins of the expected calibration error: bin ``b`` holds the top-1 confidences in
        ``(b / n_bins, (b + 1) / n_bins]`` (the first also 0), and
        ``ece = sum_b (n_b / n) |accuracy_b - confidence_b|``.
    out : ndarray of shape (n_samples,), optional
        Receives the per-sample losses (e.g. ``np.lib.format.open_memmap(...)``).
    n_threads : int, optional
        Threads for the kernel.
    progress : callable, optional
        Called as ``progress(rows_done)`` after each batch.

    Returns
    -------
    ScoreResult

    Examples
    --------
    >>> import numpy as np, cxent
    >>> r = cxent.score(np.array([[1.4, 3.2, 5.0], [2.0, 0.0, 0.0]]), [2, 1], topk=2)
    >>> r.n_samples, round(r.mean_loss, 4), r.accuracy, r.topk_accuracy
    (2, 1.2078, 0.5, 1.0)
    >>> round(r.ece, 4), round(r.brier, 4), round(r.entropy, 4)
    (0.4742, 0.7374, 0.5868)

    All figures are accumulated over the batches (bin counts, sums), so they are those of one
    pass over all rows (up to the rounding of float64 sums), whatever `batch_size` is.
    """
    x = as_array(logits, "logits")
    y = as_array(labels, "labels")
    if x.ndim != 2:
        raise ValueError(f"logits must have shape (n_samples, n_classes), got {x.shape}")
    n, K = x.shape
    if y.shape != (n,):
        raise ValueError(f"labels have shape {y.shape}; logits of shape {x.shape} need ({n},)")
    _labels.as_int64(y[:0], "labels")  # the dtype check, before any batch is read
    if K == 0:
        raise ValueError("logits have no classes")
    topk = check_topk(topk)
    n_bins = check_topk(n_bins, "n_bins")
    nt = check_n_threads(n_threads)
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
        if out.shape != (n,):
            raise ValueError(f"out has shape {out.shape}, expected ({n},)")
    if batch_size is None:
        batch_size = max(1, (64 << 20) // max(1, K * x.dtype.itemsize))
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    t0 = time.perf_counter()
    total = brier = entropy = 0.0
    correct = in_topk = 0
    bin_n = np.zeros(n_bins, np.int64)       # samples per confidence bin
    bin_right = np.zeros(n_bins, np.int64)   # correct top-1 predictions per bin
    bin_conf = np.zeros(n_bins)              # sum of the confidences per bin
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        m = stop - start
        xb = np.asarray(x[start:stop])
        if xb.dtype not in (np.float32, np.float64):
            xb = xb.astype(np.float64)
        yb = _labels.as_int64(np.asarray(y[start:stop]), "labels")
        lb = np.empty(m, xb.dtype)
        conf, br, ent = np.empty(m), np.empty(m), np.empty(m)
        rank = np.empty(m, np.int64)
        s, bad, _ = _kernels.score_labels(xb.reshape(1, m, K), yb.reshape(1, -1),
                                          lb.reshape(1, -1), conf, rank, br, ent, n_threads=nt)
        if bad >= 0:
            raise _labels.error(int(yb[bad]), (start + int(bad),), K, None, name="labels")
        total += s
        right = rank == 0
        correct += int(np.count_nonzero(right))
        in_topk += int(np.count_nonzero(rank < topk))
        b = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
        bin_n += np.bincount(b, minlength=n_bins)
        bin_right += np.bincount(b[right], minlength=n_bins)
        bin_conf += np.bincount(b, weights=conf, minlength=n_bins)
        brier += float(br.sum())
        entropy += float(ent.sum())
        if out is not None:
            out[start:stop] = lb
        if progress is not None:
            progress(stop)
    secs = time.perf_counter() - t0
    if not n:
        return ScoreResult(0, math.nan, math.nan, topk, math.nan, secs, n_bins=n_bins)
    ece = float(np.abs(bin_right - bin_conf).sum() / n)
    return ScoreResult(n, total / n, correct / n, topk, in_topk / n, secs, ece, brier / n,
                       entropy / n, n_bins)


LinearGrads = tuple[FloatArray, FloatArray, FloatArray | None]


@overload
def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                         bias: ArrayLike | None = ..., ignore_index: int = ...,
                         sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                         z_loss: float = ..., softcap: float | None = ...,
                         focal_gamma: float = ..., chunk_size: int | None = ...,
                         n_threads: int | None = ...,
                         reduction: Literal["mean", "sum"] = ...,
                         return_grad: Literal[False] = ...,
                         return_lse: Literal[False] = ...,
                         ) -> FloatScalar: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                         bias: ArrayLike | None = ..., ignore_index: int = ...,
                         sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                         z_loss: float = ..., softcap: float | None = ...,
                         focal_gamma: float = ..., chunk_size: int | None = ...,
                         n_threads: int | None = ...,
                         reduction: Literal["mean", "sum"] = ...,
                         return_grad: Literal[False] = ...,
                         return_lse: Literal[True],
                         ) -> tuple[FloatScalar, FloatArray]: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                         bias: ArrayLike | None = ..., ignore_index: int = ...,
                         sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                         z_loss: float = ..., softcap: float | None = ...,
                         focal_gamma: float = ..., chunk_size: int | None = ...,
                         n_threads: int | None = ...,
                         reduction: Literal["mean", "sum"] = ...,
                         return_grad: Literal[True],
                         return_lse: Literal[False] = ...,
                         ) -> tuple[FloatScalar, LinearGrads]: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                         bias: ArrayLike | None = ..., ignore_index: int = ...,
                         sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                         z_loss: float = ..., softcap: float | None = ...,
                         focal_gamma: float = ..., chunk_size: int | None = ...,
                         n_threads: int | None = ...,
                         reduction: Literal["mean", "sum"] = ...,
                         return_grad: Literal[True],
                         return_lse: Literal[True],
                         ) -> tuple[FloatScalar, LinearGrads, FloatArray]: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                         bias: ArrayLike | None = ..., ignore_index: int = ...,
                         sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                         z_loss: float = ..., softcap: float | None = ...,
                         focal_gamma: float = ..., chunk_size: int | None = ...,
                         n_threads: int | None = ...,
                         reduction: Literal["none"],
                         return_grad: Literal[False] = ...,
                         return_lse: Literal[False] = ...,
                         ) -> FloatArray: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                         bias: ArrayLike | None = ..., ignore_index: int = ...,
                         sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                         z_loss: float = ..., softcap: float | None = ...,
                         focal_gamma: float = ..., chunk_size: int | None = ...,
                         n_threads: int | None = ...,
                         reduction: Literal["none"],
                         return_grad: Literal[False] = ...,
                         return_lse: Literal[True],
                         ) -> tuple[FloatArray, FloatArray]: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                         bias: ArrayLike | None = ..., ignore_index: int = ...,
                         sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                         z_loss: float = ..., softcap: float | None = ...,
                         focal_gamma: float = ..., chunk_size: int | None = ...,
                         n_threads: int | None = ...,
                         reduction: Literal["none"],
                         return_grad: Literal[True],
                         return_lse: Literal[False] = ...,
                         ) -> tuple[FloatArray, LinearGrads]: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                         bias: ArrayLike | None = ..., ignore_index: int = ...,
                         sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                         z_loss: float = ..., softcap: float | None = ...,
                         focal_gamma: float = ..., chunk_size: int | None = ...,
                         n_threads: int | None = ...,
                         reduction: Literal["none"],
                         return_grad: Literal[True],
                         return_lse: Literal[True],
                         ) -> tuple[FloatArray, LinearGrads, FloatArray]: ...
@overload
def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                         bias: ArrayLike | None = ..., ignore_index: int = ...,
                         sample_weight: ArrayLike | None = ..., label_smoothing: float = ...,
                         z_loss: float = ..., softcap: float | None = ...,
                         focal_gamma: float = ..., chunk_size: int | None = ...,
                         n_threads: int | None = ..., reduction: str = ...,
                         return_grad: bool = ..., return_lse: bool = ...
                         ) -> Scalarish | tuple[Scalarish, LinearGrads] | tuple[
                             Scalarish, FloatArray] | tuple[Scalarish, LinearGrads,
                                                            FloatArray]: ...


def linear_cross_entropy(hidden: ArrayLike, weight: ArrayLike, target: ArrayLike, *,
                         bias: ArrayLike | None = None, ignore_index: int = -100,
                         sample_weight: ArrayLike | None = None, label_smoothing: float = 0.0,
                         z_loss: float = 0.0, softcap: float | None = None,
                         focal_gamma: float = 0.0, chunk_size: int | None = None,
                         n_threads: int | None = None, reduction: str = "mean",
                         return_grad: bool = False, return_lse: bool = False
                         ) -> Scalarish | tuple[Scalarish, LinearGrads] | tuple[
                             Scalarish, FloatArray] | tuple[Scalarish, LinearGrads,
                                                            FloatArray]:
    r"""``cross_entropy(hidden @ weight.T + bias, target)`` without materialising the logits.

    For language-model-sized vocabularies: the rows are processed in chunks; each chunk's logits
    come from one matrix product (BLAS), the fused kernel turns them into the loss and, in the
    same pass, their gradient, and backward matrix products accumulate the gradients with
    respect to `hidden`, `weight` and `bias`.  Peak extra memory is two chunks of logits
    (``2 * chunk_size * V * itemsize``) instead of the full ``N * V`` array.

    Parameters
    ----------
    hidden : array_like of shape (N, D)
    weight : array_like of shape (V, D)
        The output projection (as ``torch.nn.Linear.weight``).
    target : array_like of int, shape (N,)
    bias : array_like of shape (V,), optional
    ignore_index, reduction, label_smoothing, sample_weight, n_threads
        As in :func:`cross_entropy`; `sample_weight` has shape (N,).
    z_loss, softcap, focal_gamma, return_lse
        As in :func:`cross_entropy`, fused in the same chunked pass (``lse``: shape (N,)).
    return_grad : bool, default False
        Also return ``(grad_hidden, grad_weight, grad_bias)`` (``grad_bias`` None without bias).
    chunk_size : int, optional
        Rows per chunk; default: about 16 MiB of logits, at least 128 rows.

    Returns
    -------
    loss : scalar or ndarray
    grads : tuple
        Only with ``return_grad``.

    Examples
    --------
    >>> import numpy as np, cxent
    >>> W = np.array([[.1, .2, .3], [.4, .5, .6], [.7, .8, .9]])
    >>> print(f"{cxent.linear_cross_entropy([[1.0, 2.0, 3.0]], W, [2]):.5f}")
    0.17615
    """
    lin = _LinearProblem.prepare(hidden, weight, target, bias, ignore_index, label_smoothing,
                                 chunk_size, n_threads, sample_weight,
                                 loss_options(z_loss, softcap, focal_gamma))
    red = check_reduction(reduction)
    total, losses, grads, lse = lin.run(red, return_grad, want_lse=return_lse)
    return _labels.finish(red, losses, grads, total, lin.denom, lin.h.dtype.type, return_grad,
                          lse)


@dataclass(frozen=True)
class _LinearProblem:
    """The validated inputs of a linear cross-entropy (shared with cxent.torch's backward)."""

    h: np.ndarray          # (N, D) C-contiguous, float32/float64
    w: np.ndarray          # (V, D) same dtype
    b: np.ndarray | None   # (V,)
    y: np.ndarray          # (N,) int64 class indices, checked
    eps: float
    ignore: int
    denom: float           # the denominator of "mean": targets not ignored
    chunk_size: int
    n_threads: int
    sw: np.ndarray | None  # (N,) float64 sample weights
    opts: dict             # the kernels' keywords of the loss options (loss_options)

    @classmethod
    def prepare(cls, hidden, weight, target, bias, ignore_index, label_smoothing, chunk_size,
                n_threads, sample_weight=None, opts=None):
        h = as_array(hidden, "hidden")
        w = as_array(weight, "weight")
        dt = np.result_type(h.dtype, w.dtype, np.float32)
        if dt not in (np.float32, np.float64):
            dt = np.dtype(np.float64)
        h = np.ascontiguousarray(h, dtype=dt)
        w = np.ascontiguousarray(w, dtype=dt)
        if h.ndim != 2 or w.ndim != 2 or h.shape[1] != w.shape[1]:
            raise ValueError(f"hidden (N, D) and weight (V, D) must share D; got {h.shape} and "
                             f"{w.shape}")
        N, V = h.shape[0], w.shape[0]
        if V == 0:
            raise ValueError("weight has no rows (no classes)")
        b = None
        if bias is not None:
            b = np.ascontiguousarray(as_array(bias, "bias"), dtype=dt)
            if b.shape != (V,):
                raise ValueError(f"bias must have shape ({V},), got {b.shape}")
        t = as_array(target, "target")
        y = _labels.as_int64(t)
        if t.shape != (N,):
            raise ValueError(f"target of class indices has shape {t.shape}; hidden of shape "
                             f"{h.shape} needs ({N},)")
        eps = check_label_smoothing(label_smoothing)
        ignore = check_ignore_index(ignore_index)
        nt = check_n_threads(n_threads)
        sw = _labels.sample_weights(sample_weight, (N,))
        denom, bad = _labels.denominator(y.reshape(1, N), None, ignore, V,
                                         None if sw is None else sw.reshape(1, N))
        if bad >= 0:
            raise _labels.error(int(y[bad]), (int(bad),), V, ignore)
        if chunk_size is None:  # enough rows for efficient matrix products, ~16 MiB of logits
            chunk_size = max(128, (16 << 20) // (V * dt.itemsize))
        chunk_size = max(1, min(int(chunk_size), max(N, 1)))
        return cls(h, w, b, y, eps, ignore, denom, chunk_size, nt, sw, opts or {})

    def run(self, red, want_grad, row_scale=None, want_lse=False):
        return _linear_chunks(self.h, self.w, self.b, self.y, red, self.eps, self.ignore,
                              self.denom, want_grad, self.chunk_size, self.n_threads, row_scale,
                              self.sw, self.opts, want_lse)


def _linear_chunks(h, w, b, y, red, eps, ignore, denom, want_grad, chunk_size, nt,
                   row_scale=None, sw=None, opts=None, want_lse=False):
    """The chunk loop of linear_cross_entropy on validated arrays: returns (sum of the losses,
    per-row losses for "none" else None, (grad_hidden, grad_weight, grad_bias) or None, the
    rows' log-normalisers or None).

    `row_scale` (N,), with "none", multiplies each row's gradient before the matrix products:
    the backward of per-row losses given their upstream gradient (cxent.torch).  `sw`: the
    (N,) sample weights or None."""
    N, V = h.shape[0], w.shape[0]
    dt = h.dtype
    scale = 1.0 / denom if red == "mean" and denom else 1.0
    logits = np.empty((chunk_size, V), dt)
    grad_buf = np.empty((chunk_size, V), dt) if want_grad else None
    losses = np.empty(N, dt) if red == "none" else None
    lse = np.empty(N, dt) if want_lse else None
    gh = np.empty_like(h) if want_grad else None
    gw = np.zeros_like(w) if want_grad else None
    gb = np.zeros(V, dt) if (want_grad and b is not None) else None
    tmp = np.empty_like(w) if want_grad else None  # g.T @ h of a chunk, reused
    total = 0.0
    for start in range(0, N, chunk_size):
        stop = min(N, start + chunk_size)
        n = stop - start
        z = logits[:n]
        np.matmul(h[start:stop], w.T, out=z)
        if b is not None:
            z += b
        s, _, _ = _kernels.cross_entropy_labels(
            z.reshape(1, n, V), y[start:stop].reshape(1, n), weight=None,
            sample_weight=None if sw is None else sw[start:stop].reshape(1, n),
            loss=None if losses is None else losses[start:stop].reshape(1, n),
            grad=grad_buf[:n].reshape(1, n, V) if want_grad else None,
            lse=None if lse is None else lse[start:stop].reshape(1, n), ignore_index=ignore,
            label_smoothing=eps, weight_sum=float(V), scale=scale, n_threads=nt, new_pages=False,
            **(opts or NO_LOSS_OPTIONS))
        total += s
        if want_grad:
            g = grad_buf[:n]
            if row_scale is not None:
                g *= row_scale[start:stop, None]
            np.matmul(g, w, out=gh[start:stop])
            np.matmul(g.T, h[start:stop], out=tmp)
            gw += tmp
            if gb is not None:
                gb += g.sum(axis=0)
    return total, losses, ((gh, gw, gb) if want_grad else None), lse

