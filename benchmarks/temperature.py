"""Temperature scaling on 1,000,000 x 100 float32 logits: cxent.fit_temperature against
scikit-learn's (``sklearn.calibration._TemperatureScaling``, what
``CalibratedClassifierCV(method="temperature")`` fits): time, passes over the data, result.

    python benchmarks/temperature.py [--n 1000000] [--k 100] [--threads 1]
"""

import argparse
import time

import numpy as np

import cxent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    z = (rng.standard_normal((args.n, args.k)) * 2).astype(np.float32)
    p = cxent.softmax(z, n_threads=args.threads)
    y = (p.cumsum(axis=1) < rng.random((args.n, 1), dtype=np.float32)).sum(axis=1)
    y = np.minimum(y, args.k - 1)
    x = 2.5 * z  # over-confident
    t0 = time.perf_counter()
    T, info = cxent.fit_temperature(x, y, n_threads=args.threads, return_info=True)
    t_cx = time.perf_counter() - t0
    print(f"{args.n:,} x {args.k} float32, n_threads={args.threads}")
    print(f"  cxent.fit_temperature   T = {T:.6f}  {t_cx:7.2f} s  {info['passes']} passes")
    try:
        from sklearn.calibration import _TemperatureScaling
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("  scikit-learn not installed")
        return
    calls = 0
    ts = _TemperatureScaling()
    import scipy.optimize as so

    orig = so.minimize_scalar

    def counted(f, *a, **kw):
        def g(v):
            nonlocal calls
            calls += 1
            return f(v)
        return orig(g, *a, **kw)

    import sklearn.calibration as sc
    sc.minimize_scalar = counted
    try:
        with threadpool_limits(args.threads):
            t0 = time.perf_counter()
            ts.fit(x, y)
            t_sk = time.perf_counter() - t0
    finally:
        sc.minimize_scalar = orig
    Ts = 1 / float(ts.beta_)
    print(f"  scikit-learn            T = {Ts:.6f}  {t_sk:7.2f} s  {calls} loss evaluations")
    print(f"  relative difference {abs(T - Ts) / Ts:.1e}; cxent x{t_sk / t_cx:.1f} faster")
    # scikit-learn evaluates the loss of float32 logits in float32; on a float64 copy it is
    # accurate, and the reference for the result
    with threadpool_limits(args.threads):
        T64 = 1 / float(_TemperatureScaling().fit(x.astype(np.float64), y).beta_)
    print(f"  scikit-learn on float64 T = {T64:.6f}  (cxent's relative difference to it: "
          f"{abs(T - T64) / T64:.1e})")


if __name__ == "__main__":
    main()
