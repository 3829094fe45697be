"""A scikit-learn classifier built on cxent's fused loss: ``SoftmaxRegression``.

Needs scikit-learn and SciPy (``pip install "cxent[sklearn]"``); ``import cxent`` does not import
them.  Each L-BFGS iteration computes the loss and its gradient with respect to the logits in one
call of the compiled kernel (sample weights folded into the targets), then the gradient with
respect to the coefficients by one matrix product.
"""

import numbers
import warnings

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._losses import binary_cross_entropy_with_logits, cross_entropy
from ._softmax import log_softmax, softmax

__all__ = ["SoftmaxRegression"]


class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    r"""Multinomial logistic regression (softmax regression) trained with cxent's fused loss.

    Minimises, with L-BFGS (:func:`scipy.optimize.minimize`),

    .. math:: C \sum_i s_i \, \mathrm{CE}(\mathrm{softmax}(W x_i + b), y_i)
              + \tfrac12 \lVert W \rVert^2

    (sample weights :math:`s_i`, intercept not penalised): the objective of scikit-learn's
    ``LogisticRegression`` with its default L2 penalty, so both give the same probabilities at
    convergence.  With two classes the model is the binomial one (one row of coefficients), as in
    ``LogisticRegression``.

    Parameters
    ----------
    C : float, default 1.0
        Inverse of the regularisation strength (> 0).
    fit_intercept : bool, default True
        Fit an intercept per class (not penalised).
    tol : float, default 1e-4
        L-BFGS stops when the largest component of the projected gradient is below it.
    max_iter : int, default 1000
        Maximum number of L-BFGS iterations; a ``ConvergenceWarning`` when reached.
    warm_start : bool, default False
        Start from the previous solution of `fit` when shapes allow.
    n_threads : int, optional
        Threads for cxent's kernels (``None``: OpenMP's default).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str, when `X` had feature names
    n_iter_ : ndarray of shape (1,)
        L-BFGS iterations of the last fit.
    loss_curve_ : list of float
        The objective (divided by ``C * sum(sample_weight)``) after each iteration.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from cxent.sklearn import SoftmaxRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftmaxRegression().fit(X, y)
    >>> clf.predict(X[:2]), clf.predict_proba(X[:1]).round(3)
    (array([0, 0]), array([[0.982, 0.018, 0.   ]]))
    >>> round(clf.score(X, y), 3)
    0.973
    """

    def __init__(self, C=1.0, fit_intercept=True, tol=1e-4, max_iter=1000, warm_start=False,
                 n_threads=None):
        self.C = C
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.n_threads = n_threads

    def _check_params(self):
        if not isinstance(self.C, numbers.Real) or not self.C > 0:
            raise ValueError(f"C must be a positive number, got {self.C!r}")
        if not isinstance(self.tol, numbers.Real) or not self.tol >= 0:
            raise ValueError(f"tol must be a non-negative number, got {self.tol!r}")
        if (not isinstance(self.max_iter, numbers.Integral) or isinstance(self.max_iter, bool)
                or self.max_iter < 1):
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        self._check_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        classes, yi = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, but "
                             f"the data contains only one class: {classes[0]!r}")
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64)
        X = np.asarray(X)  # float32 stays float32 (LogisticRegression's rule), else float64
        dt = X.dtype
        d = X.shape[1]
        K = len(classes)
        binary = K == 2
        rows = 1 if binary else K
        fi = bool(self.fit_intercept)
        cols = d + fi
        sw_sum = float(sw.sum())
        l2 = 1.0 / (self.C * sw_sum)
        if binary:
            target = yi.astype(dt)
            bce_w = sw.astype(dt)
        else:
            target = yi.astype(np.int64)  # class indices, weighted per sample by the kernel
        W0 = np.zeros((rows, cols))
        if (self.warm_start and hasattr(self, "coef_") and self.coef_.shape == (rows, d)
                and len(self.classes_) == K and np.array_equal(self.classes_, classes)):
            W0[:, :d] = self.coef_
            if fi:
                W0[:, d] = self.intercept_
        nt = self.n_threads

        def objective(wflat):
            W = wflat.reshape(rows, cols)
            Wd = W.astype(dt, copy=False)  # the data's precision for the logits
            Z = X @ Wd[:, :d].T
            if fi:
                Z += Wd[:, d]
            if binary:
                loss, G = binary_cross_entropy_with_logits(Z[:, 0], target, weight=bce_w,
                                                           reduction="sum", return_grad=True,
                                                           n_threads=nt)
                G = G[:, None]
            else:
                loss, G = cross_entropy(Z, target, sample_weight=sw, reduction="sum",
                                        return_grad=True, n_threads=nt)
            coef = W[:, :d]
            f = float(loss) / sw_sum + 0.5 * l2 * float(np.vdot(coef, coef))
            grad = np.empty_like(W)
            grad[:, :d] = (G.T @ X) / sw_sum + l2 * coef
            if fi:
                grad[:, d] = G.sum(axis=0, dtype=np.float64) / sw_sum
            return f, grad.ravel()

        curve = []
        res = minimize(objective, W0.ravel(), jac=True, method="L-BFGS-B",
                       callback=lambda intermediate_result: curve.append(
                           float(intermediate_result.fun)),
                       options={"maxiter": int(self.max_iter), "maxls": 50,
                                "gtol": float(self.tol), "ftol": 64 * np.finfo(float).eps})
        if res.status == 1 or res.nit >= self.max_iter:
            warnings.warn(f"lbfgs failed to converge after {res.nit} iteration(s) "
                          f"(max_iter={self.max_iter}); increase max_iter or scale the data.",
                          ConvergenceWarning, stacklevel=2)
        W = res.x.reshape(rows, cols)
        self.classes_ = classes
        self.coef_ = W[:, :d].astype(dt)
        self.intercept_ = W[:, d].astype(dt) if fi else np.zeros(rows, dt)
        self.n_iter_ = np.array([res.nit], dtype=np.int32)
        self.loss_curve_ = curve
        return self

    def decision_function(self, X):
        """Logits ``X @ coef_.T + intercept_``: shape (n_samples,) for two classes."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        X = np.asarray(X, dtype=self.coef_.dtype)
        Z = X @ self.coef_.T + self.intercept_
        return Z[:, 0] if Z.shape[1] == 1 else Z

    def _logits(self, X):
        Z = self.decision_function(X)
        if Z.ndim == 1:  # binomial: the softmax of [0, z] is [1 - sigmoid(z), sigmoid(z)]
            Z = np.stack([np.zeros_like(Z), Z], axis=1)
        return Z

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        return softmax(self._logits(X), n_threads=self.n_threads)

    def predict_log_proba(self, X):
        """Logarithms of the class probabilities (computed stably, never log(0))."""
        return log_softmax(self._logits(X), n_threads=self.n_threads)

    def predict(self, X):
        """The most probable class of each sample."""
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]
