"""Record the exact bits of a fixed set of calls, and compare a later build against them.

For refactors that must not change any result (the redesign of the compiled layer)::

    CXENT_ISA=avx2 python benchmarks/bits.py record benchmarks/bits-avx2.json
    ... change the code, rebuild ...
    CXENT_ISA=avx2 python benchmarks/bits.py compare benchmarks/bits-avx2.json

A third argument, an .npz file, stores the values themselves with ``record`` and makes
``compare`` print, for each call that differs, its largest difference in ulps of the element and
in ulps of the array's largest magnitude (an entry that cancels to nearly 0 can differ by many
ulps of itself and still by less than one of the array).

benchmarks/bits-{baseline,avx2,avx512}.json hold the records of this repository's last
recorded state (GCC 12 on Debian 12, NumPy 2.4).

Every public function, both dtypes, the small-K tile path (K <= 40, float32 to 64; K = 2's one
exp per row) and the row path, every option (weights, ignore_index inside and outside [0, K),
label smoothing, the reductions, probability targets, strided and transposed layouts, the fast
path of small calls). Each result is stored as the SHA-256 of its bytes, dtype and shape; a
record is specific to one instruction-set build (their last bits may differ), so record and
compare with the same CXENT_ISA.
"""

import hashlib
import json
import sys

import numpy as np

import cxent


def _digest(value):
    parts = value if isinstance(value, tuple) else (value,)
    h = hashlib.sha256()
    for p in parts:
        if p is None:
            h.update(b"None")
            continue
        if isinstance(p, tuple):  # linear_cross_entropy's gradients
            h.update(_digest(p).encode())
            continue
        a = np.ascontiguousarray(p)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _k_calls(rng, dt, K):
    """(name, thunk) for the calls of one dtype and number of classes, drawn from rng."""
    x = (rng.standard_normal((257, K)) * 3).astype(dt)
    x[5, 0] = 30.0            # a confident row
    x[7, :2] = x[7, :2].max()  # tied maxima
    y = rng.integers(0, K, 257)
    y[::11] = -100
    yi = np.where(y == -100, 1, y)  # ignore_index inside [0, K)
    w = (rng.random(K) + 0.5).astype(dt)
    t = cxent.softmax(rng.standard_normal((257, K))).astype(dt)
    x3 = (rng.standard_normal((4, K, 9)) * 2).astype(dt)
    y3 = rng.integers(0, K, (4, 9))
    sw = rng.random(257) * 2
    sw[::7] = 0.0
    tag = f"{np.dtype(dt).name}-K{K}"
    c = [
        ("softmax", lambda x=x: cxent.softmax(x)),
        ("log_softmax", lambda x=x: cxent.log_softmax(x)),
        ("logsumexp", lambda x=x: cxent.logsumexp(x)),
        ("softmax axis0", lambda x=x: cxent.softmax(x, axis=0)),
        ("softmax F-order", lambda x=x: cxent.softmax(np.asfortranarray(x))),
        ("logsumexp b sign", lambda x=x: cxent.logsumexp(x, b=x > 0, return_sign=True)),
        ("softmax_backward", lambda x=x: cxent.softmax_backward(x, cxent.softmax(x))),
        ("log_softmax_backward",
         lambda x=x: cxent.log_softmax_backward(x, cxent.log_softmax(x))),
        ("entropy", lambda t=t: cxent.entropy(t)),
        ("kl", lambda t=t: cxent.kl_divergence(t, t[::-1])),
        ("xent_dist", lambda t=t: cxent.cross_entropy_dist(t, t[::-1], base=2)),
        ("bce", lambda x=x, t=t, w=w: cxent.binary_cross_entropy_with_logits(
            x, t, pos_weight=w, reduction="sum", return_grad=True)),
        ("nll", lambda x=x, y=y, w=w: cxent.nll_loss(
            cxent.log_softmax(x), y, weight=w, return_grad=True)),
        ("xent fast", lambda x=x, y=yi: cxent.cross_entropy(x, y, return_grad=True)),
        ("xent rows strided",
         lambda x=x, y=y: cxent.cross_entropy(x[::2], y[::2], return_grad=True)),
        ("xent axis1", lambda x3=x3, y3=y3: cxent.cross_entropy(
            x3, y3, axis=1, reduction="none", return_grad=True)),
        ("probs", lambda x=x, t=t, w=w: cxent.cross_entropy(
            x, t, weight=w, label_smoothing=0.2, return_grad=True)),
        ("probs axis0", lambda x=x, t=t: cxent.cross_entropy(
            x.T, t.T, axis=0, reduction="none", return_grad=True)),
        ("xent axis0 w eps", lambda x=x, y=y, w=w: cxent.cross_entropy(
            x.T, y, axis=0, weight=w, label_smoothing=0.3, reduction="none",
            return_grad=True)),
        ("xent sample_weight", lambda x=x, y=y, w=w, sw=sw: cxent.cross_entropy(
            x, y, weight=w, label_smoothing=0.3, sample_weight=sw, return_grad=True)),
        ("xent sample_weight axis0", lambda x=x, y=y, sw=sw: cxent.cross_entropy(
            x.T, y, axis=0, sample_weight=sw, reduction="none", return_grad=True)),
        ("probs sample_weight", lambda x=x, t=t, sw=sw: cxent.cross_entropy(
            x, t, label_smoothing=0.1, sample_weight=sw, return_grad=True)),
        ("nll sample_weight", lambda x=x, y=y, sw=sw: cxent.nll_loss(
            cxent.log_softmax(x), y, sample_weight=sw, return_grad=True)),
        ("log_loss", lambda t=t, y=y, K=K: cxent.log_loss(
            np.where(y < 0, 0, y), t, labels=np.arange(K))),
    ]
    for red in ("mean", "sum", "none"):
        for wt in (None, w):
            for ig, yy in ((-100, y), (1, yi)):
                for eps in (0.0, 0.3):
                    c.append((f"xent {red} w={wt is not None} ignore={ig} eps={eps}",
                              lambda x=x, yy=yy, wt=wt, ig=ig, eps=eps, red=red:
                              cxent.cross_entropy(x, yy, weight=wt, ignore_index=ig,
                                                  reduction=red, label_smoothing=eps,
                                                  return_grad=True)))
    return [(f"{tag} {name}", f) for name, f in c]


def calls():
    """(name, thunk) for every recorded call."""
    out = []
    for dt in (np.float32, np.float64):
        rng = np.random.default_rng(1234)
        for K in (3, 16, 17, 200):
            out += _k_calls(rng, dt, K)
        h = rng.standard_normal((64, 8)).astype(dt)
        W = rng.standard_normal((50, 8)).astype(dt)
        yl = rng.integers(0, 50, 64)
        yl[::5] = 3
        out.append((f"{np.dtype(dt).name} linear",
                    lambda h=h, W=W, yl=yl: cxent.linear_cross_entropy(
                        h, W, yl, ignore_index=3, label_smoothing=0.1, return_grad=True,
                        chunk_size=9)))
        out.append((f"{np.dtype(dt).name} score", lambda h=h, W=W, yl=yl: cxent.score(
            h @ W.T, yl, topk=3).mean_loss))
        for K in (2, 44):  # (session 21) two-class rows' one exp; float32 tiles (to K = 64)
            out += _k_calls(np.random.default_rng(1234 + K), dt, K)
    return out


def _arrays(value):
    parts = value if isinstance(value, tuple) else (value,)
    out = []
    for p in parts:
        if isinstance(p, tuple):
            out += _arrays(p)
        elif p is not None:
            out.append(np.asarray(p))
    return out


def _ulps(a, b):
    # largest distance in units in the last place between two arrays of one float dtype
    if a.shape != b.shape or a.dtype != b.dtype or a.dtype.kind != "f":
        return float("inf") if not np.array_equal(a, b) else 0.0
    u = np.dtype({4: np.int32, 8: np.int64}[a.dtype.itemsize])
    ia, ib = a.view(u).astype(np.int64), b.view(u).astype(np.int64)
    ia = np.where(ia < 0, np.iinfo(u).min - ia, ia)  # monotone integer order of the floats
    ib = np.where(ib < 0, np.iinfo(u).min - ib, ib)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    d = np.where(same, 0, np.abs(ia - ib))
    return float(d.max()) if d.size else 0.0


def _scaled(a, b):
    # largest difference in units of the last place of the array's largest finite magnitude
    if a.dtype.kind != "f" or a.shape != b.shape or not a.size:
        return 0.0
    fin = np.isfinite(a) & np.isfinite(b)
    if not fin.any():
        return 0.0
    top = np.spacing(np.abs(a[fin]).max().astype(a.dtype))
    return float(np.abs(a[fin].astype(np.float64) - b[fin]).max() / top)


def main(argv):
    if len(argv) not in (3, 4) or argv[1] not in ("record", "compare"):
        print(__doc__)
        return 2
    isa = cxent.show_config("dicts")["isa"]["selected"]
    values = {name: f() for name, f in calls()}
    got = {name: _digest(v) for name, v in values.items()}
    if len(argv) == 4:  # the values too (an .npz beside the record), to measure differences
        npz = argv[3]
        if argv[1] == "record":
            np.savez_compressed(npz, **{f"{n}#{i}": a for n, v in values.items()
                                        for i, a in enumerate(_arrays(v))})
        else:
            old = np.load(npz)
            with open(argv[2]) as f:
                recorded = json.load(f)["bits"]
            for n, v in values.items():
                if got[n] != recorded.get(n):
                    arrs = _arrays(v)
                    u = max(_ulps(old[f"{n}#{i}"], a) for i, a in enumerate(arrs))
                    sc = max(_scaled(old[f"{n}#{i}"], a) for i, a in enumerate(arrs))
                    print(f"  {n}: max {u:g} ulp of the element, {sc:.3g} ulp of the "
                          f"array's largest magnitude")
    if argv[1] == "record":
        with open(argv[2], "w") as f:
            json.dump({"isa": isa, "bits": got}, f, indent=0)
        print(f"recorded {len(got)} calls ({isa} build) in {argv[2]}")
        return 0
    with open(argv[2]) as f:
        rec = json.load(f)
    if rec["isa"] != isa:
        print(f"recorded with the {rec['isa']} build, this is {isa}: set CXENT_ISA")
        return 2
    diff = [n for n in rec["bits"] if got.get(n) != rec["bits"][n]]
    for n in diff:
        print(f"differs: {n}")
    print(f"{len(rec['bits']) - len(diff)} of {len(rec['bits'])} calls bit-identical ({isa})")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
