"""
Calibration: a reliability diagram and temperature scaling
===========================================================

A weakly regularised classifier is over-confident: its top probability is larger than how often
it is right.  :func:`cxent.score` measures that as the expected calibration error (ECE) and the
Brier score in the same kernel pass as the loss; :func:`cxent.fit_temperature` finds the
temperature ``T`` that minimises the cross-entropy of ``logits / T`` (Guo et al., 2017).  The
temperature is fitted on one half of the held-out images and judged on the other half; the
reliability curves are drawn by scikit-learn's ``calibration_curve`` on the top-1 confidence.
"""

import matplotlib.pyplot as plt
from sklearn.calibration import calibration_curve
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import cxent
from cxent.sklearn import SoftmaxRegression

X, y = load_digits(return_X_y=True)
Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.5, random_state=1, stratify=y)
clf = SoftmaxRegression(C=1e4, max_iter=2000).fit(Xtr, ytr)   # almost no regularisation
z = clf.decision_function(Xte)                                 # logits
half = len(yte) // 2
T = cxent.fit_temperature(z[:half], yte[:half])
print(f"fitted temperature T = {T:.3f}")

before = cxent.score(z[half:], yte[half:], n_bins=10)
after = cxent.score(z[half:] / T, yte[half:], n_bins=10)
for name, r in (("T = 1", before), (f"T = {T:.2f}", after)):
    print(f"{name:10s} ECE {r.ece:.4f}  Brier {r.brier:.4f}  log-loss {r.mean_loss:.4f}  "
          f"accuracy {r.accuracy:.4f}")

# %%
# Scaling by one temperature keeps every prediction's ranking, so the accuracy is unchanged,
# while the confidence now matches the accuracy much more closely.

fig, ax = plt.subplots(figsize=(5, 5))
for temp, r, style in ((1.0, before, "o-"), (T, after, "s-")):
    p = cxent.softmax(z[half:] / temp)
    right = (p.argmax(axis=1) == yte[half:]).astype(float)
    acc, conf = calibration_curve(right, p.max(axis=1), n_bins=10, strategy="uniform")
    ax.plot(conf, acc, style, label=f"T = {temp:.2f}: ECE {r.ece:.3f}")
ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfectly calibrated")
ax.set_xlabel("top-1 confidence (mean in the bin)")
ax.set_ylabel("accuracy in the bin")
ax.set_xlim(0.3, 1.01)
ax.set_ylim(0.3, 1.01)
ax.legend(loc="upper left")
ax.set_title("Reliability of held-out predictions")
plt.show()
