"""derivtrain.Estimator and its convenience classes as a user meets them: parameters named after the
config, real data, the scikit-learn ecosystem (GridSearchCV, Pipeline, clone, pickle), plugins,
the CLI's own optimum, and bad input (scikit-learn's conformance suite: test_estimator_checks.py)."""
import json
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import PoissonRegressor
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import derivtrain
from derivtrain.estimator import GMM, MLP, SVM, Estimator, Linear, Logistic, Poisson
from tests.conftest import run_main


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


def test_config_keys_are_parameters_that_grid_search_sets(cancer):
    X, y = cancer
    est = Estimator(model="svm", regularizer__strength=1e-3, optim__tol=1e-6, trainer__max_epochs=200)
    params = est.get_params()
    assert (params["model"], params["regularizer__strength"], params["optim__tol"]) == ("svm", 1e-3, 1e-6)
    assert "regularizer__strength=0.001" in repr(est)
    weak, strong = (clone(est).set_params(regularizer__strength=s).fit(X, y) for s in (1e-4, 1e-1))
    assert weak.model_.linear.weight.detach().norm() > 3 * strong.model_.linear.weight.detach().norm()
    pipe = Pipeline([("scale", StandardScaler()), ("est", Estimator(model="svm"))])
    search = GridSearchCV(pipe, {"est__regularizer__strength": [1e-3, 1e-1]}, cv=3).fit(X, y)
    best = search.best_params_["est__regularizer__strength"]
    assert search.best_score_ > 0.96 and search.best_estimator_[-1].get_params()["regularizer__strength"] == best
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] != scores[1]  # the candidates trained differently


def test_convenience_classes_fit_real_data(cancer):
    X, y = cancer
    Xi, yi = load_iris(return_X_y=True)
    Xd, yd = load_diabetes(return_X_y=True)
    assert SVM(C=1.0).fit(X, y).score(X, y) > 0.97
    assert SVM(multiclass="crammer_singer").fit(Xi, yi).score(Xi, yi) > 0.9
    logistic = Logistic(C=1.0).fit(Xi, yi)
    assert logistic.predict_proba(Xi).shape == (150, 3) and logistic.score(Xi, yi) > 0.95
    assert Linear().fit(Xd, yd).score(Xd, yd) > 0.5  # R^2 on the training rows (least squares: 0.518)
    Xs = StandardScaler().fit_transform(Xd)
    counts = np.random.default_rng(0).poisson(np.exp(0.5 + 0.4 * Xs[:, 2] + 0.3 * Xs[:, 8]))
    poisson = Poisson(alpha=1e-2, standardize=False, optim__tol=1e-10).fit(Xs, counts)
    reference = PoissonRegressor(alpha=1e-2, tol=1e-10, max_iter=1000).fit(Xs, counts)  # the same objective
    np.testing.assert_allclose(poisson.predict(Xs), reference.predict(Xs), rtol=1e-5)
    assert MLP(hidden_sizes=(16,), trainer__max_epochs=50).fit(Xi, yi).score(Xi, yi) > 0.9
    y_scaled = (yd - yd.mean()) / yd.std()  # features are standardized, targets are the user's: O(1) here
    regression = MLP(hidden_sizes=(16,), task="regression", trainer__max_epochs=100).fit(Xd, y_scaled)
    assert regression.score(Xd, y_scaled) > 0.4
    gmm = GMM(n_components=3).fit(Xi)
    assert gmm.predict_proba(Xi).shape == (150, 3) and gmm.bic(Xi) < GMM(n_components=1).fit(Xi).bic(Xi)
    assert not hasattr(SVM(), "predict_proba") and not hasattr(Linear(), "decision_function")


def test_plugins_options_are_estimators(cancer):
    X, y = cancer
    rff = Estimator(model="rff_svm", model__n_components=100, trainer__max_epochs=50, optim__lr=0.05).fit(X, y)
    assert type(rff.model_).__name__ == "RandomFourierSVM" and rff.score(X, y) > 0.94
    smooth = Estimator(loss="smooth_hinge").fit(X, y)
    assert type(smooth.get_params()["loss"]) is str and smooth.score(X, y) > 0.95
    # written as a ConvexLoss, its forward takes sample weights (the weighted mean): equal ones change nothing
    weighted = Estimator(loss="smooth_hinge").fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_allclose(weighted.decision_function(X), smooth.decision_function(X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", ["svm", "logistic"])
def test_same_optimum_as_the_cli_on_the_same_rows(tmp_path, model):
    from derivtrain.data.bundled import load_bundled

    proc = run_main(f"model={model}", "optim.tol=1e-9", "logger=none", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    cli = json.loads((tmp_path / "metrics.json").read_text())
    rows = np.load(tmp_path / "split.npz")
    table = load_bundled("breast_cancer")
    est = Estimator(model=model, optim__tol=1e-9).fit(table.X[rows["train"]], table.y[rows["train"]])
    assert est.metrics_["train/objective"] == pytest.approx(cli["train/objective"], rel=1e-6)
    test = table.X[rows["test"]]
    np.testing.assert_allclose(est.decision_function(test), derivtrain.load_run(tmp_path).decision_function(test),
                               atol=1e-4)  # the CLI's model keeps float32 weights


def test_pickle_joblib_and_clone_keep_predictions(tmp_path, cancer):
    X, y = cancer
    est = Logistic(C=0.5, class_weight="balanced").fit(X, y)
    for again in (pickle.loads(pickle.dumps(est)), joblib.load(joblib.dump(est, tmp_path / "est.joblib")[0])):
        np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))
        np.testing.assert_array_equal(again.predict(X), est.predict(X))
    fresh = clone(est)
    assert fresh.get_params() == est.get_params() and not hasattr(fresh, "model_")


def test_fit_writes_and_prints_nothing_unless_asked(tmp_path, monkeypatch, capfd, cancer):
    X, y = cancer
    monkeypatch.chdir(tmp_path)
    SVM().fit(X, y)
    MLP(trainer__max_epochs=5).fit(X, y)
    assert capfd.readouterr() == ("", "") and list(tmp_path.iterdir()) == []
    SVM(log_dir=tmp_path / "tb").fit(X, y)
    assert [p.name.startswith("events.out.tfevents") for p in (tmp_path / "tb").iterdir()] == [True]
    MLP(trainer__max_epochs=3, verbose=1).fit(X, y)
    assert capfd.readouterr().err  # the progress report


def test_labels_dataframes_and_sparse_rows(cancer):
    X, y = cancer
    labels = np.array(["benign", "malignant"])[1 - y]
    est = SVM().fit(X, labels)
    assert list(est.classes_) == ["benign", "malignant"] and set(est.predict(X)) == {"benign", "malignant"}
    from_sparse = SVM().fit(sparse.csr_matrix(X), y)  # made dense: the same fit
    np.testing.assert_allclose(from_sparse.decision_function(X), SVM().fit(X, y).decision_function(X))
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=load_breast_cancer().feature_names)
    est = Logistic().fit(frame, pd.Series(y))
    assert list(est.feature_names_in_) == list(frame.columns) and est.n_features_in_ == 30
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the names it was fitted with: no "feature names" warning
        by_frame = est.predict_proba(frame)
    np.testing.assert_allclose(by_frame, Logistic().fit(X, y).predict_proba(X), rtol=1e-10, atol=1e-15)


def test_bad_input_names_the_fix(cancer):
    X, y = cancer
    with pytest.raises(NotFittedError):
        SVM().predict(X)
    with pytest.raises(ValueError, match="did you mean optim__tol"):
        Estimator().set_params(optim__tolerance=1e-6)
    with pytest.raises(ValueError, match="unknown parameter 'alpha'"):
        Estimator(model="svm", alpha=1.0).fit(X, y)
    with pytest.raises(ValueError, match="did you mean svm"):
        Estimator(model="svmm").fit(X, y)
    with pytest.raises(ValueError, match=r"optim__tol=-1\.0 must be a finite number > 0"):
        SVM(optim__tol=-1).fit(X, y)
    with pytest.raises(ValueError, match="C=0 must be a number > 0"):
        SVM(C=0).fit(X, y)
    with pytest.raises(ValueError, match="only one class"):
        SVM().fit(X, np.ones(len(y)))
    with pytest.raises(ValueError, match="NaN"):
        SVM().fit(np.where(X > 1000, np.nan, X), y)
    with pytest.raises(ValueError, match="sample_weight has shape"):
        SVM().fit(X, y, sample_weight=np.ones(3))
    est = SVM().fit(X, y)
    with pytest.raises(ValueError, match="is expecting 30 features"):
        est.predict(X[:, :5])
    with pytest.raises(ValueError, match="class_weight weighs the classes of a classifier"):
        Estimator(model="linear", class_weight="balanced").fit(X, y)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fits_on_a_gpu_and_predicts_anywhere(cancer):
    X, y = cancer
    for make in (lambda **kw: SVM(optim__tol=1e-8, **kw), lambda **kw: MLP(trainer__max_epochs=20, **kw)):
        gpu, cpu = make(trainer__device="cuda").fit(X, y), make(trainer__device="cpu").fit(X, y)
        assert all(p.device.type == "cpu" for p in gpu.model_.parameters())  # picklable without CUDA
        assert (gpu.predict(X) == cpu.predict(X)).mean() > 0.98
