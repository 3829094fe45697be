"""
Training a PyTorch classifier head with ``cxent.torch``
=======================================================

:class:`cxent.torch.CrossEntropyLoss` is a drop-in for ``torch.nn.CrossEntropyLoss`` on the CPU:
its forward pass computes the loss and the gradient in one fused pass, and its backward pass only
scales the saved gradient.  This example trains the same linear head on the digits twice, once
with each loss, from the same initial weights, and shows that the two runs agree step by step.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits

import cxent.torch as cxt

X, y = load_digits(return_X_y=True)
X = torch.tensor(X / 16.0, dtype=torch.float32)
y = torch.tensor(y)


def train(loss_fn, steps=150, seed=0):
    torch.manual_seed(seed)
    head = torch.nn.Linear(64, 10)
    opt = torch.optim.SGD(head.parameters(), lr=0.5)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(head(X), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses), head


ours, head = train(cxt.CrossEntropyLoss(label_smoothing=0.05))
theirs, _ = train(torch.nn.CrossEntropyLoss(label_smoothing=0.05))
print(f"final loss: cxent {ours[-1]:.6f}, torch {theirs[-1]:.6f}; largest difference over the "
      f"run {np.abs(ours - theirs).max():.1e}")
print(f"training accuracy: {(head(X).argmax(1) == y).float().mean().item():.4f}")

# %%
# The two curves lie on top of each other (float32 rounding differences only).

plt.figure(figsize=(6, 3.5))
plt.plot(ours, label="cxent.torch.CrossEntropyLoss", lw=2.5)
plt.plot(theirs, "--", label="torch.nn.CrossEntropyLoss")
plt.xlabel("SGD step")
plt.ylabel("training loss")
plt.yscale("log")
plt.legend()
plt.title("A linear head on the digits, label smoothing 0.05")
plt.show()
