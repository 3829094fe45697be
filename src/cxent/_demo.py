"""``python -m cxent demo``: image classification with softmax regression on 8x8 digits.

Trains :class:`cxent.sklearn.SoftmaxRegression` on scikit-learn's bundled digits images (no
download) next to scikit-learn's ``LogisticRegression`` (same objective), prints accuracy, log-loss
and fit times, and draws a figure (training-loss curve, test images with their top-3 softmax
probabilities, confusion matrix) when matplotlib is installed.
"""

import time

import numpy as np

from ._metrics import log_loss


def demo(figure="cxent-digits.png", out=print):
    try:
        from sklearn.datasets import load_digits
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split

        from .sklearn import SoftmaxRegression
    except ImportError:
        out("The demo needs scikit-learn and SciPy: pip install 'cxent[demo]'")
        return None
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    out(f"Digits: {len(X)} images of 8x8 pixels, 10 classes; {len(Xtr)} to train, "
        f"{len(Xte)} to test.")
    models = {"cxent SoftmaxRegression": SoftmaxRegression(C=1.0, max_iter=1000),
              "sklearn LogisticRegression": LogisticRegression(C=1.0, max_iter=1000)}
    try:  # tiny matrix products: BLAS threads only contend (they did, 20x, on 2 shared vCPUs)
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn depends on threadpoolctl
        threadpool_limits = None
    rows = {}
    for name, model in models.items():
        t0 = time.perf_counter()
        if threadpool_limits is None:
            model.fit(Xtr, ytr)
        else:
            with threadpool_limits(1, user_api="blas"):
                model.fit(Xtr, ytr)
        fit_s = time.perf_counter() - t0
        rows[name] = (model.score(Xtr, ytr), model.score(Xte, yte),
                      log_loss(ytr, model.predict_proba(Xtr)),
                      log_loss(yte, model.predict_proba(Xte)), fit_s, model.n_iter_[0])
    out("(BLAS limited to one thread for both fits)")
    out(f"\n{'model':28s} {'train acc':>9s} {'test acc':>9s} {'train loss':>10s} "
        f"{'test loss':>10s} {'fit':>8s} {'iters':>6s}")
    for name, (a_tr, a_te, l_tr, l_te, fit_s, nit) in rows.items():
        out(f"{name:28s} {a_tr:9.4f} {a_te:9.4f} {l_tr:10.4f} {l_te:10.4f} "
            f"{fit_s * 1e3:6.0f} ms {nit:6d}")
    clf = models["cxent SoftmaxRegression"]
    proba = clf.predict_proba(Xte)
    out("\nThree test images and their top-3 softmax probabilities:")
    for i in range(3):
        top = np.argsort(proba[i])[::-1][:3]
        out(f"  true {yte[i]}: " + ", ".join(f"{clf.classes_[k]} ({proba[i, k]:.3f})"
                                             for k in top))
    cal = _calibration(clf, Xte, yte, out)
    if figure:
        _figure(clf, Xte, yte, proba, figure, out)
        _reliability(cal, figure.rsplit(".", 1)[0] + "-calibration.png", out)
    return rows


def _calibration(clf, Xte, yte, out):
    """Temperature scaling fitted on half of the test images, judged on the other half."""
    from ._calibration import fit_temperature
    from ._scale import score

    z = clf.decision_function(Xte)
    y = np.searchsorted(clf.classes_, yte)
    half = len(y) // 2
    T = fit_temperature(z[:half], y[:half])
    before, after = score(z[half:], y[half:]), score(z[half:] / T, y[half:])
    out(f"\nCalibration (temperature fitted on {half} test images, judged on the other "
        f"{len(y) - half}): T = {T:.3f}")
    out(f"  {'':22s} {'ECE':>7s} {'Brier':>7s} {'log loss':>9s} {'accuracy':>9s}")
    for name, r in (("before (T = 1)", before), (f"after (T = {T:.2f})", after)):
        out(f"  {name:22s} {r.ece:7.4f} {r.brier:7.4f} {r.mean_loss:9.4f} {r.accuracy:9.4f}")
    return z[half:], y[half:], T, before, after


def _reliability(cal, path, out):
    """Reliability diagram of the held-out half, before and after temperature scaling."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    from ._softmax import softmax

    z, y, T, before, after = cal
    n_bins = before.n_bins
    edges = np.linspace(0, 1, n_bins + 1)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), sharey=True)
    for ax, temp, r, title in ((axes[0], 1.0, before, "before"),
                               (axes[1], T, after, f"after, T = {T:.2f}")):
        p = softmax(z / temp)
        conf = p.max(axis=1)
        right = np.argmax(p, axis=1) == y
        b = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
        n = np.bincount(b, minlength=n_bins)
        acc = np.bincount(b, weights=right, minlength=n_bins) / np.maximum(n, 1)
        mid = (edges[:-1] + edges[1:]) / 2
        ax.bar(mid[n > 0], acc[n > 0], width=1 / n_bins, edgecolor="black", alpha=0.7,
               label="accuracy")
        ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
        ax.set_xlabel("top-1 confidence")
        ax.set_title(f"{title}: ECE {r.ece:.3f}, Brier {r.brier:.3f}")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("accuracy in the bin")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Reliability of cxent SoftmaxRegression on held-out digits "
                 "(cxent.fit_temperature, cxent.score)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    out(f"wrote {path}")


def _figure(clf, Xte, yte, proba, path, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        out("(matplotlib is not installed: no figure)")
        return
    fig = plt.figure(figsize=(13, 4.6))
    grid = fig.add_gridspec(2, 6, width_ratios=[3, 1, 1, 1, 1, 3])
    ax = fig.add_subplot(grid[:, 0])
    ax.plot(np.arange(1, len(clf.loss_curve_) + 1), clf.loss_curve_)
    ax.set_yscale("log")
    ax.set_xlabel("L-BFGS iteration")
    ax.set_ylabel("objective (mean cross-entropy + L2)")
    ax.set_title("training loss")
    pred = clf.classes_[np.argmax(proba, axis=1)]
    wrong = np.flatnonzero(pred != yte)
    show = list(np.flatnonzero(pred == yte)[:5]) + list(wrong[:3])
    for j, i in enumerate(show[:8]):
        a = fig.add_subplot(grid[j // 4, 1 + j % 4])
        a.imshow(Xte[i].reshape(8, 8), cmap="gray_r")
        top = np.argsort(proba[i])[::-1][:3]
        a.set_title("\n".join(f"{clf.classes_[k]}: {proba[i, k]:.2f}" for k in top),
                    fontsize=7, color="black" if pred[i] == yte[i] else "red")
        a.set_xticks([])
        a.set_yticks([])
        a.set_xlabel(f"true {yte[i]}", fontsize=7)
    ax = fig.add_subplot(grid[:, 5])
    K = len(clf.classes_)
    cm = np.zeros((K, K), int)
    np.add.at(cm, (np.searchsorted(clf.classes_, yte), np.searchsorted(clf.classes_, pred)), 1)
    ax.imshow(cm, cmap="Blues")
    for i in range(K):
        for j in range(K):
            if cm[i, j]:
                ax.text(j, i, cm[i, j], ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(K))
    ax.set_yticks(range(K))
    ax.set_title("confusion matrix (test)")
    fig.suptitle("cxent SoftmaxRegression on 8x8 digits")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    out(f"\nwrote {path}")
