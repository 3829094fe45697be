"""``python -m cxent bench --ops torch``: PyTorch training steps with cxent.torch and without.

One training step (forward + backward + SGD step) of a classifier head on fixed hidden states,
for a small head and a 32k-vocabulary head, with each loss: ``nn.CrossEntropyLoss`` against
``cxent.torch.CrossEntropyLoss`` (the logits materialised by ``nn.Linear``), and
``F.linear_cross_entropy`` (its reference path, ``options=None``, and its chunked path) against
``cxent.torch.linear_cross_entropy``.  Every variant runs in its own process; its peak memory
is the largest resident set seen (sampled every millisecond from /proc, Linux) while its steps
run, above the resident set just before the first step (imports, inputs and the head).
Reported: the median step time, the median time of the loss part alone (forward + backward of
the loss from the logits, for the variants that have logits), and the peak memory.
"""

import json
import subprocess
import sys

HEADS = {"small": (8192, 128, 100), "32k": (2048, 256, 32768)}  # (tokens, hidden, classes)
QUICK_HEADS = {"small": (4096, 128, 100), "32k": (1024, 128, 32768)}
LOSSES = ["torch CrossEntropyLoss", "cxent CrossEntropyLoss", "torch linear_cross_entropy",
          "torch linear_cross_entropy chunked", "cxent linear_cross_entropy"]


def _worker(spec):
    import resource
    import threading
    import time

    import numpy as np
    import torch

    import cxent.torch as cxt

    torch.set_num_threads(spec["threads"])
    n, d, v = spec["shape"]
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(n, d, generator=gen)
    y = torch.randint(0, v, (n,), generator=gen)
    head = torch.nn.Linear(d, v)
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    F = torch.nn.functional
    loss = spec["loss"]
    if loss.endswith("CrossEntropyLoss"):
        crit = (cxt.CrossEntropyLoss(n_threads=spec["threads"]) if loss.startswith("cxent")
                else torch.nn.CrossEntropyLoss())

        def step():
            crit(head(h), y).backward()
    elif loss == "cxent linear_cross_entropy":
        def step():
            cxt.linear_cross_entropy(h, head.weight, y, linear_bias=head.bias,
                                     n_threads=spec["threads"]).backward()
    else:
        opts = torch.nn.LinearCrossEntropyOptions() if loss.endswith("chunked") else None

        def step():
            F.linear_cross_entropy(h, head.weight, y, linear_bias=head.bias,
                                   options=opts).backward()

    def timed(fn, repeat, budget=1.0):
        # at least `repeat` calls, more while within `budget` seconds (small, noisy cases)
        times = []
        start = time.perf_counter()
        while len(times) < repeat or (time.perf_counter() - start < budget
                                      and len(times) < 200):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return float(np.median(times))

    def rss_mib():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20

    class Sampler(threading.Thread):
        # the largest resident set seen while the steps run (every millisecond)
        def __init__(self):
            super().__init__(daemon=True)
            self.peak, self.done = rss_mib(), threading.Event()

        def run(self):
            while not self.done.wait(0.001):
                self.peak = max(self.peak, rss_mib())

    def full_step():
        opt.zero_grad(set_to_none=True)
        step()
        opt.step()

    rss0 = rss_mib()
    sampler = Sampler()
    sampler.start()
    full_step()  # warm-up
    out = {"step_s": timed(full_step, spec["repeat"])}
    sampler.done.set()
    sampler.join()
    out["peak_mib"] = max(sampler.peak, rss_mib()) - rss0
    if loss.endswith("CrossEntropyLoss"):
        z = head(h).detach().requires_grad_()

        def loss_part():
            z.grad = None
            crit(z, y).backward()

        loss_part()
        out["loss_s"] = timed(loss_part, spec["repeat"])
    print(json.dumps(out))


def bench_torch(quick, threads, out=print):
    """Run every variant in its own process and print times, ratios and peak memory."""
    try:
        import torch  # noqa: F401
    except ImportError:
        out("\n== torch training steps: PyTorch is not installed (pip install 'cxent[torch]')")
        return []
    rows = []
    heads = QUICK_HEADS if quick else HEADS
    for nt in threads:
        for name, shape in heads.items():
            n, d, v = shape
            out(f"\n== torch training step, {name} head: {n} x {d} hidden states, {v:,} "
                f"classes, float32, n_threads={nt} (each variant in its own process)")
            res = {}
            for loss in LOSSES:
                spec = {"shape": shape, "loss": loss, "threads": nt, "repeat": 3 if quick else 7}
                p = subprocess.run([sys.executable, "-m", "cxent._bench_torch", json.dumps(spec)],
                                   capture_output=True, text=True, timeout=1800)
                if p.returncode != 0:
                    out(f"  {loss:36s} failed: {p.stderr.strip().splitlines()[-1:]}")
                    continue
                res[loss] = json.loads(p.stdout.strip().splitlines()[-1])
                r = res[loss]
                line = f"  {loss:36s} step {r['step_s'] * 1e3:9.1f} ms"
                if "loss_s" in r:
                    line += f" | loss part {r['loss_s'] * 1e3:8.1f} ms"
                line += f" | peak RSS +{r['peak_mib']:5.0f} MiB"
                out(line)
            tc, cc = res.get(LOSSES[0]), res.get(LOSSES[1])
            if tc and cc:
                out(f"  cxent.torch.CrossEntropyLoss vs nn.CrossEntropyLoss: loss part "
                    f"x{tc['loss_s'] / cc['loss_s']:.2f}, whole step "
                    f"x{tc['step_s'] / cc['step_s']:.2f}")
            cl = res.get(LOSSES[4])
            for peer in LOSSES[2:4]:
                if cl and peer in res:
                    out(f"  cxent.torch.linear_cross_entropy vs {peer}: step "
                        f"x{res[peer]['step_s'] / cl['step_s']:.2f}, peak memory "
                        f"{cl['peak_mib']:.0f} vs {res[peer]['peak_mib']:.0f} MiB")
            rows.append({"head": name, "shape": shape, "threads": nt, "results": res})
    return rows


if __name__ == "__main__":
    _worker(json.loads(sys.argv[1]))
