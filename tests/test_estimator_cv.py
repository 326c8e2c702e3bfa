"""LogisticCV, SVMCV and LinearCV: scikit-learn's conformance suite, use in a Pipeline, and the
strength they choose compared with scikit-learn's own cross-validated estimators on the same folds."""
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from derivtrain.estimator import LinearCV, LogisticCV, SVMCV, expected_failed_checks


# small grids and 3 folds: the suite fits each estimator some 60 times
@parametrize_with_checks([LogisticCV(Cs=3, cv=3), SVMCV(Cs=3, cv=3), LinearCV(alphas=3, cv=3)],
                         expected_failed_checks=expected_failed_checks)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_logistic_cv_chooses_a_c_whose_cv_score_matches_logistic_regression_cv():
    from sklearn.linear_model import LogisticRegressionCV

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)  # both see the same standardized rows
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    Cs = np.logspace(-3, 2, 12)
    ours = LogisticCV(Cs=Cs, cv=folds, optim__tol=1e-8).fit(X, y)
    theirs = LogisticRegressionCV(Cs=Cs, cv=folds, tol=1e-10, max_iter=10_000).fit(X, y)
    assert ours.scores_.shape == (5, 12)
    their_mean = theirs.scores_[1].mean(axis=0)  # (Cs,), in Cs order
    our_mean = ours.scores_.mean(axis=0)  # strongest penalty (smallest C) first: Cs order
    np.testing.assert_allclose(np.sort(ours.Cs_), Cs)
    # the same objective (C per row) on the same folds: the same scores at every C, and the same choice's score
    np.testing.assert_allclose(our_mean, their_mean, atol=0.002)
    assert abs(their_mean.max() - their_mean[np.argmin(abs(Cs - ours.C_))]) <= 0.002


def test_linear_cv_with_l1_picks_the_lasso_cv_alpha_on_the_same_folds():
    from sklearn.linear_model import LassoCV

    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    folds = list(KFold(5, shuffle=True, random_state=0).split(X))
    alphas = np.logspace(-2, 1.5, 15)  # LassoCV's alpha on 1/(2n)||.||^2 is ours / 2 (mean squared error)
    ours = LinearCV(alphas=2 * alphas, penalty="l1", cv=folds, scoring="neg_mean_squared_error",
                    optim__tol=1e-10).fit(X, y)
    theirs = LassoCV(alphas=alphas, cv=folds, tol=1e-12, max_iter=100_000).fit(X, y)
    assert ours.alpha_ == pytest.approx(2 * theirs.alpha_)
    our_mse = -ours.scores_.mean(axis=0)[::-1]  # strongest first -> LassoCV's alphas ascending
    np.testing.assert_allclose(our_mse, theirs.mse_path_.mean(axis=1)[::-1], rtol=1e-4)


def test_cv_estimators_work_in_a_pipeline_and_predict():
    X, y = load_wine(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), SVMCV(Cs=6, multiclass="crammer_singer", cv=3)).fit(X, y)
    assert pipe.score(X, y) > 0.95 and pipe[-1].scores_.shape == (3, 6)
    assert pipe[-1].C_ in pipe[-1].Cs_


def test_the_one_standard_error_rule_picks_a_stronger_penalty():
    X, y = load_breast_cancer(return_X_y=True)
    best = LogisticCV(Cs=10, cv=5, penalty="l1").fit(X, y)
    simple = LogisticCV(Cs=10, cv=5, penalty="l1", rule="1se").fit(X, y)
    assert simple.alpha_ >= best.alpha_
    mean, se = best.scores_.mean(axis=0), best.scores_.std(axis=0, ddof=1) / np.sqrt(5)
    assert mean[list(best.alphas_).index(simple.alpha_)] >= mean.max() - se[np.argmax(mean)]


@pytest.mark.parametrize("params, message", [
    (dict(Cs=[]), "non-empty list"), (dict(Cs=[1.0, -1.0]), "numbers > 0"), (dict(Cs=1), ">= 2"),
    (dict(cv=1), "cv=1"), (dict(scoring="r2"), "scoring='r2'"), (dict(rule="2se"), "rule"),
    (dict(penalty="l3"), "penalty='l3'"),
])
def test_bad_parameters_are_one_value_error(params, message):
    X, y = load_breast_cancer(return_X_y=True)
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        LogisticCV(**params).fit(X, y)
