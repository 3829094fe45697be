"""The tour (``python -m cxent``) and the benchmark (``python -m cxent bench``).

Every timing is the median of repeated calls, measured in this process, in the same run as the
peers it is compared with (PyTorch, scikit-learn, SciPy where installed, and a NumPy reference),
and reported as a ratio: on a shared, noisy machine only ratios measured side by side mean much.
"""

import json
import os
import platform
import time

import numpy as np

from . import _losses, _memory, _scale, _softmax, show_config
from ._version import __version__

# cross-entropy forward + gradient, integer labels, mean reduction; (N, K, dtype)
CASES = [
    (1_000_000, 10, np.float64),
    (100_000, 100, np.float32),
    (8_192, 1_000, np.float32),
    (512, 50_257, np.float32),
    (1, 3, np.float64),
]
QUICK_CASES = [(1_000_000, 10, np.float64), (8_192, 1_000, np.float32), (1, 3, np.float64)]
OPS = ["cross_entropy+grad", "ce+zloss+softcap+grad", "cross_entropy", "softmax",
       "log_softmax", "logsumexp", "linear_cross_entropy", "torch"]
# the options of the second row: PaLM's z-loss and Gemma-2's logit soft cap
Z_LOSS, SOFTCAP = 1e-4, 30.0
ROW_OPS = OPS[:-2]


def median_time(fn, min_repeat=5, max_repeat=200, budget=1.0):
    """Median wall time of fn() in seconds, over at least `min_repeat` calls (after a warm-up)."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < max_repeat:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= min_repeat and time.perf_counter() - start > budget:
            break
    return float(np.median(times))


def interleaved_medians(fns, budget, min_rounds=3, max_rounds=200, setups=None):
    """Median wall time per call of each ``fns[name]()`` in seconds, the functions timed in turn:
    round after round each one once, the order rotated every round, until at least
    `min_rounds` rounds and `budget` seconds in all; ``setups[name]()``, untimed, before each
    call of that function.  A slow spell of the shared machine then falls on all of them alike,
    and the ratios compare calls made in the same seconds (timed one after the other, a spell
    of a few seconds could fall on one function's calls only).  A function faster than about
    2 ms is called several times per turn (the mean of the turn is one sample), so that small
    calls are timed warm, as in a loop."""
    setups = setups or {}
    names = list(fns)
    calls = {}
    for name in names:  # two warm-up calls; the second one sizes the turn
        for _ in range(2):
            if name in setups:
                setups[name]()
            t0 = time.perf_counter()
            fns[name]()
            t = time.perf_counter() - t0
        calls[name] = 1 if name in setups else max(1, min(1000, int(2e-3 / max(t, 1e-9))))
    times = {name: [] for name in names}
    start = time.perf_counter()
    for rnd in range(max_rounds):
        for name in names[rnd % len(names):] + names[:rnd % len(names)]:
            f, n = fns[name], calls[name]
            if name in setups:
                setups[name]()
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            times[name].append((time.perf_counter() - t0) / n)
        if rnd + 1 >= min_rounds and time.perf_counter() - start > budget:
            break
    return {name: float(np.median(v)) for name, v in times.items()}


# ----------------------------------------------------------------------------------------------
# peers: each returns {op: callable(x, y)} for the ops it has, or None when not installed

def numpy_peer(n_threads):
    """Plain NumPy, the way a careful user writes it (several passes over the data)."""

    def lse(x):
        m = x.max(-1, keepdims=True)
        return (m + np.log(np.exp(x - m).sum(-1, keepdims=True)))[..., 0]

    def softmax(x, y):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    def log_softmax(x, y):
        return x - lse(x)[..., None]

    def ce(x, y):
        n = x.shape[0]
        return np.mean(lse(x) - x[np.arange(n), y])

    def ce_grad(x, y):
        n = x.shape[0]
        m = x.max(-1, keepdims=True)
        e = np.exp(x - m)
        s = e.sum(-1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) + m[:, 0] - x[np.arange(n), y])
        g = e / s
        g[np.arange(n), y] -= 1
        g /= n
        return loss, g

    return {"cross_entropy+grad": ce_grad, "cross_entropy": ce, "softmax": softmax,
            "log_softmax": log_softmax, "logsumexp": lambda x, y: lse(x)}


def torch_peer(n_threads):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(n_threads)
    F = torch.nn.functional
    cache = {}

    def tensors(x, y):
        key = (id(x), id(y))
        if key not in cache:
            cache.clear()
            cache[key] = (torch.from_numpy(x), torch.from_numpy(np.asarray(y, np.int64)))
        return cache[key]

    def ce_grad(x, y):
        tx, ty = tensors(x, y)
        leaf = tx.detach().requires_grad_()
        loss = F.cross_entropy(leaf, ty)
        loss.backward()
        return loss.item(), leaf.grad

    with_grad_off = torch.inference_mode

    def wrap(f):
        def g(x, y):
            with with_grad_off():
                return f(*tensors(x, y))
        return g

    def ce_options_grad(x, y):
        tx, ty = tensors(x, y)
        leaf = tx.detach().requires_grad_()
        z = SOFTCAP * torch.tanh(leaf / SOFTCAP)
        loss = F.cross_entropy(z, ty) + Z_LOSS * (torch.logsumexp(z, -1) ** 2).mean()
        loss.backward()
        return loss.item(), leaf.grad

    return {"cross_entropy+grad": ce_grad, "ce+zloss+softcap+grad": ce_options_grad,
            "cross_entropy": wrap(lambda tx, ty: F.cross_entropy(tx, ty)),
            "softmax": wrap(lambda tx, ty: torch.softmax(tx, -1)),
            "log_softmax": wrap(lambda tx, ty: torch.log_softmax(tx, -1)),
            "logsumexp": wrap(lambda tx, ty: torch.logsumexp(tx, -1))}


def sklearn_peer(n_threads):
    try:
        from sklearn._loss.loss import HalfMultinomialLoss
    except ImportError:
        return None
    cache = {}

    def setup(x, y):
        key = (id(x), id(y))
        if key not in cache:
            cache.clear()
            cache[key] = (HalfMultinomialLoss(n_classes=x.shape[1]), np.asarray(y, x.dtype),
                          np.ascontiguousarray(x))
        return cache[key]

    def ce_grad(x, y):
        loss_fn, yf, xc = setup(x, y)
        loss, grad = loss_fn.loss_gradient(yf, xc, n_threads=n_threads)
        return loss.mean(), grad / len(yf)

    def ce(x, y):
        loss_fn, yf, xc = setup(x, y)
        return loss_fn.loss(yf, xc, n_threads=n_threads).mean()

    return {"cross_entropy+grad": ce_grad, "cross_entropy": ce}


def scipy_peer(n_threads):
    try:
        from scipy import special
    except ImportError:
        return None
    return {"softmax": lambda x, y: special.softmax(x, axis=-1),
            "log_softmax": lambda x, y: special.log_softmax(x, axis=-1),
            "logsumexp": lambda x, y: special.logsumexp(x, axis=-1)}


def cxent_peer(n_threads):
    return {"cross_entropy+grad": lambda x, y: _losses.cross_entropy(x, y, return_grad=True,
                                                                   n_threads=n_threads),
            "ce+zloss+softcap+grad": lambda x, y: _losses.cross_entropy(
                x, y, z_loss=Z_LOSS, softcap=SOFTCAP, return_grad=True, n_threads=n_threads),
            "cross_entropy": lambda x, y: _losses.cross_entropy(x, y, n_threads=n_threads),
            "softmax": lambda x, y: _softmax.softmax(x, n_threads=n_threads),
            "log_softmax": lambda x, y: _softmax.log_softmax(x, n_threads=n_threads),
            "logsumexp": lambda x, y: _softmax.logsumexp(x, n_threads=n_threads)}


PEERS = {"cxent": cxent_peer, "torch": torch_peer, "sklearn": sklearn_peer, "scipy": scipy_peer,
         "numpy": numpy_peer}


def make_case(n, k, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, k)) * 2).astype(dtype)
    y = rng.integers(0, k, n)
    return x, y


def numpy_dispatch():
    """NumPy's run-time dispatch targets and the CPU features it detected ((), {} if unknown)."""
    try:
        from numpy._core import _multiarray_umath as m
    except ImportError:  # NumPy 1.x
        from numpy.core import _multiarray_umath as m
    return getattr(m, "__cpu_dispatch__", ()), getattr(m, "__cpu_features__", {})


def peer_isas():
    """What PyTorch and NumPy run their kernels with here (`bench --isa` may lower it)."""
    dispatch, features = numpy_dispatch()
    off = os.environ.get("NPY_DISABLE_CPU_FEATURES", "").split()
    on = [f for f in dispatch if features.get(f) and f not in off]
    parts = [f"numpy {'+'.join(on) or 'baseline'}"]
    try:
        import torch

        parts.append(f"torch {torch.backends.cpu.get_cpu_capability()}")
    except ImportError:
        pass
    return ", ".join(parts)


def cpu_name():
    """The CPU's model name (Linux), or the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def exp_throughput(n=1 << 20, budget=0.3):
    """Elements per second of the selected build's vectorized exp, per dtype (one thread)."""
    from ._isa import kernels

    res = {}
    for dt in (np.float32, np.float64):
        x = np.linspace(-20.0, 20.0, n).astype(dt)
        o = np.empty_like(x)
        res[np.dtype(dt).name] = n / median_time(lambda x=x, o=o: kernels.exp_array(x, o),
                                                 budget=budget)
    return res


def cross_entropy_variants(x, y, n_threads):
    """cxent's cross-entropy + gradient as a training loop calls it, the gradient written into
    one reused buffer ("grad_out"), and, for a gradient large enough to be kept (cxent._memory),
    on new pages: the first call of its size, or every call when nothing is kept ("new pages",
    cxent.release_memory before each).  Returns (functions, setups) for interleaved_medians."""
    buf = np.empty_like(x)
    fns = {"grad_out": lambda: _losses.cross_entropy(x, y, return_grad=True, grad_out=buf,
                                                     n_threads=n_threads)}
    setups = {}
    if x.nbytes > _memory.NEW_PAGES_BYTES:  # else malloc reuses it anyway
        fns["new pages"] = lambda: _losses.cross_entropy(x, y, return_grad=True,
                                                         n_threads=n_threads)
        setups["new pages"] = _memory.release_memory
    return fns, setups


def copy_function(x):
    """A same-size copy (np.copyto of x into a buffer of its shape), the bandwidth reference."""
    buf = np.empty_like(x)
    return lambda: np.copyto(buf, x)


def bandwidth_gbs(nbytes=256 << 20, budget=0.5):
    """Read+write bandwidth of one core: GB moved per second by a large copy."""
    a = np.ones(nbytes // 8)
    b = np.empty_like(a)
    t = median_time(lambda: np.copyto(b, a), min_repeat=5, budget=budget)
    return 2 * a.nbytes / t / 1e9


def _fmt_time(t):
    return f"{t * 1e3:9.2f} ms" if t >= 1e-3 else f"{t * 1e6:9.1f} us"


# ----------------------------------------------------------------------------------------------

def tour(out=print, budget=None):
    """The worked example and a quick speed comparison (well under 30 s): `budget` seconds of
    timing per case (3 by default)."""
    budget = 3.0 if budget is None else budget
    out(f"cxent {__version__}: compiled softmax and cross-entropy for NumPy\n")
    W = np.array([[.1, .2, .3], [.4, .5, .6], [.7, .8, .9]])
    x = np.array([1.0, 2.0, 3.0])
    z = W @ x
    p = _softmax.softmax(z)
    loss, grad = _losses.cross_entropy(z, 2, return_grad=True)
    with np.printoptions(precision=5, suppress=True):
        out("The worked example: a linear layer W @ x, then softmax and cross-entropy")
        out(f"  W = {W.tolist()},  x = {x.tolist()}")
        out(f"  logits z = W @ x          = {z}")
        out(f"  p = softmax(z)            = {p}   (rounded: {p.round(2)})")
        out(f"  loss = -log(p[2]), label 2 = {loss:.5f}   (-log(0.84) = {-np.log(0.84):.2f})")
        out(f"  dloss/dz = p - onehot(2)  = {grad}")
        out(f"  softmax([1, 2, 3])        = {_softmax.softmax([1.0, 2.0, 3.0]).round(2)}")
    cfg = show_config("dicts")["openmp"]
    out(f"\nOpenMP: {'on' if cfg['built_with'] else 'off'}, {cfg['max_threads']} threads by "
        f"default\n")
    out("Speed: cross-entropy forward + gradient (integer labels, mean), median wall time,")
    out("ratio = peer time / cxent time (higher means cxent is faster)")
    nt = max(1, cfg["max_threads"])
    peers = {name: make(nt) for name, make in PEERS.items()}
    op = "cross_entropy+grad"
    for n, k, dt in [(1_000_000, 10, np.float64), (8_192, 1_000, np.float32)]:
        xs, ys = make_case(n, k, dt)
        out(f"  {n:,} x {k:,} {np.dtype(dt).name}, {nt} thread(s):")
        res = interleaved_medians({name: (lambda f=ops[op], xs=xs, ys=ys: f(xs, ys))
                                   for name, ops in peers.items()
                                   if ops is not None and op in ops}, budget=budget)
        base = res.pop("cxent")
        out(f"    {'cxent':8s} {_fmt_time(base)}")
        for name, t in res.items():
            out(f"    {name:8s} {_fmt_time(t)}   x{t / base:5.1f}")
    missing = [n for n, ops in peers.items() if ops is None]
    if missing:
        out(f"  (not installed, not compared: {', '.join(missing)})")
    out("\nMore: `python -m cxent bench` compares every operation; see README.md.")


def bench(quick=False, threads=(1,), ops=None, json_file=None, plot_file=None, out=print,
          k_sweep=False, budget=None, cases=None):
    """Median times and ratios of every operation against every installed peer, on `cases`
    ((n, k, dtype) triples; CASES, or QUICK_CASES when quick, by default).  `budget`:
    seconds of timing per function and case (1.0, or 0.3 when quick, by default); the timing
    of the copy bandwidth, the exp, the K sweep and linear_cross_entropy scales with it (the
    PyTorch training steps keep their repeats)."""
    from ._isa import name as isa

    cases = cases or (QUICK_CASES if quick else CASES)
    ops = ops or OPS
    row_ops = [op for op in ops if op in ROW_OPS]
    default = 0.3 if quick else 1.0
    budget = default if budget is None else budget
    scale = budget / default
    bw = bandwidth_gbs(budget=0.5 * scale)
    exps = exp_throughput(budget=0.3 * scale)
    out(f"cxent {__version__} bench, {isa} build, on {cpu_name()} ({platform.machine()}, "
        f"{os.cpu_count()} CPUs), {platform.python_implementation()} "
        f"{platform.python_version()}, numpy {np.__version__}")
    out(f"peers' instruction sets: {peer_isas()}")
    out(f"measured read+write bandwidth (one core, large copy): {bw:.1f} GB/s; vectorized exp: "
        + ", ".join(f"{v / 1e9:.2f} G/s {k}" for k, v in exps.items()) + "\n")
    rows = []
    for nt in threads:
        peers = {name: make(nt) for name, make in PEERS.items()}
        for n, k, dt in cases if row_ops else ():
            x, y = make_case(n, k, dt)
            nbytes = 2 * x.nbytes
            out(f"== {n:,} x {k:,} {np.dtype(dt).name}, n_threads={nt}")
            for op in row_ops:
                fns = {name: (lambda f=opsd[op], x=x, y=y: f(x, y))
                       for name, opsd in peers.items() if opsd is not None and op in opsd}
                fns["copy"] = copy_function(x)
                setups = {}
                if op == "cross_entropy+grad":  # and as a training loop calls it
                    more, setups = cross_entropy_variants(x, y, nt)
                    fns.update(more)
                t = interleaved_medians(fns, budget=budget * len(fns), setups=setups)
                copy_gbs = 2 * x.nbytes / t.pop("copy") / 1e9  # read + write, same size
                variants = {v: t.pop(v) for v in ("grad_out", "new pages") if v in t}
                res = t
                base = res["cxent"]
                others = {k2: v for k2, v in res.items() if k2 != "cxent"}
                best = min(others, key=others.get) if others else None
                moved = nbytes if op in ("cross_entropy+grad", "ce+zloss+softcap+grad",
                                         "softmax", "log_softmax") else x.nbytes
                moved += y.nbytes if "cross_entropy" in op or op.startswith("ce+") else 0
                gbs = moved / base / 1e9
                line = (f"  {op:19s} cxent {_fmt_time(base)} ({gbs:5.1f} GB/s, "
                        f"{100 * gbs / copy_gbs:3.0f} % of copy)")
                row = {"n": n, "k": k, "dtype": np.dtype(dt).name, "threads": nt, "op": op,
                       "isa": isa, "seconds": res, "cxent_gbs": gbs, "copy_gbs": copy_gbs,
                       "copy_fraction": gbs / copy_gbs}
                if "grad_out" in variants:  # the gradient into a reused buffer
                    t_buf = variants["grad_out"]
                    row["grad_out_seconds"] = t_buf
                    line += (f" | grad_out= {_fmt_time(t_buf).strip()} "
                             f"({100 * moved / t_buf / 1e9 / copy_gbs:.0f} % of copy)")
                if "new pages" in variants:
                    row["new_pages_seconds"] = variants["new pages"]
                    line += f" | new pages {_fmt_time(variants['new pages']).strip()}"
                for name, t in others.items():
                    line += f" | {name} x{t / base:.2f}"
                if best:
                    line += f" | best peer {best} x{others[best] / base:.2f}"
                out(line)
                rows.append(row)
    sweep = run_k_sweep(quick, threads, out, scale) if k_sweep else []
    linear = bench_linear(quick, threads, out, scale) if "linear_cross_entropy" in ops else []
    steps = []
    if "torch" in ops:
        from ._bench_torch import bench_torch

        steps = bench_torch(quick, threads, out)
    report = {"bandwidth_gbs": bw, "exp_per_second": exps, "isa": isa, "cpu": cpu_name(),
              "machine": platform.machine(), "cpus": os.cpu_count(), "numpy": np.__version__,
              "cxent": __version__, "rows": rows, "k_sweep": sweep,
              "linear_cross_entropy": linear, "torch_steps": steps}
    if json_file:
        with open(json_file, "w") as f:
            json.dump(report, f, indent=1)
        out(f"\nwrote {json_file}")
    if plot_file:
        _plot(report, plot_file, out)
        if sweep:
            root, ext = os.path.splitext(plot_file)
            _plot_sweep(sweep, f"{root}-ksweep{ext}", isa, out)
    return report


SWEEP_ELEMENTS = 1 << 22
SWEEP_K = [2, 4, 8, 16, 17, 20, 24, 32, 33, 48, 64, 100, 256, 1_000, 4_096, 32_768]
SWEEP_K_QUICK = [2, 16, 32, 33, 100, 1_000]  # --quick: 128K elements
SWEEP_PEERS = ("torch", "sklearn", "numpy")


def run_k_sweep(quick, threads, out=print, scale=1.0):
    """Cross-entropy forward + gradient at a fixed number of elements (4M; N = 4M / K) for K from
    2 to 32,768 (quick: 128K elements, five K), both dtypes: cxent's ns per element (new
    gradient, grad_out=, and new pages where the gradient is large enough to be kept, see
    cross_entropy_variants) and the ratios against PyTorch, scikit-learn and NumPy, all timed
    in turn (interleaved_medians); `scale` multiplies the timing budget."""
    budget = (0.05 if quick else 0.5) * scale
    elements = SWEEP_ELEMENTS // 32 if quick else SWEEP_ELEMENTS
    ks = SWEEP_K_QUICK if quick else SWEEP_K
    rows = []
    for nt in threads:
        peers = {name: PEERS[name](nt) for name in ("cxent", *SWEEP_PEERS)}
        peers = {k: v for k, v in peers.items() if v is not None}
        for dt in (np.float32, np.float64):
            name = np.dtype(dt).name
            out(f"\n== K sweep: cross-entropy forward + gradient, {elements:,} {name} "
                f"elements (N = elements / K), n_threads={nt}; ns per element, ratio = peer "
                f"time / cxent time")
            out(f"  {'K':>6s} {'cxent':>7s} {'grad_out':>8s} {'new pgs':>8s} "
                + " ".join(f"{p:>8s}" for p in peers if p != "cxent"))
            for k in ks:
                x, y = make_case(elements // k, k, dt)
                fns = {p: (lambda f=ops["cross_entropy+grad"], x=x, y=y: f(x, y))
                       for p, ops in peers.items()}
                more, setups = cross_entropy_variants(x, y, nt)
                fns.update({f"cxent {v}": f for v, f in more.items()})
                res = interleaved_medians(fns, budget=budget * len(fns),
                                          setups={f"cxent {v}": f for v, f in setups.items()})
                new = "-"
                if "cxent new pages" in res:
                    new = f"{res['cxent new pages'] / x.size * 1e9:.2f}"
                base = res["cxent"]
                out(f"  {k:6d} {base / x.size * 1e9:7.2f} "
                    f"{res['cxent grad_out'] / x.size * 1e9:8.2f} {new:>8s} "
                    + " ".join(f"{'x' + format(res[p] / base, '.2f'):>8s}" for p in peers
                               if p != "cxent"))
                rows.append({"k": k, "n": x.shape[0], "dtype": name, "threads": nt,
                             "seconds": res, "ns_per_element": base / x.size * 1e9})
    return rows


def _plot_sweep(rows, path, isa, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        out("matplotlib is not installed: no plot")
        return
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for (dt, nt), style in zip(sorted({(r["dtype"], r["threads"]) for r in rows}),
                               ["-o", "-s", "--o", "--s"] * 4, strict=False):
        sel = [r for r in rows if r["dtype"] == dt and r["threads"] == nt]
        ks = [r["k"] for r in sel]
        a1.plot(ks, [r["ns_per_element"] for r in sel], style, label=f"cxent {dt} t{nt}")
        a2.plot(ks, [min(t for p, t in r["seconds"].items() if p in SWEEP_PEERS)
                     / r["seconds"]["cxent"] for r in sel], style, label=f"{dt} t{nt}")
    for a in (a1, a2):
        a.set_xscale("log", base=2)
        a.set_xlabel("classes K")
        a.legend(fontsize=7)
    a1.set_ylabel("ns per element")
    a1.set_title(f"cxent ({isa} build), forward + gradient")
    a2.set_ylabel("fastest peer's time / cxent time")
    a2.set_yscale("log")
    a2.axhline(3.0, color="k", lw=0.5, ls=":")
    a2.axhline(1.0, color="k", lw=0.5)
    a2.set_title("against the fastest of " + ", ".join(SWEEP_PEERS) + " (dotted: 3x)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    out(f"wrote {path}")


def bench_linear(quick, threads, out=print, scale=1.0):
    """linear_cross_entropy (chunked, fused) against the naive path: matmul, cross_entropy with
    gradient, backward matmuls; and PyTorch's naive and fused versions where installed.
    `scale` multiplies the timing budget."""
    import tracemalloc

    n, d, v = (1024, 128, 8192) if quick else (2048, 256, 32768)
    rng = np.random.default_rng(0)
    h = rng.standard_normal((n, d)).astype(np.float32)
    w = (rng.standard_normal((v, d)) * 0.05).astype(np.float32)
    y = rng.integers(0, v, n)
    full_mb = n * v * 4 / 2**20

    def naive():
        z = h @ w.T
        loss, g = _losses.cross_entropy(z, y, return_grad=True)
        return loss, (g @ w, g.T @ h)

    def fused():
        return _scale.linear_cross_entropy(h, w, y, return_grad=True)

    def peak(f):
        tracemalloc.start()
        f()
        mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        return mb

    out(f"\n== linear_cross_entropy: hidden {n} x {d}, weight {v} x {d} float32, forward + "
        f"gradients (full logits would be {full_mb:.0f} MiB)")
    rows = []
    budget = (0.5 if quick else 2.0) * scale
    try:
        import torch
    except ImportError:
        torch = None
    torch_fns = {}
    if torch is not None:
        F = torch.nn.functional
        th, tw, ty = torch.from_numpy(h), torch.from_numpy(w), torch.from_numpy(y)

        def torch_naive():
            a, b = th.detach().requires_grad_(), tw.detach().requires_grad_()
            F.cross_entropy(a @ b.T, ty).backward()

        torch_fns["torch naive"] = torch_naive
        if hasattr(F, "linear_cross_entropy"):
            def torch_fused():
                a, b = th.detach().requires_grad_(), tw.detach().requires_grad_()
                F.linear_cross_entropy(a, b, ty).backward()

            torch_fns["torch linear_cross_entropy"] = torch_fused
    for nt in threads:
        t_fused = median_time(lambda nt=nt: _scale.linear_cross_entropy(h, w, y, return_grad=True,
                                                                       n_threads=nt),
                              min_repeat=3, budget=budget)
        t_naive = median_time(naive, min_repeat=3, budget=budget)
        row = {"threads": nt, "cxent_fused_s": t_fused, "cxent_naive_s": t_naive,
               "cxent_fused_peak_mib": peak(fused), "cxent_naive_peak_mib": peak(naive)}
        line = (f"  n_threads={nt}: cxent fused {t_fused * 1e3:.1f} ms, peak "
                f"{row['cxent_fused_peak_mib']:.0f} MiB | naive (matmul + cxent + matmuls) "
                f"{t_naive * 1e3:.1f} ms, peak {row['cxent_naive_peak_mib']:.0f} MiB | "
                f"fused/naive x{t_fused / t_naive:.2f}")
        if torch is not None:
            torch.set_num_threads(nt)
        for name, fn in torch_fns.items():
            try:
                row[name] = median_time(fn, min_repeat=3, budget=budget)
                line += f" | {name} {row[name] * 1e3:.1f} ms"
            except (RuntimeError, TypeError) as e:  # signatures differ across versions
                line += f" | {name} failed: {e}"
        out(line)
        rows.append(row)
    out("  (peak: Python-tracked allocations during one call, tracemalloc; PyTorch's allocations "
        "are not tracked)")
    return rows


def _plot(report, path, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        out("matplotlib is not installed: no plot")
        return
    rows = [r for r in report["rows"] if r["op"] == "cross_entropy+grad"]
    labels = [f"{r['n']}x{r['k']}\n{r['dtype']} t{r['threads']}" for r in rows]
    names = sorted({n for r in rows for n in r["seconds"]})
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(rows)), 4))
    w = 0.8 / len(names)
    for j, name in enumerate(names):
        vals = [r["seconds"]["cxent"] and r["seconds"].get(name, np.nan) / r["seconds"]["cxent"]
                for r in rows]
        ax.bar(np.arange(len(rows)) + j * w, vals, w, label=name)
    ax.set_xticks(np.arange(len(rows)) + 0.4 - w / 2, labels, fontsize=8)
    ax.set_ylabel("time / cxent time (higher: cxent faster)")
    ax.set_yscale("log")
    ax.axhline(1.0, color="k", lw=0.5)
    ax.set_title("cross-entropy forward + gradient, median wall time")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    out(f"wrote {path}")
