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
