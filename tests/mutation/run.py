"""Mutation run: does the test suite catch deliberate bugs in the formulas and the rules?

Run by hand (not in every CI run; it takes about half an hour on two cores)::

    python tests/mutation/run.py                 # every mutant, without and then with PyTorch
    python tests/mutation/run.py --list          # the mutants
    python tests/mutation/run.py -k K03 -k P01   # some of them
    python tests/mutation/run.py --check         # only check that every mutant applies
    python tests/mutation/run.py --count -k K06  # how many tests catch a mutant (slower)

Each mutant is one small semantic change (a dropped term, a wrong denominator, an ignored
keyword...) to one file.  The runner copies the repository's tracked files to a scratch folder,
builds the portable baseline kernels there (``CXENT_NO_ISA_BUILDS=1``, in place), checks that the
unchanged suite passes, then for each mutant: applies it, rebuilds when it touches the compiled
code, runs the suite (``pytest -x``) first as the wheel builds do, without PyTorch (the
``no_torch`` plugin beside this file makes ``import torch`` fail), and, for a mutant that
survives that, again with PyTorch when it is installed.  A mutant survives when the suite passes.
The last lines printed are the survivors; the exit code is the number of survivors (at most 100).
"""

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent


@dataclass(frozen=True)
class Mutant:
    id: str
    path: str  # relative to the repository
    old: str
    new: str
    what: str
    nth: int = 0  # which occurrence of `old` (0: it must be unique)

    @property
    def torch_only(self):
        """A mutant of cxent.torch: only the suite with PyTorch can catch it."""
        return self.path == "src/cxent/torch.py"


KL = "src/cxent/_k_labels.pxi"
KS = "src/cxent/_k_softmax.pxi"
KT = "src/cxent/_k_targets.pxi"
KB = "src/cxent/_k_bce.pxi"
KI = "src/cxent/_k_info.pxi"
R = "src/cxent/_rows.h"
H = "src/cxent/_simd.h"
L = "src/cxent/_losses.py"

MUTANTS = [
    # --- compiled kernels -------------------------------------------------------------------
    Mutant("K01", R, "double pm1 = ey == 1.0 ? -r.rest / r.total : (ey - r.total) / r.total;",
           "double pm1 = ey / r.total - 1.0;",
           "the label's gradient entry p_y - 1 by cancellation (row and tile paths)"),
    Mutant("K02", H, "return ((x - m) - hi) - lo;", "return (x - (m + hi)) - lo;",
           "float32 log_softmax: the shift and the normaliser added first (rounded)"),
    Mutant("K03", H, "return (float)((double)e * c);", "return e * (float)c;",
           "float32 output scaling in float32 with the factor rounded (baseline, no FMA)"),
    Mutant("K04", KL, "dot = cx_fma_d(wk, <double> x[k * sx] - shift, dot)",
           "dot = cx_fma_d(1.0, <double> x[k * sx] - shift, dot)",
           "class weights dropped from the smoothing term of the loss"),
    Mutant("K05", KL, "cx_fma_d(g[k * sg], o.coef, -o.smooth\n",
           "cx_fma_d(g[k * sg], o.coef, -o.smooth * 0\n",
           "row path: the smoothing term dropped from the gradient"),
    Mutant("K06", KL, "if y == ignore:\n        return -1",
           "if y == ignore and (y < 0 or y >= K):\n        return -1",
           "an ignore_index inside [0, K) is not ignored"),
    Mutant("K07", KL, "for k in range(K):\n                                et[k * _TILE + r] = 0",
           "for k in range(0):\n                                et[k * _TILE + r] = 0",
           "tile path: ignored rows' gradients are not zeroed"),
    Mutant("K08", KL, "            v = 0.0\n            _zero_row(grow, a.sg.k, K)\n",
           "            v = 0.0\n",
           "row path: ignored rows' gradients are not zeroed"),
    Mutant("K09", KB, "(c0 * _sigmoid(v) - c1 * _sigmoid(-v))",
           "(c0 * _sigmoid(v) - tk * _sigmoid(-v))",
           "BCE: pos_weight dropped from the gradient"),
    Mutant("K10", KB, "        lk = wk * lk\n", "        lk = lk\n",
           "BCE: the elementwise weight dropped from the loss"),
    Mutant("K11", "src/cxent/_k_row.pxi", "tk = (1.0 - eps) * tk + sm", "tk = tk",
           "label smoothing dropped from the target weights (probability targets, focal)"),
    Mutant("K12", KL, "(-(a.scale * rwv) * wy)", "(-rwv * wy)",
           "nll_loss: the gradient not scaled by the reduction"),
    Mutant("K13", KS, "(go[k * sgo] - _exp(y[k * sy]) * acc)", "(go[k * sgo] - y[k * sy] * acc)",
           "log_softmax_backward: exp(y) replaced by y"),
    Mutant("K14", KS, "acc += <double> go[k * sgo] * y[k * sy]", "acc += <double> go[k * sgo]",
           "softmax_backward: the inner sum without the output"),
    Mutant("K15", KI, "acc += pk * log(pk / qk)", "acc += pk * log(qk / pk)",
           "KL divergence: the ratio inverted"),
    Mutant("K16", R, "u = acc + (cnt - 1.0);", "u = acc;",
           "row sums: ties of the maximum counted once (row and tile paths)"),
    Mutant("K17", R, "o.coef = scale * c / r.total;", "o.coef = c / r.total;",
           "the gradient of \"mean\" not scaled (class indices)"),
    Mutant("K18", KL, "-log(_clip(x[_at3(a.sx, p) + y * a.sx.k], a.lo, a.hi))",
           "-log(x[_at3(a.sx, p) + y * a.sx.k])",
           "log_loss: probabilities not clipped"),
    Mutant("K19", KS, "        return INFINITY\n    return q.shift + q.log_total",
           "        return NAN\n    return q.shift + q.log_total",
           "logsumexp: a row with +inf gives nan instead of +inf"),
    Mutant("K20", KI, "        elif pk != pk:\n            acc += pk",
           "        elif pk != pk:\n            pass",
           "entropy: nan does not propagate"),
    Mutant("K21", R, "CX_FMA(sm, wsum * r.log_total - dot, loss)",
           "CX_FMA(sm, r.log_total - dot, loss)",
           "the smoothing term of the loss without the sum of the class weights"),
    Mutant("K22", KT, "g[k * sg] = <floating> (scale * cx_fma_d(e[k * se], c, -tk))",
           "g[k * sg] = <floating> cx_fma_d(e[k * se], c, -tk)",
           "probability targets: the gradient not scaled by the reduction"),
    Mutant("K23", KL, "a.scale * rwv, grow, a.sg.k)", "a.scale, grow, a.sg.k)",
           "row path: the sample weight left out of the gradient (class indices)"),
    Mutant("K24", KL, "t.sc[r] = scale * t.rw[r]", "t.sc[r] = scale",
           "tile path: the gradient without the sample weight"),
    Mutant("K25", KL, "* (sample_weight[a, b] if has_rw else 1.0))", "* 1.0)",
           "the denominator of \"mean\" without the sample weights"),
    Mutant("K26", KL, "return 1 if rw != 0 else 0", "return 1",
           "a zero sample weight with nan logits gives nan, not exact zeros"),
    Mutant("K27", KL, "-t.smooth[r] * wk)", "-t.smooth[r])",
           "tile path: class weights dropped from the smoothing term of the gradient"),
    Mutant("K28", KT, "        return 0.0\n    return rw * _target_row",
           "    return rw * _target_row",
           "probability targets: a zero sample weight not exact zeros"),
    Mutant("K30", R, "o.coef = CX_FMA(zc, 1.0 / r.total, o.coef);", "",
           "z-loss: its gradient left out of the exponentials' coefficient"),
    Mutant("K31", R, "o.loss = CX_FMA(zl * lse, lse, o.loss);", "o.loss = CX_FMA(zl, lse, o.loss);",
           "z-loss: zl lse instead of zl lse^2"),
    Mutant("K32", H, "return g * CX_FMA(-u, u, 1.0);", "return g;",
           "soft cap: the gradient not taken through the cap"),
    Mutant("K33", H, "double r = a < 0.625 ? small : big;", "double r = big;",
           "tanh of the soft cap: small arguments by cancellation"),
    Mutant("K34", "src/cxent/_k_row.pxi",
           "f[0] = -ak * m if omp == 0 else ak * (gamma * (m / omp) * p * lp - m)",
           "f[0] = -ak * m",
           "focal loss: the derivative of the modulating factor dropped"),
    Mutant("K35", "src/cxent/_k_row.pxi",
           "cdef double omp = (q.rest if ek == 1 else q.total - ek) / q.total",
           "cdef double omp = 1.0 - ek / q.total",
           "focal loss: 1 - p by cancellation"),
    Mutant("K36", KL, "a.brier[r] = cx_fma_d(omp, omp, s2 / (q.total * q.total))",
           "a.brier[r] = cx_fma_d(omp, omp, s2 / q.total)",
           "score: the Brier score's other classes not squared"),
    Mutant("K37", KL, "a.entropy[r] = q.log_total - dot / q.total",
           "a.entropy[r] = q.log_total",
           "score: the entropy without the mean log-probability"),
    Mutant("K38", KL, "out.more[1] += rwv * (var / q.total)", "out.more[1] += var / q.total",
           "temperature scaling: the second derivative without the sample weight"),
    Mutant("K39", KL, "            var = cx_fma_d(e[k] * d, d, var)",
           "            var = cx_fma_d(e[k], d, var)",
           "temperature scaling: the second derivative is not the variance"),
    Mutant("K29", "src/cxent/_k_driver.pxi", "if res.first_bad < 0 and part[i].first_bad >= 0:",
           "if part[i].first_bad >= 0:",
           "driver: the last bad block is reported, not the first"),
    # --- Python layer -------------------------------------------------------------------------
    Mutant("P01", L, "ignore = check_ignore_index(ignore_index)", "ignore = -100",
           "nll_loss ignores a custom ignore_index", nth=2),
    Mutant("P02", "src/cxent/_scale.py", "ignore_index=ignore,\n            label_smoothing=eps",
           "ignore_index=-100,\n            label_smoothing=eps",
           "linear_cross_entropy ignores a custom ignore_index in the kernel"),
    Mutant("P03", "src/cxent/dask.py", "return da.expand_dims(out, ax) if keepdims else out",
           "return out", "cxent.dask.logsumexp ignores keepdims"),
    Mutant("P04", "src/cxent/dask.py", "args = [r, idx, t, idx if soft else idx[:-1]]",
           "args = [r, idx, t, idx[:-1]]",
           "cxent.dask.cross_entropy: reduction='none' with probability targets"),
    Mutant("P05", "src/cxent/_labels.py",
           "        loss = dt(total / denom) if denom else dt(np.nan)",
           "        loss = dt(total / denom) if denom else np.nan",
           "an empty / all-ignored \"mean\" returns a Python float"),
    Mutant("P06", L, "return (denom if denom is not None else counted), total",
           "return counted, total",
           "\"mean\" with class weights divides by the count, not the summed weights"),
    Mutant("P07", KL, "a.scale = 1.0 / count if count else 1.0", "a.scale = 1.0",
           "fast path: the gradient of \"mean\" not scaled"),
    Mutant("P08", "src/cxent/dask.py", "denom = sum(p[1] for p in ps)",
           "denom = sum(1.0 for p in ps)",
           "cxent.dask.cross_entropy: \"mean\" divides by the number of chunks"),
    Mutant("P19", "src/cxent/_labels.py", "weight=w, sample_weight=rw)",
           "weight=None, sample_weight=rw)",
           "the denominator of \"mean\" ignores the class weights"),
    Mutant("P20", KL, "        if y < 0 or y >= K:\n            if out.first_bad < 0:\n"
                      "                out.first_bad = r\n            loss[_at2(a.sl, p)] = 0",
           "        if y >= K:\n            if out.first_bad < 0:\n"
           "                out.first_bad = r\n            loss[_at2(a.sl, p)] = 0",
           "score: a negative label (-2**63 included) is not reported"),
    Mutant("P21", "src/cxent/_scale.py",
           "b = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)",
           "b = np.clip(np.floor(conf * n_bins).astype(np.int64), 0, n_bins - 1)",
           "score: ECE bins closed on the left, not the right"),
    Mutant("P22", "src/cxent/_scale.py", "ece = float(np.abs(bin_right - bin_conf).sum() / n)",
           "ece = float(np.abs(bin_right.sum() - bin_conf.sum()) / n)",
           "score: ECE without the bins (the overall confidence gap)"),
    Mutant("P23", "src/cxent/_calibration.py", "if g > 0:\n            hi = u",
           "if g < 0:\n            hi = u",
           "fit_temperature: the bracket updated on the wrong side"),
    Mutant("P24", "src/cxent/_validate.py", "if not (cap > 0 and math.isfinite(cap)):",
           "if not math.isfinite(cap):", "a negative softcap accepted"),
    Mutant("P25", L,
           "and z_loss == 0.0 and softcap is None and focal_gamma == 0.0 and not return_lse):",
           "and not return_lse):", "the fast path taken with the loss options set"),
    Mutant("P09", "src/cxent/_scale.py", "np.count_nonzero(rank < topk)",
           "np.count_nonzero(rank <= topk)", "score: top-k counts k + 1"),
    Mutant("P10", KL, "n += xr[k * sk] > xr[y * sk]", "n += xr[k * sk] >= xr[y * sk]",
           "score: ties count against the label"),
    Mutant("P11", "src/cxent/_metrics.py", "return float(np.dot(sw, loss) / total)",
           "return float(np.dot(sw, loss) / len(sw))",
           "log_loss: weighted mean divided by the number of samples"),
    Mutant("P12", "src/cxent/_information.py", "factor = 1.0 / math.log(bf)",
           "factor = math.log(bf)",
           "information measures: base applied the wrong way"),
    Mutant("P13", L, "scale = 1.0 / n if red == \"mean\" and n else 1.0", "scale = 1.0",
           "BCE: the gradient of \"mean\" not scaled"),
    Mutant("P14", "src/cxent/sklearn.py", "grad[:, :d] = (G.T @ X) / sw_sum + l2 * coef",
           "grad[:, :d] = (G.T @ X) / sw_sum",
           "SoftmaxRegression: the L2 term missing from the gradient"),
    Mutant("P15", "src/cxent/_softmax.py", "result, o3, tmp = prepare_out(lay, out, dt, (y, go))",
           "result, o3, tmp = prepare_out(lay, None, dt, (y, go))",
           "softmax/log_softmax backward ignore out="),
    Mutant("P16", "src/cxent/_validate.py", "if not 0.0 <= eps <= 1.0:", "if not 0.0 <= eps:",
           "label_smoothing above 1 accepted"),
    Mutant("P17", "src/cxent/_scale.py",
           "scale = 1.0 / denom if red == \"mean\" and denom else 1.0",
           "scale = 1.0 / N if red == \"mean\" and N else 1.0",
           "linear_cross_entropy: \"mean\" gradient divided by N, ignored rows counted"),
    Mutant("P18", "src/cxent/_metrics.py", "p = np.concatenate([1 - p, p], axis=1)",
           "p = np.concatenate([p, 1 - p], axis=1)",
           "log_loss: 1-D probabilities taken as the negative class"),
    # --- cxent.torch (caught with PyTorch only: without it its tests cannot run) ----------------
    Mutant("T01", "src/cxent/torch.py", "        grad_output = grad_output.unsqueeze(class_dim)",
           "        grad_output = grad_output.sum()",
           "cxent.torch.cross_entropy: per-position grad_output of \"none\" summed"),
    Mutant("T02", "src/cxent/torch.py", "_, _, grads, _ = lin.run(\"none\", True, row_scale=go)",
           "_, _, grads, _ = lin.run(\"none\", True)",
           "cxent.torch.linear_cross_entropy: \"none\" backward ignores grad_output"),
    Mutant("T03", "src/cxent/torch.py", "        axis = 1 if x.ndim >= 2 else 0",
           "        axis = -1", "cxent.torch.cross_entropy: classes taken along the last axis"),
]


# Tests that measure wall-clock time: a loaded machine (the run itself) can fail them, and they
# check no formula.
TIMING = ["test_reliability.py::test_ctrl_c_interrupts_a_long_call_quickly"]


def _tracked_files():
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, check=True)
    return [p for p in out.stdout.decode().split("\0") if p]


def _locate(text, m):
    """Index of the occurrence of m.old that m names; ValueError if it does not apply."""
    count = text.count(m.old)
    if m.nth == 0 and count != 1:
        raise ValueError(f"{m.id}: {m.old!r} occurs {count} times in {m.path} (must be once)")
    if m.nth > count:
        raise ValueError(f"{m.id}: {m.old!r} occurs {count} times in {m.path}, not {m.nth}")
    i = -1
    for _ in range(max(m.nth, 1)):
        i = text.index(m.old, i + 1)
    return i


def _apply(text, m):
    i = _locate(text, m)
    return text[:i] + m.new + text[i + len(m.old):]


def _compiled(m):
    return m.path.endswith((".pxi", ".pyx", ".h", ".pxd"))


def _build(tree, log):
    env = {**os.environ, "CXENT_NO_ISA_BUILDS": "1"}
    res = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace", "--force"],
                         cwd=tree, env=env, capture_output=True, text=True)
    log.write_text(res.stdout + res.stderr)
    return res.returncode == 0


def _pytest(tree, torch, timeout, count=False):
    env = {k: v for k, v in os.environ.items() if k != "CXENT_ISA"}
    env["PYTHONPATH"] = os.pathsep.join([str(tree / "src"), str(HERE)])
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           str(tree / "tests"), "--ignore", str(tree / "tests" / "mutation")]
    if not count:
        cmd.insert(3, "-x")
    cmd += [arg for t in TIMING for arg in ("--deselect", f"tests/{t}")]
    if not torch:
        cmd += ["-p", "no_torch"]
    t0 = time.perf_counter()
    try:
        res = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, "timeout (counted as caught: a hang)", time.perf_counter() - t0
    lines = res.stdout.splitlines()
    failed = [ln for ln in lines if ln.startswith(("FAILED", "ERROR"))]
    detail = failed[0] if failed else (lines[-1] if lines else res.stderr[-300:])
    if count and failed:
        detail = f"{len(failed)} failing tests, first: {failed[0]}"
    return res.returncode == 0, detail, time.perf_counter() - t0


def _have_torch():
    res = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True)
    return res.returncode == 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", action="append", default=[], help="run only these mutant ids")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--check", action="store_true", help="check that every mutant applies")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per suite run")
    ap.add_argument("--count", action="store_true",
                    help="run the whole suite per mutant (no -x) and count the failing tests")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.k or m.id in args.k]
    if args.list:
        for m in chosen:
            print(f"{m.id}  {m.path:28s} {m.what}")
        return 0
    errors = []
    for m in chosen:
        try:
            _locate((ROOT / m.path).read_text(), m)
        except ValueError as e:
            errors.append(str(e))
    if errors:
        print("\n".join(errors))
        return 100
    if args.check:
        print(f"{len(chosen)} mutants apply")
        return 0
    torch = _have_torch()
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="cxent-mutation-"))
    tree = scratch / "tree"
    try:
        for rel in _tracked_files():
            src = ROOT / rel
            if src.is_file() and not src.is_symlink():
                (tree / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, tree / rel)
        print(f"scratch copy in {tree}; building the baseline kernels ...", flush=True)
        if not _build(tree, scratch / "build.log"):
            print((scratch / "build.log").read_text()[-3000:])
            return 100
        for with_torch in (False, True) if torch else (False,):
            ok, detail, secs = _pytest(tree, with_torch, args.timeout)
            label = "with" if with_torch else "without"
            print(f"unchanged suite {label} PyTorch: {'passes' if ok else 'FAILS'} "
                  f"({secs:.0f} s)", flush=True)
            if not ok:
                print(detail)
                return 100
        survivors = []
        stale = False  # the built kernels are those of a compiled mutant, since restored
        for m in chosen:
            path = tree / m.path
            original = path.read_text()
            if stale and not _compiled(m):
                _build(tree, scratch / "build.log")
                stale = False
            path.write_text(_apply(original, m))
            try:
                if _compiled(m) and not _build(tree, scratch / f"build-{m.id}.log"):
                    print(f"{m.id} does not build (counted as caught; see build-{m.id}.log)")
                    continue
                verdict, detail, secs = "survived", "", 0.0
                runs = (True,) if m.torch_only else (False, True)
                for with_torch in runs if torch else (False,):
                    passed, detail, s = _pytest(tree, with_torch, args.timeout, args.count)
                    secs += s
                    if not passed:
                        verdict = ("caught only with PyTorch" if with_torch and not m.torch_only
                                   else "caught")
                        break
                print(f"{m.id} {verdict:24s} {secs:5.0f} s  {m.what}\n      {detail}",
                      flush=True)
                if verdict != "caught":
                    survivors.append((m, verdict))
            finally:
                path.write_text(original)
                stale = stale or _compiled(m)
        n_torch = sum(m.torch_only for m in chosen)
        print(f"\n{len(chosen) - len(survivors)} of {len(chosen)} mutants caught ({n_torch} of "
              f"cxent.torch, with PyTorch; the others without it)"
              f"{'' if torch else ' (PyTorch is not installed here)'}; "
              f"{len(survivors)} survived" + (":" if survivors else "."))
        for m, verdict in survivors:
            print(f"  {m.id} {m.path}: {m.what} ({verdict})")
        return min(len(survivors), 100)
    finally:
        if args.keep:
            print(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
