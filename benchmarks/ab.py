"""A/B timing of two source trees with built kernels (before / after a kernel change).

    python benchmarks/ab.py BEFORE_SRC AFTER_SRC [--isa avx2] [--rounds 3] [--op cross_entropy]
                            [--cases 2:float32,10:float64,...] [--elements 4194304]
                            [--threads 1] [--fresh]

Each round runs one child process per tree, alternating (so that the machine's slow spells fall
on both), with CXENT_ISA set and PYTHONPATH at the tree's ``src``; each child times every case
(``--elements``, 4,194,304 by default, N = elements / K; ``--threads``, one by default) 9 times
and keeps the minimum; a case smaller than the default is called repeatedly in each timing (so
that arrays that fit in the caches, e.g. ``--elements 16000``, are timed there).  Prints ns per
element, the minimum over the rounds, and before / after.  ``--op cross_entropy`` times the
forward and gradient with ``grad_out=``; ``softmax`` / ``log_softmax`` with ``out=``;
``logsumexp`` reads the logits and writes one value per row.  The same tree given twice times
one build.  ``--fresh`` times calls that allocate their output (no ``grad_out=`` / ``out=``,
as most callers do: outputs of more than 32 MiB are then new pages every call).  Make the
BEFORE tree with ``git worktree add /tmp/before REV`` and
``python setup.py build_ext --inplace`` in it."""

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, time
import numpy as np
import cxent
op, cases, elements, nt = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fresh = sys.argv[5] == "1"
res = {}
for case in cases.split(","):
    k, dt = case.split(":")
    k = int(k)
    n = elements // k
    reps = max(1, (1 << 22) // (n * k))
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((n, k)) * 3).astype(dt)
    y = rng.integers(0, k, n)
    buf = None if fresh else np.empty_like(x)
    if op == "cross_entropy":
        def f():
            cxent.cross_entropy(x, y, return_grad=True, grad_out=buf, n_threads=nt)
    elif op == "logsumexp":
        def f():
            cxent.logsumexp(x, axis=-1, n_threads=nt)
    else:
        fn = getattr(cxent, op)
        def f():
            fn(x, out=buf, n_threads=nt)
    f()
    best = 1e9
    for _ in range(9):
        t = time.perf_counter()
        for _ in range(reps):
            f()
        best = min(best, time.perf_counter() - t)
    res[case] = best / (x.size * reps) * 1e9
print(json.dumps(res))
"""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--isa", default="avx2")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--op", default="cross_entropy",
                   choices=["cross_entropy", "softmax", "log_softmax", "logsumexp"])
    p.add_argument("--cases", default="2:float32,16:float32,32:float32,100:float32,"
                                      "2:float64,10:float64")
    p.add_argument("--elements", type=int, default=1 << 22)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--fresh", action="store_true", help="new outputs (no grad_out= / out=)")
    a = p.parse_args(argv)
    times = {}
    trees = (a.before,) if a.before == a.after else (a.before, a.after)
    for _ in range(a.rounds):
        for tree in trees:
            env = {**os.environ, "CXENT_ISA": a.isa, "PYTHONPATH": os.path.abspath(tree)}
            args = [sys.executable, "-c", CHILD, a.op, a.cases, str(a.elements), str(a.threads),
                    "1" if a.fresh else "0"]
            out = subprocess.run(args, env=env, capture_output=True, text=True,
                                 check=True).stdout
            for case, ns in json.loads(out).items():
                times.setdefault(case, {}).setdefault(tree, []).append(ns)
    print(f"{a.op}, {a.isa} build, {a.threads} thread(s), {a.elements:,} elements, "
          f"{'new' if a.fresh else 'reused'} outputs, ns per element "
          f"(min of {a.rounds} rounds x 9)")
    for case, t in times.items():
        b, c = min(t[a.before]), min(t[a.after])
        if len(trees) == 1:
            print(f"  K:dtype {case:12s} {b:6.2f}")
        else:
            print(f"  K:dtype {case:12s} before {b:6.2f}  after {c:6.2f}  "
                  f"before/after {b / c:5.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
