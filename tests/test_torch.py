"""cxent.torch against torch.nn.functional: values, gradients, gradcheck, a training run."""

import subprocess
import sys
import zlib

import numpy as np
import pytest

import cxent

torch = pytest.importorskip("torch")
import cxent.torch as cxt  # noqa: E402

F = torch.nn.functional

SHAPES = [(5,), (7, 5), (4, 5, 3), (2, 5, 3, 2), (6, 20)]


def _targets(shape, kind, dtype, gen):
    C = shape[0] if len(shape) == 1 else shape[1]
    lshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    if kind == "index":
        y = torch.randint(0, C, lshape, generator=gen)
        if y.dim():
            y.view(-1)[::3] = 1  # ignored when ignore_index=1
        else:
            y.fill_(2)
        return y
    p = torch.rand(shape, generator=gen, dtype=dtype)
    return p / p.sum(dim=0 if len(shape) == 1 else 1, keepdim=True)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("kind", "ignore_index"), [("index", -100), ("index", 1),
                                                    ("probs", -100)])
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_against_torch(dtype, shape, reduction, weighted, kind, ignore_index, eps):
    # a seed of the case that is the same in every process (hash() of strings is not)
    gen = torch.Generator().manual_seed(zlib.crc32(repr((shape, reduction, weighted, kind))
                                                   .encode()))
    C = shape[0] if len(shape) == 1 else shape[1]
    x0 = torch.randn(shape, generator=gen, dtype=dtype) * 3
    target = _targets(shape, kind, dtype, gen)
    w = torch.rand(C, generator=gen, dtype=dtype) + 0.5 if weighted else None
    kw = {"ignore_index": ignore_index, "reduction": reduction, "label_smoothing": eps}
    xa = x0.clone().requires_grad_()
    xb = x0.clone().requires_grad_()
    ours = cxt.cross_entropy(xa, target, w, **kw)
    theirs = F.cross_entropy(xb, target, w, **kw)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    go = torch.randn(theirs.shape, generator=gen, dtype=dtype) if reduction == "none" \
        else torch.tensor(1.7, dtype=dtype)
    ours.backward(go)
    theirs.backward(go)
    tol = 2e-5 if dtype == torch.float32 else 1e-12
    # nan where PyTorch gives nan: a "mean" whose targets are all ignored (a third of the
    # index targets are class 1, the others random)
    torch.testing.assert_close(ours, theirs, rtol=tol, atol=tol, equal_nan=True)
    torch.testing.assert_close(xa.grad, xb.grad, rtol=tol, atol=tol, equal_nan=True)
    torch.testing.assert_close(xa.detach(), x0)  # never modified


def test_module_matches_nn_cross_entropy_loss():
    w = torch.tensor([1.0, 2.0, 0.5])
    x = torch.randn(8, 3, requires_grad=True)
    y = torch.randint(0, 3, (8,))
    for kw in ({}, {"weight": w}, {"label_smoothing": 0.3, "reduction": "sum"},
               {"ignore_index": 0, "reduction": "none"}):
        ours = cxt.CrossEntropyLoss(**kw)
        theirs = torch.nn.CrossEntropyLoss(**kw)
        torch.testing.assert_close(ours(x, y), theirs(x, y))
    mod = cxt.CrossEntropyLoss(weight=w)
    assert "weight" in dict(mod.named_buffers())
    assert "reduction='mean'" in repr(mod)
    with pytest.warns(UserWarning, match="deprecated"):
        legacy = cxt.CrossEntropyLoss(size_average=False)
    assert legacy.reduction == "sum"


def test_strided_inputs_are_read_in_place():
    base = torch.randn(6, 10, dtype=torch.float64)
    x = base.t()[::2].requires_grad_()   # (5, 6) with strides (2, 10): no copy
    y = torch.randint(0, 6, (5,))
    ours = cxt.cross_entropy(x, y)
    ours.backward()
    xr = x.detach().clone().requires_grad_()
    F.cross_entropy(xr, y).backward()
    torch.testing.assert_close(x.grad, xr.grad, rtol=1e-13, atol=1e-15)


def test_gradcheck_float64():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 5, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 5, (4, 3), generator=gen)
    w = torch.rand(5, generator=gen, dtype=torch.float64) + 0.5
    for red in ("mean", "sum", "none"):
        assert torch.autograd.gradcheck(
            lambda z, red=red: cxt.cross_entropy(z, y, w, reduction=red, label_smoothing=0.1),
            (x,))
    t = torch.softmax(torch.randn(4, 5, 3, generator=gen, dtype=torch.float64), 1)
    assert torch.autograd.gradcheck(lambda z: cxt.cross_entropy(z, t, reduction="none"), (x,))


def test_no_gradient_when_not_required(monkeypatch):
    seen = []
    real = cxent._losses.cross_entropy

    def spy(*a, **kw):
        seen.append(kw["return_grad"])
        return real(*a, **kw)

    monkeypatch.setattr(cxent._losses, "cross_entropy", spy)
    x = torch.randn(4, 3)
    loss = cxt.cross_entropy(x, torch.tensor([0, 1, 2, 0]))
    assert loss.grad_fn is None and not loss.requires_grad
    with torch.no_grad():
        cxt.cross_entropy(x.requires_grad_(), torch.tensor([0, 1, 2, 0]))
    assert seen == [False, False]


def test_double_backward_is_a_clear_error():
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    loss = cxt.cross_entropy(x, torch.tensor([0, 1, 3]))
    with pytest.raises(RuntimeError, match="has no double backward"):
        torch.autograd.grad(loss, x, create_graph=True)
    h = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    W = torch.randn(4, 2, dtype=torch.float64)
    loss = cxt.linear_cross_entropy(h, W, torch.tensor([0, 1, 3]))
    with pytest.raises(RuntimeError, match="has no double backward"):
        torch.autograd.grad(loss, h, create_graph=True)


def test_errors():
    x = torch.randn(3, 4)
    y = torch.tensor([0, 1, 2])
    with pytest.raises(TypeError, match=r"input has dtype torch.float16; cxent computes in "
                                        r"float32 or float64"):
        cxt.cross_entropy(x.half(), y)
    with pytest.raises(TypeError, match="bfloat16"):
        cxt.cross_entropy(x.bfloat16(), y)
    with pytest.raises(TypeError, match=r"input is on device meta; cxent computes on the CPU"):
        cxt.cross_entropy(torch.empty(3, 4, device="meta"), y)
    with pytest.raises(ValueError, match=r"class index 4 at position \(2,\), outside \[0, 4\)"):
        cxt.cross_entropy(x, torch.tensor([0, 1, 4]))
    with pytest.raises(ValueError, match="target requires grad"):
        cxt.cross_entropy(x, torch.softmax(x, 1).requires_grad_())
    with pytest.raises(TypeError, match=r"probability target has dtype torch\.float64"):
        cxt.cross_entropy(x, torch.softmax(x, 1).double())
    with pytest.raises(TypeError, match=r"target must be a torch\.Tensor"):
        cxt.cross_entropy(x, [0, 1, 2])
    with pytest.raises(ValueError, match="reduction"):
        cxt.cross_entropy(x, y, reduction="avg")


def _train(loss_fn, steps=40):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(64, 10, generator=gen)
    y = (X[:, :4].argmax(1) + (X[:, 4] > 1).long()) % 4
    curve = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()
        curve.append(loss.item())
    return np.array(curve)


def test_training_follows_nn_cross_entropy_loss():
    w = torch.tensor([1.0, 1.5, 0.7, 1.2])
    ours = _train(cxt.CrossEntropyLoss(weight=w, label_smoothing=0.05))
    theirs = _train(torch.nn.CrossEntropyLoss(weight=w, label_smoothing=0.05))
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    assert ours[-1] < 0.6 * ours[0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("with_bias", [False, True])
def test_linear_cross_entropy_against_torch(dtype, reduction, with_bias):
    gen = torch.Generator().manual_seed(3)
    N, D, V = 50, 8, 37
    h0 = torch.randn(N, D, generator=gen, dtype=dtype)
    W0 = torch.randn(V, D, generator=gen, dtype=dtype) * 0.5
    b0 = torch.randn(V, generator=gen, dtype=dtype) if with_bias else None
    y = torch.randint(0, V, (N,), generator=gen)
    y[::7] = 5
    kw = {"reduction": reduction, "ignore_index": 5, "label_smoothing": 0.1}
    ours_in = [t.clone().requires_grad_() for t in (h0, W0) + ((b0,) if with_bias else ())]
    theirs_in = [t.clone().requires_grad_() for t in (h0, W0) + ((b0,) if with_bias else ())]
    ours = cxt.linear_cross_entropy(ours_in[0], ours_in[1], y,
                                    linear_bias=ours_in[2] if with_bias else None,
                                    chunk_size=16, **kw)
    theirs = F.cross_entropy(F.linear(theirs_in[0], theirs_in[1],
                                      theirs_in[2] if with_bias else None), y, **kw)
    go = torch.randn(theirs.shape, generator=gen, dtype=dtype) if reduction == "none" \
        else torch.tensor(0.6, dtype=dtype)
    ours.backward(go)
    theirs.backward(go)
    tol = 2e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(ours, theirs, rtol=tol, atol=tol)
    for a, b in zip(ours_in, theirs_in, strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=tol * 10, atol=tol)


def test_linear_cross_entropy_matches_torch_function_and_gradcheck():
    gen = torch.Generator().manual_seed(4)
    h = torch.randn(6, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    W = torch.randn(9, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(9, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 9, (6,), generator=gen)
    torch.testing.assert_close(cxt.linear_cross_entropy(h, W, y, linear_bias=b),
                               F.linear_cross_entropy(h, W, y, linear_bias=b))
    for red in ("mean", "none"):
        assert torch.autograd.gradcheck(
            lambda h, W, b, red=red: cxt.linear_cross_entropy(h, W, y, linear_bias=b,
                                                              reduction=red, chunk_size=4),
            (h, W, b))
    with pytest.raises(TypeError, match="same dtype"):
        cxt.linear_cross_entropy(h, W.float(), y)
    with pytest.raises(ValueError, match=r"class index 9 at position \(1,\)"):
        cxt.linear_cross_entropy(h, W, torch.tensor([0, 9, 1, 2, 3, 4]))


def test_numpy_functions_take_tensors_without_copying():
    x = torch.randn(5, 4, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3, 0])
    p = cxent.softmax(x)
    assert isinstance(p, np.ndarray)
    np.testing.assert_allclose(p, torch.softmax(x, 1).numpy(), rtol=1e-14)
    loss, g = cxent.cross_entropy(x, y, return_grad=True)
    np.testing.assert_allclose(loss, F.cross_entropy(x, y).item(), rtol=1e-14)
    xg = x.clone().requires_grad_()
    F.cross_entropy(xg, y).backward()
    np.testing.assert_allclose(g, xg.grad.numpy(), rtol=1e-13, atol=1e-16)
    out = x.numpy()
    assert cxent.softmax(x, out=out) is out  # the tensor's memory, written through out=
    torch.testing.assert_close(x, torch.from_numpy(p))

    class DLPackOnly:
        def __init__(self, t):
            self.t = t

        def __dlpack__(self, **kw):
            return self.t.__dlpack__(**kw)

        def __dlpack_device__(self):
            return self.t.__dlpack_device__()

    z = torch.randn(3, 6)
    np.testing.assert_allclose(cxent.logsumexp(DLPackOnly(z)), torch.logsumexp(z, 1).numpy(),
                               rtol=1e-6)
    with pytest.raises(TypeError, match=r"requires grad: use cxent\.torch"):
        cxent.softmax(z.requires_grad_())
    with pytest.raises(TypeError, match="requires grad"):
        cxent.cross_entropy(np.zeros((3, 6)), torch.softmax(z, 1))


def test_import_cxent_does_not_import_torch():
    code = "import sys, cxent; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_sample_weight_option():
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(6, 4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 4, (6, 3), generator=gen)
    sw = torch.rand(6, 3, generator=gen, dtype=torch.float64)
    w = torch.rand(4, generator=gen, dtype=torch.float64) + 0.5
    loss = cxt.cross_entropy(x, y, w, sample_weight=sw)
    loss.backward()
    xr = x.detach().clone().requires_grad_()
    per = F.cross_entropy(xr, y, w, reduction="none")
    ref = (per * sw).sum() / (w[y] * sw).sum()
    ref.backward()
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=0)
    torch.testing.assert_close(x.grad, xr.grad, rtol=1e-12, atol=1e-15)
    assert torch.autograd.gradcheck(
        lambda z: cxt.cross_entropy(z, y, sample_weight=sw, reduction="none"), (x,))
