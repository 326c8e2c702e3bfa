"""derivtrain.load_run: the trained model back, predicting on raw features."""
import json

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

import derivtrain
from tests.conftest import run_cli


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
    proc = run_cli("model=logistic", "data=iris", "trainer.max_epochs=40", "logger=none",
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
