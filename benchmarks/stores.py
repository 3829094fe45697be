"""Non-temporal against ordinary stores for the small-K tiles' outputs, as the benchmark sees
them: the default call, the call with streaming forced off and with it forced on
(``_set_stream_bytes``), timed in turn with PyTorch's and scikit-learn's in one process
(``cxent._bench.interleaved_medians``), so that the peers run between cxent's calls.

    CXENT_ISA=avx2 PYTHONPATH=src python benchmarks/stores.py [--op cross_entropy+grad]
        [--cases 16:float64,32:float32,...] [--elements 4194304] [--threads 1] [--budget 0.5]

Prints ns per element and the fastest peer's time / cxent's time for each variant.  Session 25
chose the stream threshold (outputs larger than the L3) from its output."""

import argparse

import numpy as np

from cxent import _bench, _isa


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--op", default="cross_entropy+grad")
    ap.add_argument("--cases", default="16:float64,24:float64,33:float64,32:float32")
    ap.add_argument("--elements", type=int, default=1 << 22)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--budget", type=float, default=0.5)
    args = ap.parse_args()
    kernels = _isa.kernels
    for spec in args.cases.split(","):
        k, dt = spec.split(":")
        k, dt = int(k), np.dtype(dt)
        x, y = _bench.make_case(args.elements // k, k, dt)
        peers = {n: _bench.PEERS[n](args.threads) for n in ("cxent", "torch", "sklearn")}
        fns = {n: (lambda f=ops[args.op], x=x, y=y: f(x, y)) for n, ops in peers.items()
               if ops and args.op in ops}

        def forced(nbytes, f=fns["cxent"]):
            def call():
                old = kernels._set_stream_bytes(nbytes)
                try:
                    f()
                finally:
                    kernels._set_stream_bytes(old)
            return call

        fns["cxent ordinary"] = forced(1 << 62)
        fns["cxent stream"] = forced(0)
        res = _bench.interleaved_medians(fns, budget=args.budget * len(fns))
        best = min(t for n, t in res.items() if not n.startswith("cxent"))
        print(f"K={k:4d} {dt.name} {x.nbytes / 2**20:6.0f} MiB: " + "  ".join(
            f"{n} {res[n] / x.size * 1e9:.2f} ns (x{best / res[n]:.2f})"
            for n in ("cxent", "cxent ordinary", "cxent stream")), flush=True)


if __name__ == "__main__":
    main()
