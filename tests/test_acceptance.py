"""The defaults reach the foundation's targets (seed 0; scripts/acceptance.py checks three seeds via the CLI)."""
import pytest

from tests.trainer.helpers import fit_config


@pytest.mark.parametrize("overrides,metric,target", [
    (["model=svm"], "val/accuracy", 0.95),
    (["model=logistic"], "val/accuracy", 0.95),
    (["model=linear", "data=diabetes"], "val/r2", 0.30),
    (["model=mlp", "data=digits"], "val/accuracy", 0.95),
])
def test_defaults_learn(tmp_path, overrides, metric, target):
    result, _, _ = fit_config(tmp_path, *overrides, natural=True)
    assert result.metrics[metric] >= target
