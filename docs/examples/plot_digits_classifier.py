"""
A digits classifier: softmax regression with scikit-learn's tools
==================================================================

:class:`cxent.sklearn.SoftmaxRegression` is multinomial logistic regression whose loss and
gradient come from one call of cxent's fused kernel per L-BFGS iteration.  It is a scikit-learn
estimator, so pipelines, grid search and the metrics work as with ``LogisticRegression``; this
example picks ``C`` by cross-validation on scikit-learn's bundled 8x8 digits, compares the result
with ``LogisticRegression`` (same objective), and shows the learned class templates.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import GridSearchCV, train_test_split

import cxent
from cxent.sklearn import SoftmaxRegression

X, y = load_digits(return_X_y=True)
X = X / 16.0
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)

search = GridSearchCV(SoftmaxRegression(max_iter=1000), {"C": [0.1, 1.0, 10.0]}, cv=3)
search.fit(Xtr, ytr)
clf = search.best_estimator_
scores = search.cv_results_["mean_test_score"].round(4)
print("cross-validated accuracy per C:",
      dict(zip(search.cv_results_["param_C"], scores, strict=True)))
print(f"chosen C = {search.best_params_['C']}")

# %%
# The same objective as scikit-learn's ``LogisticRegression``: the same probabilities, so the
# same test accuracy and log-loss (:func:`cxent.log_loss` is ``sklearn.metrics.log_loss``).

ref = LogisticRegression(C=clf.C, max_iter=1000).fit(Xtr, ytr)
for name, model in (("cxent SoftmaxRegression", clf), ("sklearn LogisticRegression", ref)):
    proba = model.predict_proba(Xte)
    print(f"{name:28s} test accuracy {model.score(Xte, yte):.4f}  "
          f"log-loss {cxent.log_loss(yte, proba):.4f}")
print("largest probability difference:",
      f"{np.abs(clf.predict_proba(Xte) - ref.predict_proba(Xte)).max():.1e}")

# %%
# Each row of ``coef_`` is a template of its digit: pixels that vote for the class are red.

fig, axes = plt.subplots(2, 10, figsize=(11, 3), gridspec_kw={"height_ratios": [1, 1]})
lim = np.abs(clf.coef_).max()
for k, ax in enumerate(axes[0]):
    ax.imshow(clf.coef_[k].reshape(8, 8), cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set_title(str(clf.classes_[k]))
    ax.axis("off")
proba = clf.predict_proba(Xte)
for i, ax in enumerate(axes[1]):
    ax.imshow(Xte[i].reshape(8, 8), cmap="gray_r")
    ax.set_title(f"{clf.classes_[proba[i].argmax()]}: {proba[i].max():.2f}", fontsize=8)
    ax.axis("off")
fig.suptitle("top: coef_ per class; bottom: test images, predicted class and its probability")
fig.tight_layout()

# %%
# Where the errors are:

ConfusionMatrixDisplay.from_estimator(clf, Xte, yte, colorbar=False)
plt.title("cxent SoftmaxRegression on held-out digits")
plt.show()
