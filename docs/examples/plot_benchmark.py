"""
The benchmark chart: cross-entropy with its gradient against the peers
=======================================================================

The time of a cross-entropy forward pass with its gradient (class indices, mean reduction, one
thread) against a plain NumPy implementation, PyTorch and scikit-learn where installed, measured
while this page was built: a shared machine, so read the ratios, not the milliseconds.
``python -m cxent bench`` measures every operation at larger sizes; ``--isa`` and ``--k-sweep``
compare the instruction-set builds and the number of classes.
"""

import matplotlib.pyplot as plt
import numpy as np

import cxent
from cxent._bench import PEERS, make_case, median_time

peers = {name: make(1) for name, make in PEERS.items()}
peers = {name: ops for name, ops in peers.items()
         if ops is not None and "cross_entropy+grad" in ops}
cases = [(200_000, 10, np.float64), (40_000, 100, np.float32), (4_096, 1_000, np.float32)]
ratios = {name: [] for name in peers if name != "cxent"}
labels = []
for n, k, dt in cases:
    x, y = make_case(n, k, dt)
    t = {name: median_time(lambda f=ops["cross_entropy+grad"], x=x, y=y: f(x, y),
                           min_repeat=3, budget=0.3) for name, ops in peers.items()}
    labels.append(f"{n:,} x {k:,}\n{np.dtype(dt).name}")
    print(f"{n:>7,} x {k:<5,} {np.dtype(dt).name}: cxent {t['cxent'] * 1e3:6.2f} ms  "
          + "  ".join(f"{p} x{t[p] / t['cxent']:.1f}" for p in ratios))
    for p in ratios:
        ratios[p].append(t[p] / t["cxent"])
print("kernels:", cxent.show_config("dicts")["isa"]["selected"], "build")

# %%
# Bars above 1 mean cxent is faster than that peer by that factor.

fig, ax = plt.subplots(figsize=(7, 3.8))
w = 0.8 / len(ratios)
for j, (p, r) in enumerate(ratios.items()):
    ax.bar(np.arange(len(cases)) + j * w, r, w, label=p)
ax.set_xticks(np.arange(len(cases)) + 0.4 - w / 2, labels)
ax.axhline(1.0, color="k", lw=0.6)
ax.set_ylabel("peer time / cxent time")
ax.set_title("cross-entropy forward + gradient, one thread")
ax.legend()
plt.show()
