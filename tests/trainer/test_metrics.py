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


@pytest.mark.parametrize("overrides, reused", [(("model=svm",), True), (("model=logistic", "data=wine"), True),
                                               (("model=mlp", "trainer.max_epochs=3"), False)])
def test_the_final_training_metrics_reuse_the_certificates_scores(tmp_path, monkeypatch, overrides, reused):
    """A linear model's final metrics of the training rows come from the certificate's float64 scores
    (no pass of their own) and agree with the model's own forward pass; other models make their own."""
    import derivtrain.trainer.fitting as fitting
    from derivtrain.data import build_data
    from derivtrain.trainer.metrics import evaluate
    from tests.conftest import compose_config
    from tests.trainer.helpers import fit_config

    given = {}

    def spy(objective, split, targets, prefix, n_classes, scores=None):
        given[prefix] = scores
        return evaluate(objective, split, targets, prefix, n_classes, scores)
    monkeypatch.setattr(fitting, "evaluate", spy)
    result, _, model = fit_config(tmp_path, *overrides, "optim=sgd")
    assert (given["train"] is not None) == reused and given["val"] is None
    if not reused:
        return
    cfg = compose_config(*overrides)
    rows = build_data(cfg.data, torch.device("cpu"), seed=cfg.trainer.seed).train
    with torch.no_grad():
        forward = model(rows.X)
    torch.testing.assert_close(given["train"], forward, rtol=1e-5, atol=1e-5)
    predicted = (forward > 0).long() if forward.dim() == 1 else forward.argmax(1)
    assert result.metrics["train/accuracy"] == pytest.approx((predicted == rows.y).float().mean().item())
