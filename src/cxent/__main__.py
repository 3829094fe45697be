"""Command line: ``python -m cxent [tour | demo | bench ...]``.

``python -m cxent`` runs the tour (the worked example and a quick speed comparison) and then the
demo when scikit-learn is installed; ``python -m cxent tour`` and ``python -m cxent demo`` run one
of them; ``python -m cxent bench`` compares every operation against the installed peers.
"""

import argparse
import sys


def _threads(text):
    try:
        vals = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a list like 1,2; got {text!r}") from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be positive; got {text!r}")
    return vals


def _seconds(text):
    try:
        v = float(text)
    except ValueError:
        v = 0.0
    if not 0 < v < float("inf"):  # nan too
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds; got {text!r}")
    return v


def _cases(text):
    """NxK or NxK:dtype, comma-separated (dtype float32 or float64; float32 by default)."""
    cases = []
    for item in text.split(","):
        shape, _, dtype = item.strip().partition(":")
        dtype = dtype or "float32"
        try:
            n, k = (int(v) for v in shape.lower().split("x"))
        except ValueError:
            n = k = 0
        if n < 1 or k < 1 or dtype not in ("float32", "float64"):
            raise argparse.ArgumentTypeError(
                f"expected cases like 100000x10:float64,8192x1000; got {item.strip()!r}")
        cases.append((n, k, dtype))
    return cases


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cxent", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    t = sub.add_parser("tour", help="the worked example and a quick speed comparison")
    t.add_argument("--budget", type=_seconds, default=None, metavar="SECONDS",
                   help="seconds of timing per case (default 3)")
    d = sub.add_parser("demo", help="softmax regression on 8x8 digit images (needs scikit-learn)")
    d.add_argument("--figure", default="cxent-digits.png", metavar="FILE.png",
                   help="where to save the figure (needs matplotlib; '' for none)")
    sc = sub.add_parser("score", help="score logits against labels from .npy files (memory-mapped)")
    sc.add_argument("logits", help="LOGITS.npy, shape (n_samples, n_classes)")
    sc.add_argument("labels", help="LABELS.npy, integer class indices, shape (n_samples,)")
    sc.add_argument("--out", metavar="LOSSES.npy", help="write the per-sample losses here")
    sc.add_argument("--batch-size", type=int, default=None, metavar="N")
    sc.add_argument("--threads", type=int, default=None, metavar="T")
    sc.add_argument("--topk", type=int, default=5, metavar="K")
    sc.add_argument("--n-bins", type=int, default=15, metavar="B",
                    help="bins of the expected calibration error (default 15)")
    b = sub.add_parser("bench", help="median times and ratios against PyTorch, scikit-learn, "
                                     "SciPy and NumPy")
    b.add_argument("--quick", action="store_true", help="fewer cases, shorter timing")
    b.add_argument("--budget", type=_seconds, default=None, metavar="SECONDS",
                   help="seconds of timing per function and case (default 1, or 0.3 with "
                        "--quick); the copy's, the exp's, the K sweep's and linear_cross_entropy's "
                        "timing scale with it")
    b.add_argument("--cases", type=_cases, default=None, metavar="NxK[:dtype],...",
                   help="the shapes to time, e.g. 100000x10:float64,8192x1000 (default: the "
                        "five cases of the speed guide; dtype float32 unless given)")
    b.add_argument("--threads", type=_threads, default=(1,), metavar="1,2",
                   help="thread counts to measure (default 1)")
    b.add_argument("--ops", default=None, help="comma-separated operations (default: all)")
    b.add_argument("--json", dest="json_file", metavar="FILE", help="write the results as JSON")
    b.add_argument("--plot", dest="plot_file", metavar="FILE.png",
                   help="draw a bar chart (needs matplotlib)")
    b.add_argument("--k-sweep", action="store_true",
                   help="also cross-entropy + gradient at 4M elements for K = 2 .. 32,768")
    b.add_argument("--isa", type=_isas, default=None, metavar="avx2,avx512",
                   help="run the chosen kernel builds, each in a subprocess with CXENT_ISA set")
    b.add_argument("--peers-native", action="store_true",
                   help="with --isa: let PyTorch and NumPy use every instruction this CPU has "
                        "(by default, a build below the CPU's best runs them at its level too)")
    args = parser.parse_args(argv)

    from . import _bench

    if args.command in (None, "tour"):
        _bench.tour(budget=getattr(args, "budget", None))
    if args.command is None:
        from importlib.util import find_spec

        if find_spec("sklearn") is not None:
            from ._demo import demo

            print("\n" + "=" * 78 + "\nDemo: image classification\n")
            demo()
    elif args.command == "demo":
        from ._demo import demo

        demo(figure=args.figure)
    elif args.command == "score":
        return _score_command(args)
    elif args.command == "bench":
        ops = args.ops.split(",") if args.ops else None
        unknown = set(ops or ()) - set(_bench.OPS)
        if unknown:
            parser.error(f"unknown operation(s) {sorted(unknown)}; choose from {_bench.OPS}")
        if args.isa:
            return _bench_builds(args, argv)
        _bench.bench(quick=args.quick, threads=args.threads, ops=ops, json_file=args.json_file,
                     plot_file=args.plot_file, k_sweep=args.k_sweep, budget=args.budget,
                     cases=args.cases)
    return 0


def _isas(text):
    from . import _isa

    isas = [s.strip().lower() for s in text.split(",") if s.strip()]
    bad = [s for s in isas if s not in ("baseline", "avx2", "avx512")]
    if bad or not isas:
        raise argparse.ArgumentTypeError(f"builds are baseline, avx2, avx512; got {text!r}")
    missing = [s for s in isas if s not in _isa.available()]
    if missing:
        raise argparse.ArgumentTypeError(f"{', '.join(missing)}: not available on this machine "
                                         f"(available: {', '.join(_isa.available())})")
    return isas


def _bench_builds(args, argv):
    """`bench --isa LIST`: the same benchmark once per build, each in a child process with
    CXENT_ISA set (the build is chosen at import); --json writes one file holding every build's
    report, --plot one figure per build."""
    import json
    import os
    import subprocess
    import tempfile

    rest, skip = [], False
    for a in argv if argv is not None else sys.argv[1:]:
        if skip:
            skip = False
        elif a == "--peers-native":
            pass
        elif a in ("--isa", "--json", "--plot"):
            skip = True
        elif not a.startswith(("--isa=", "--json=", "--plot=")):
            rest.append(a)
    reports = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        for isa in args.isa:
            tmp = os.path.join(tmpdir, f"{isa}.json")
            child = [*rest, "--json", tmp]
            if args.plot_file:
                root, ext = os.path.splitext(args.plot_file)
                child += ["--plot", f"{root}-{isa}{ext}"]
            print(f"\n######## CXENT_ISA={isa}", flush=True)
            env = {**os.environ, "CXENT_ISA": isa}
            if not args.peers_native:
                env.update(_peers_at(isa))
            rc = subprocess.run([sys.executable, "-m", "cxent", *child], env=env).returncode
            if rc:
                return rc
            with open(tmp) as f:
                reports[isa] = json.load(f)
    _print_builds(reports)
    if args.json_file:
        with open(args.json_file, "w") as f:
            json.dump({"builds": reports}, f, indent=1)
        print(f"wrote {args.json_file}")
    return 0


def _peers_at(isa):
    """Environment that makes PyTorch and NumPy run their kernels for `isa` (as on a CPU whose
    best is `isa`) when it is below this CPU's best: ATEN_CPU_CAPABILITY, and
    NPY_DISABLE_CPU_FEATURES for the dispatch targets above it that this NumPy knows."""
    from . import _bench, _isa

    if isa == _isa.available()[0]:
        return {}
    env = {"ATEN_CPU_CAPABILITY": "avx2" if isa == "avx2" else "default"}
    dispatch, _ = _bench.numpy_dispatch()
    above = {"X86_V4", "AVX512F", "AVX512CD", "AVX512_SKX", "AVX512_CLX", "AVX512_CNL",
             "AVX512_ICL", "AVX512_SPR", "AVX512_KNL", "AVX512_KNM"}
    if isa == "baseline":
        above |= {"X86_V3", "AVX", "F16C", "FMA3", "AVX2"}
    off = [f for f in dispatch if f in above]
    if off:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(off)
    return env


def _print_builds(reports):
    """cxent's time per case and build side by side, and its ratio to the fastest peer."""
    from . import _bench

    isas = list(reports)
    print("\n== builds side by side: cxent time (ratio = fastest peer / cxent)")
    first = reports[isas[0]]["rows"]
    for i, row in enumerate(first):
        line = f"  {row['op']:21s} {row['n']:>9,} x {row['k']:<6,} {row['dtype']} t{row['threads']}"
        for isa in isas:
            r = reports[isa]["rows"][i]
            t = r["seconds"]["cxent"]
            peers = [v for k, v in r["seconds"].items() if k != "cxent"]
            ratio = f" x{min(peers) / t:.2f}" if peers else ""
            line += f" | {isa} {_bench._fmt_time(t)}{ratio}"
        print(line)


def _score_command(args):
    import os

    import numpy as np

    from ._scale import score

    def fail(msg):
        print(f"cxent score: error: {msg}", file=sys.stderr)
        return 2

    for path in (args.logits, args.labels):
        if not os.path.isfile(path):
            return fail(f"no such file: {path}")
    try:
        x = np.load(args.logits, mmap_mode="r")
        y = np.load(args.labels, mmap_mode="r")
    except (ValueError, OSError) as e:
        return fail(f"cannot read the inputs as .npy files: {e}")
    if x.ndim != 2:
        return fail(f"{args.logits} has shape {x.shape}; expected (n_samples, n_classes)")
    if y.shape != (x.shape[0],):
        return fail(f"{args.labels} has shape {y.shape} but {args.logits} has {x.shape[0]} rows")
    out = None
    if args.out:
        out = np.lib.format.open_memmap(args.out, mode="w+",
                                        dtype=x.dtype if x.dtype == np.float32 else np.float64,
                                        shape=(x.shape[0],))
    bar = _progress(x.shape[0])
    try:
        res = score(x, y, batch_size=args.batch_size, topk=args.topk, n_bins=args.n_bins,
                    out=out, n_threads=args.threads, progress=bar.update)
    except (ValueError, TypeError) as e:
        return fail(str(e))
    finally:
        bar.close()
    if out is not None:
        out.flush()
    mb = x.nbytes / 1e6
    rows = [("samples", f"{res.n_samples:,}"),
            ("mean cross-entropy", f"{res.mean_loss:.6f}"),
            ("accuracy", f"{res.accuracy:.4f}"),
            (f"top-{res.topk} accuracy", f"{res.topk_accuracy:.4f}"),
            (f"ECE ({res.n_bins} bins)", f"{res.ece:.4f}"),
            ("Brier score", f"{res.brier:.4f}"),
            ("mean entropy", f"{res.entropy:.4f} nats"),
            ("time", f"{res.seconds:.3f} s ({res.samples_per_second:,.0f} samples/s, "
                     f"{mb / max(res.seconds, 1e-9):,.0f} MB/s)")]
    for name, val in rows:
        print(f"{name:20s}{val}")
    if args.out:
        print(f"losses written to {args.out}")
    return 0


class _Fallback:
    """A plain progress line on stderr for long runs, when tqdm is not installed."""

    def __init__(self, total):
        import time

        self.total, self.t0, self.last, self.time = total, time.perf_counter(), 0.0, time

    def update(self, done):
        now = self.time.perf_counter()
        if now - self.t0 > 1.0 and now - self.last > 0.5:
            self.last = now
            print(f"\rscored {done:,}/{self.total:,} ({100 * done / max(self.total, 1):.0f}%)",
                  end="", file=sys.stderr, flush=True)

    def close(self):
        if self.last:
            print(file=sys.stderr)


class _Tqdm:
    def __init__(self, total):
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="rows", file=sys.stderr, mininterval=0.5, delay=1.0)
        self.done = 0

    def update(self, done):
        self.bar.update(done - self.done)
        self.done = done

    def close(self):
        self.bar.close()


def _progress(total):
    try:
        return _Tqdm(total)
    except ImportError:
        return _Fallback(total)


if __name__ == "__main__":
    sys.exit(main())
