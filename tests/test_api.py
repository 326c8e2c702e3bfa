"""derivtrain.load_run: the trained model back, predicting on raw features."""
import json

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

import derivtrain
from tests.conftest import run_main


def test_load_run_predicts_raw_breast_cancer_features(svm_run):
    folder, _ = svm_run
    model = derivtrain.load_run(folder)
    X, y = load_breast_cancer(return_X_y=True)
    assert model.classes_ == [0, 1]
    assert (model.predict(X) == y).mean() >= 0.95
    scores = model.decision_function(X)
    assert scores.shape == (len(X),) and np.array_equal(model.predict(X), (scores > 0).astype(int))
    assert model.config.model._target_.endswith("LinearSVM")
    assert not hasattr(model, "predict_proba")  # a hinge-loss SVM has no probabilities
    # the reloaded model reproduces the run's own test accuracy
    assert json.loads((folder / "metrics.json").read_text())["test/accuracy"] >= 0.9


def test_logistic_run_has_probabilities(tmp_path):
    proc = run_main("model=logistic", "data=iris", "trainer.max_epochs=40", "logger=none",
                   f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 0, proc.stderr
    model = derivtrain.load_run(tmp_path / "run" / "checkpoints" / "last.pt")
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    proba = model.predict_proba(X)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert np.array_equal(proba.argmax(1), model.predict(X)) and (model.predict(X) == y).mean() >= 0.9


def test_load_run_of_a_folder_without_a_run(tmp_path):
    with pytest.raises(derivtrain.errors.UserError, match="no checkpoint"):
        derivtrain.load_run(tmp_path)


def readme_raw_features() -> dict:
    """{data option: the scikit-learn call} from the README's raw-features table."""
    import re

    from tests.conftest import REPO

    rows = re.findall(r"^\| `(\w+)` \| `(datasets\.load_\w+\([^)]*\)\.data)`", (REPO / "README.md").read_text(), re.M)
    return dict(rows)


def test_readme_says_what_raw_features_are_for_every_bundled_data_set():
    from sklearn import datasets  # noqa: F401 - the README's calls name it

    from derivtrain.data.bundled import BUNDLED, load_bundled

    calls = readme_raw_features()
    assert set(calls) == set(BUNDLED)
    for name, call in calls.items():
        np.testing.assert_allclose(eval(call), load_bundled(name).X, err_msg=name)


def test_diabetes_predictions_need_the_unscaled_features(tmp_path):
    from sklearn.datasets import load_diabetes
    from sklearn.metrics import r2_score

    from derivtrain.run import run
    from tests.conftest import compose_config

    metrics = run(compose_config("model=linear", "data=diabetes", "logger=none"), tmp_path / "run")
    model = derivtrain.load_run(tmp_path / "run")
    raw, scaled = load_diabetes(scaled=False), load_diabetes()
    assert r2_score(raw.target, model.predict(raw.data)) == pytest.approx(metrics["test/r2"], abs=0.1)
    assert r2_score(scaled.target, model.predict(scaled.data)) < -10  # the README's warning


# ---- the estimator API on rows it cannot score, DataFrames and tensors ------------------------
def _tiny_model(classes=("cat", "dog")):
    import torch

    from derivtrain.data.table import DataSpec
    from derivtrain.models.logistic import LogisticRegression

    model = LogisticRegression(DataSpec("classification", 3, list(classes), ["u", "v", "w"]))
    with torch.no_grad():
        model.linear.weight.copy_(torch.tensor([[1.0, -2.0, 0.5]]))
        model.linear.bias.zero_()
    return model


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 1e300])
def test_predict_on_rows_with_nan_or_inf_raises_value_error(bad):
    import torch

    model = _tiny_model()
    X = np.ones((4, 3))
    X[2, 1] = bad
    for method in (model.predict, model.decision_function):
        with pytest.raises(ValueError, match="contains NaN or infinity"):
            method(X)
        with pytest.raises(ValueError, match="contains NaN or infinity"):
            method(torch.as_tensor(X, dtype=torch.float32))


class Frame:
    """What predict needs of a DataFrame, without pandas: named columns, selection by a list of names."""

    def __init__(self, columns: dict):
        self.data = {k: np.asarray(v, dtype=float) for k, v in columns.items()}
        self.columns = list(columns)

    def __getitem__(self, names):
        return Frame({n: self.data[n] for n in names})

    def __array__(self, dtype=None, copy=None):
        return np.stack([self.data[c] for c in self.columns], axis=1).astype(dtype or float)


@pytest.mark.parametrize("make", ["duck", "pandas"])
def test_a_dataframe_is_matched_to_the_features_by_name(make):
    frame = Frame if make == "duck" else pytest.importorskip("pandas").DataFrame
    model = _tiny_model()
    X = np.random.default_rng(0).normal(size=(50, 3))
    expected = model.decision_function(X)
    shuffled = frame({"w": X[:, 2], "u": X[:, 0], "v": X[:, 1]})  # the columns in another order
    np.testing.assert_allclose(model.decision_function(shuffled), expected, rtol=1e-6)
    assert list(model.predict(shuffled)) == list(model.predict(X))
    with pytest.raises(ValueError, match=r"missing \['v'\]"):
        model.predict(frame({"u": X[:, 0], "w": X[:, 2]}))
    with pytest.raises(ValueError, match=r"unexpected \['extra'\]"):
        model.predict(frame({"u": X[:, 0], "v": X[:, 1], "w": X[:, 2], "extra": X[:, 0]}))


def test_tensors_work_for_models_with_string_classes():
    import torch

    model = _tiny_model()
    X = torch.tensor([[3.0, 0.0, 0.0], [-3.0, 0.0, 0.0]])
    assert list(model.predict(X)) == ["dog", "cat"]  # labels: a tensor cannot hold strings
    numeric = _tiny_model(classes=(0, 1))
    assert torch.equal(numeric.predict(X), torch.tensor([1, 0]))  # numbers stay a tensor
