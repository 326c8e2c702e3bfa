"""Our torch metrics equal scikit-learn's."""
import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from derivtrain.trainer.metrics import classification_metrics, regression_metrics


@pytest.mark.parametrize("k", [2, 5])
def test_classification_metrics_match_sklearn(k):
    rng = np.random.default_rng(k)
    y = rng.integers(0, k, 300)
    scores = torch.as_tensor(rng.normal(size=300) if k == 2 else rng.normal(size=(300, k)))
    pred = (scores > 0).long().numpy() if k == 2 else scores.argmax(1).numpy()
    got = classification_metrics(scores, torch.as_tensor(y), k)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert got["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y, pred = rng.normal(size=200), rng.normal(size=200)
    got = regression_metrics(torch.as_tensor(pred), torch.as_tensor(y))
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y, pred))
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred))
