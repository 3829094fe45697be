"""SoftmaxRegression: scikit-learn's estimator checks, agreement with LogisticRegression."""

import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_digits, load_iris  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from cxent.sklearn import SoftmaxRegression  # noqa: E402


def test_check_estimator():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SkipTestWarning for optional pandas / array-api
        results = check_estimator(SoftmaxRegression(), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])) for r in results if r["status"] == "failed"]
    assert not failed
    assert sum(r["status"] == "passed" for r in results) >= 50


@pytest.mark.parametrize("C", [0.05, 1.0, 20.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_probabilities_match_logistic_regression_on_iris(C, fit_intercept):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    ours = SoftmaxRegression(C=C, fit_intercept=fit_intercept, tol=1e-10, max_iter=20000)
    ref = LogisticRegression(C=C, fit_intercept=fit_intercept, tol=1e-10, max_iter=20000)
    ours.fit(X, y)
    ref.fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-3)
    np.testing.assert_allclose(np.exp(ours.predict_log_proba(X)), ours.predict_proba(X),
                               rtol=1e-12)


def test_binary_and_sample_weights_match_logistic_regression():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    yb = np.where(y == 2, "virginica", "other")
    sw = np.random.default_rng(0).random(len(y)) * 2
    ours = SoftmaxRegression(tol=1e-10, max_iter=10000).fit(X, yb, sample_weight=sw)
    ref = LogisticRegression(tol=1e-10, max_iter=10000).fit(X, yb, sample_weight=sw)
    assert ours.coef_.shape == (1, 4)
    assert ours.decision_function(X).shape == (150,)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-6)
    assert list(ours.classes_) == ["other", "virginica"]
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


def test_integer_sample_weights_equal_repeated_samples():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    w = np.random.default_rng(1).integers(0, 3, len(y))
    a = SoftmaxRegression(tol=1e-10, max_iter=10000).fit(X, y, sample_weight=w)
    b = SoftmaxRegression(tol=1e-10, max_iter=10000).fit(np.repeat(X, w, 0), np.repeat(y, w))
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-6)


def test_digits_accuracy_at_least_logistic_regression_minus_one_point():
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.3, random_state=0)
    ours = SoftmaxRegression().fit(Xtr, ytr).score(Xte, yte)
    ref = LogisticRegression(max_iter=1000).fit(Xtr, ytr).score(Xte, yte)
    assert ours >= ref - 0.01
    assert ours > 0.93


def test_pipeline_grid_search_and_cross_val_score():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), SoftmaxRegression())
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.85
    gs = GridSearchCV(pipe, {"softmaxregression__C": [0.01, 1.0]}, cv=3).fit(X, y)
    assert gs.best_params_["softmaxregression__C"] == 1.0
    assert gs.score(X, y) > 0.9


def test_convergence_warning_and_warm_start():
    X, y = load_iris(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match="failed to converge"):
        clf = SoftmaxRegression(max_iter=2, warm_start=True).fit(X, y)
    assert clf.n_iter_[0] == 2
    loss_before = clf.loss_curve_[-1]
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)  # continues from the previous solution
    assert clf.loss_curve_[0] < loss_before + 1e-12
    assert len(clf.loss_curve_) == 2


@pytest.mark.parametrize(("kw", "msg"), [({"C": 0}, "C must be a positive number"),
                                         ({"tol": -1.0}, "tol must be a non-negative"),
                                         ({"max_iter": 0}, "max_iter must be a positive")])
def test_bad_parameters(kw, msg):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=msg):
        SoftmaxRegression(**kw).fit(X, y)


def test_import_cxent_does_not_import_sklearn():
    import subprocess
    import sys
    code = "import sys, cxent; print('sklearn' in sys.modules, 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("binary", [False, True])
def test_n_threads_gives_the_same_model(binary, force_parallel):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y = (y == 2) if binary else y
    one = SoftmaxRegression(tol=1e-8, n_threads=1).fit(X, y)
    two = SoftmaxRegression(tol=1e-8, n_threads=2).fit(X, y)
    np.testing.assert_array_equal(one.coef_, two.coef_)
    np.testing.assert_array_equal(one.predict_proba(X), two.predict_proba(X))
    with pytest.raises(ValueError, match="n_threads must be None or a positive integer"):
        SoftmaxRegression(n_threads=0).fit(X, y)


@pytest.mark.parametrize("binary", [False, True])
def test_float32_data_stays_float32(binary):
    # LogisticRegression's rule: float32 X gives float32 coef_ and probabilities
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    y = (y == 2) if binary else y
    sw = np.random.default_rng(1).random(len(y)) * 2
    ours = SoftmaxRegression(tol=1e-6, max_iter=5000).fit(X, y, sample_weight=sw)
    ref = LogisticRegression(tol=1e-8, max_iter=5000).fit(X, y, sample_weight=sw)
    assert ref.coef_.dtype == np.float32
    assert ours.coef_.dtype == np.float32 and ours.intercept_.dtype == np.float32
    assert ours.predict_proba(X).dtype == np.float32
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=2e-4)
