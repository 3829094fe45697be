"""
Scoring a memory-mapped file batch by batch
===========================================

Logits of a large evaluation set often live on disk.  :func:`cxent.score` reads a memory-mapped
array one batch at a time, scores each batch with the compiled kernel (per-sample losses written
to an optional ``out=`` array, itself memory-mapped here) and accumulates the loss, accuracy,
top-k accuracy, ECE, Brier score and entropy in float64; ``python -m cxent score`` does the same
from the command line.
"""

import pathlib
import subprocess
import sys
import tempfile

import matplotlib.pyplot as plt
import numpy as np

import cxent

tmp = pathlib.Path(tempfile.mkdtemp())
n, k = 300_000, 100
rng = np.random.default_rng(0)
labels = rng.integers(0, k, n)
logits = np.lib.format.open_memmap(tmp / "logits.npy", mode="w+", dtype=np.float32, shape=(n, k))
for i in range(0, n, 50_000):  # written in pieces, as a model would
    z = rng.standard_normal((min(50_000, n - i), k)).astype(np.float32)
    z[np.arange(len(z)), labels[i:i + len(z)]] += 2.5
    logits[i:i + len(z)] = z
logits.flush()
np.save(tmp / "labels.npy", labels)
print(f"{n:,} x {k} float32 logits on disk: {logits.nbytes / 2**20:.0f} MiB")

# %%
# Score the file through a read-only memory map; the per-sample losses go to another one.

z = np.load(tmp / "logits.npy", mmap_mode="r")
losses = np.lib.format.open_memmap(tmp / "losses.npy", mode="w+", dtype=np.float32, shape=(n,))
done = []
r = cxent.score(z, labels, batch_size=32_768, out=losses, progress=done.append)
print(f"batches: {len(done)}; mean loss {r.mean_loss:.4f}, accuracy {r.accuracy:.4f}, "
      f"top-{r.topk} {r.topk_accuracy:.4f}, ECE {r.ece:.4f}, Brier {r.brier:.4f}, "
      f"{r.samples_per_second:,.0f} samples/s")
print(f"check: mean of the written losses {losses.mean(dtype=np.float64):.4f}")

# %%
# The same from the command line:

cmd = [sys.executable, "-m", "cxent", "score", str(tmp / "logits.npy"), str(tmp / "labels.npy"),
       "--batch-size", "65536"]
print(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)

# %%
# The distribution of the per-sample losses read back from the memory-mapped output:

plt.figure(figsize=(6, 3.5))
plt.hist(np.asarray(losses), bins=100, log=True)
plt.xlabel("cross-entropy of a sample")
plt.ylabel("samples")
plt.title(f"{n:,} samples scored from a memory map")
plt.show()
