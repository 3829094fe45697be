"""cxent inside PyTorch: autograd functions and a module with ``torch.nn.functional``'s signatures.

Needs PyTorch (``pip install "cxent[torch]"``); ``import cxent`` never imports it.  The forward
pass runs cxent's fused kernel on the tensors' own memory (CPU float32/float64 tensors of any
strides are viewed as NumPy arrays, no copy) and computes the loss and its gradient in the same
pass; the backward pass only scales the saved gradient by ``grad_output``.  No gradient is
computed when the input does not require one.

>>> import torch, cxent.torch as cxt
>>> W = torch.tensor([[.1, .2, .3], [.4, .5, .6], [.7, .8, .9]], dtype=torch.float64)
>>> logits = (W @ torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).requires_grad_()
>>> loss = cxt.cross_entropy(logits[None], torch.tensor([2]))
>>> loss.backward()
>>> print(f"{loss.item():.5f}", logits.grad.numpy().round(4))
0.17615 [ 0.0229  0.1386 -0.1615]

Differences from ``torch.nn.functional.cross_entropy`` (those of :func:`cxent.cross_entropy`):
ignored positions get an exact zero gradient even when their logits are nan or inf, a zero
probability target contributes nothing where its logit is ``-inf``, and integer targets may be
of any integer dtype.  Gradients with respect to `target` and `weight` are not computed (a
tensor that requires one is a ``ValueError``), and double backward raises an error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from . import _losses, _scale
from ._validate import check_reduction

__all__ = ["CrossEntropyLoss", "cross_entropy", "linear_cross_entropy"]

_FLOATS = (torch.float32, torch.float64)


def _numpy(t, name, *, floats=True):
    """A CPU tensor's memory as an ndarray (no copy); clear errors for what cxent cannot take."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise TypeError(f"{name} is on device {t.device}; cxent computes on the CPU (move it "
                        f"with .cpu())")
    if floats and t.dtype not in _FLOATS:
        raise TypeError(f"{name} has dtype {t.dtype}; cxent computes in float32 or float64 "
                        f"(convert with .float() or .double())")
    return t.detach().resolve_conj().resolve_neg().numpy()


def _no_grad_needed(t, name, what):
    if isinstance(t, torch.Tensor) and t.requires_grad:
        raise ValueError(f"{name} requires grad, but cxent.torch.{what} does not differentiate "
                         f"with respect to it; pass {name}.detach()")


def _options(options):
    """cxent keyword options; tensors among them (per-position weights) viewed as arrays."""
    return {k: _numpy(v, k, floats=False) if isinstance(v, torch.Tensor) else v
            for k, v in options.items()}


def _first_order_only(what):
    # the backward runs with grad mode on only for create_graph=True (double backward)
    if torch.is_grad_enabled():
        raise RuntimeError(f"cxent.torch.{what} has no double backward (create_graph=True): "
                           f"its gradient is computed by the fused kernel, not by autograd")


def _scaled(grad, grad_output, reduction, class_dim):
    """The saved gradient times grad_output: a scalar, or one value per position ("none")."""
    if reduction == "none" and grad_output.dim():
        grad_output = grad_output.unsqueeze(class_dim)
    elif grad_output.numel() == 1 and grad_output.item() == 1.0:
        return grad  # loss.backward(): no pass over the gradient
    return grad * grad_output.to(grad.dtype)


class _CrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, reduction, label_smoothing, options,
                want_grad):
        x = _numpy(input, "input")
        soft = target.is_floating_point()
        if soft and target.dtype != input.dtype:
            raise TypeError(f"probability target has dtype {target.dtype}, input has "
                            f"{input.dtype}; they must be equal (as in PyTorch)")
        y = _numpy(target, "target", floats=False)
        w = None if weight is None else _numpy(weight, "weight")
        axis = 1 if x.ndim >= 2 else 0
        res = _losses.cross_entropy(x, y, axis=axis, weight=w, ignore_index=ignore_index,
                                    reduction=reduction, label_smoothing=label_smoothing,
                                    return_grad=want_grad, **options)
        loss, grad = res if want_grad else (res, None)
        ctx.reduction = reduction
        ctx.class_dim = axis
        if want_grad:
            ctx.save_for_backward(torch.from_numpy(grad))
        return torch.from_numpy(np.asarray(loss))

    @staticmethod
    def backward(ctx, grad_output):
        _first_order_only("cross_entropy")
        (grad,) = ctx.saved_tensors
        return _scaled(grad, grad_output, ctx.reduction, ctx.class_dim), *([None] * 7)


def cross_entropy(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                  *, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0, **options: Any) -> torch.Tensor:
    """``torch.nn.functional.cross_entropy`` computed by cxent's fused kernel, with autograd.

    Parameters
    ----------
    input : Tensor
        Logits of shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``: CPU, float32 or float64,
        any strides (read in place, never modified).
    target : Tensor
        Class indices (any integer dtype) of shape ``()``, ``(N,)`` or ``(N, d1, ...)``, or
        class probabilities of `input`'s shape and dtype.
    weight : Tensor, optional
        A weight per class, shape ``(C,)``.
    ignore_index, reduction, label_smoothing
        As in PyTorch (and :func:`cxent.cross_entropy`).
    **options
        Further keywords of :func:`cxent.cross_entropy` (``n_threads``, ...).

    Returns
    -------
    Tensor
        A 0-d tensor for "mean" and "sum", the target positions' shape for "none"; its gradient
        flows back to `input`.

    Examples
    --------
    >>> import torch, cxent.torch as cxt
    >>> x = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]], requires_grad=True)
    >>> loss = cxt.cross_entropy(x, torch.tensor([0, 2]), label_smoothing=0.1)
    >>> loss.backward()
    >>> bool(torch.allclose(loss, torch.nn.functional.cross_entropy(
    ...     x, torch.tensor([0, 2]), label_smoothing=0.1)))
    True
    """
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}")
    _no_grad_needed(target, "target", "cross_entropy")
    _no_grad_needed(weight, "weight", "cross_entropy")
    want_grad = isinstance(input, torch.Tensor) and input.requires_grad \
        and torch.is_grad_enabled()
    return _CrossEntropy.apply(input, target, weight, ignore_index, reduction, label_smoothing,
                               _options(options), want_grad)


class CrossEntropyLoss(torch.nn.Module):
    """``torch.nn.CrossEntropyLoss`` computed by cxent: the same constructor and call.

    Parameters
    ----------
    weight : Tensor, optional
        A weight per class (registered as a buffer, as in PyTorch).
    size_average, reduce
        PyTorch's deprecated arguments, mapped to `reduction` as PyTorch does.
    ignore_index, reduction, label_smoothing
        As in PyTorch.
    **options
        Further keywords of :func:`cxent.cross_entropy` (``n_threads``, ...).

    Examples
    --------
    >>> import torch, cxent.torch as cxt
    >>> loss_fn = cxt.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5]))
    >>> x = torch.tensor([[2.0, 0.5, -1.0], [1.0, 1.0, 1.0]], requires_grad=True)
    >>> loss = loss_fn(x, torch.tensor([0, 2]))
    >>> loss.backward()
    >>> print(f"{loss.item():.6f}", x.grad.shape)
    0.527078 torch.Size([2, 3])
    """

    def __init__(self, weight: torch.Tensor | None = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
                 label_smoothing: float = 0.0, **options: Any) -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = torch.nn._reduction.legacy_get_string(size_average, reduce)
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.reduction = reduction
        self.label_smoothing = label_smoothing
        self.options = options

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                             reduction=self.reduction, label_smoothing=self.label_smoothing,
                             **self.options)

    def extra_repr(self) -> str:
        return (f"ignore_index={self.ignore_index}, reduction={self.reduction!r}, "
                f"label_smoothing={self.label_smoothing}")


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, linear_weight, target, linear_bias, reduction, ignore_index,
                label_smoothing, chunk_size, n_threads, want_grad):
        arrays = [None if t is None else _numpy(t, name) for t, name in
                  ((input, "input"), (linear_weight, "linear_weight"),
                   (linear_bias, "linear_bias"))]
        if any(a is not None and a.dtype != arrays[0].dtype for a in arrays):
            raise TypeError(f"input ({input.dtype}), linear_weight ({linear_weight.dtype}) and "
                            f"linear_bias must have the same dtype")
        h, w, b = arrays
        lin = _scale._LinearProblem.prepare(h, w, _numpy(target, "target", floats=False), b,
                                            ignore_index, label_smoothing, chunk_size,
                                            n_threads)
        red = check_reduction(reduction)
        # "none": the gradient depends on each row's grad_output, so the backward computes it
        total, losses, grads, _ = lin.run(red, want_grad and red != "none")
        ctx.lin, ctx.reduction, ctx.has_bias = lin, red, linear_bias is not None
        if grads is not None:
            ctx.save_for_backward(*(torch.from_numpy(g) for g in grads if g is not None))
        if red == "none":
            return torch.from_numpy(losses)
        loss = total if red == "sum" else (total / lin.denom if lin.denom else np.nan)
        return torch.tensor(loss, dtype=input.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        _first_order_only("linear_cross_entropy")
        lin = ctx.lin
        if ctx.reduction == "none":
            go = np.ascontiguousarray(_numpy(grad_output, "grad_output"), dtype=lin.h.dtype)
            _, _, grads, _ = lin.run("none", True, row_scale=go)
            grads = [None if g is None else torch.from_numpy(g) for g in grads]
        else:
            saved = list(ctx.saved_tensors)
            grads = [g * grad_output.to(g.dtype) for g in saved]
            if not ctx.has_bias:
                grads.append(None)
        gh, gw, gb = grads
        return gh, gw, None, gb, None, None, None, None, None, None


def linear_cross_entropy(input: torch.Tensor, linear_weight: torch.Tensor, target: torch.Tensor,
                         *, linear_bias: torch.Tensor | None = None, reduction: str = "mean",
                         ignore_index: int = -100, label_smoothing: float = 0.0,
                         chunk_size: int | None = None, n_threads: int | None = None
                         ) -> torch.Tensor:
    """``torch.nn.functional.linear_cross_entropy`` without materialising the logits.

    ``cross_entropy(input @ linear_weight.T + linear_bias, target)`` computed chunk by chunk by
    :func:`cxent.linear_cross_entropy`, with gradients for `input`, `linear_weight` and
    `linear_bias`.  Class weights (PyTorch's ``weight``) are not supported.

    Parameters
    ----------
    input : Tensor of shape (N, D)
    linear_weight : Tensor of shape (V, D)
    target : Tensor of int, shape (N,)
    linear_bias : Tensor of shape (V,), optional
    reduction, ignore_index, label_smoothing
        As in PyTorch.
    chunk_size, n_threads
        As in :func:`cxent.linear_cross_entropy`.

    Returns
    -------
    Tensor

    Examples
    --------
    >>> import torch, cxent.torch as cxt
    >>> W = torch.tensor([[.1, .2, .3], [.4, .5, .6], [.7, .8, .9]], requires_grad=True)
    >>> loss = cxt.linear_cross_entropy(torch.tensor([[1.0, 2.0, 3.0]]), W, torch.tensor([2]))
    >>> loss.backward()
    >>> print(f"{loss.item():.5f}", tuple(W.grad.shape))
    0.17615 (3, 3)
    """
    _no_grad_needed(target, "target", "linear_cross_entropy")
    want_grad = torch.is_grad_enabled() and any(
        isinstance(t, torch.Tensor) and t.requires_grad
        for t in (input, linear_weight, linear_bias))
    return _LinearCrossEntropy.apply(input, linear_weight, target, linear_bias, reduction,
                                     ignore_index, label_smoothing, chunk_size, n_threads,
                                     want_grad)
