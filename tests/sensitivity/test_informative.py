"""Ground truth: only the first 3 of 10 features carry signal; every method must rank them on top."""
import numpy as np
import pytest

from derivtrain.sensitivity.importance import Importance
from derivtrain.sensitivity.methods import attribute
from derivtrain.config.schemas.analysis import METHODS

K = 3


@pytest.mark.parametrize("method", METHODS)
def test_every_method_ranks_the_informative_features_first(informative_model, method):
    model, test = informative_model.model, informative_model.data.test
    # the costly ones on fewer rows / steps: Kernel SHAP fits one regression per row, NoiseTunnel
    # runs integrated gradients once per noisy copy
    options = {"kernel_shap": dict(n_samples=200), "noise_tunnel": dict(noise_samples=4, n_steps=16)}.get(method, {})
    rows = slice(0, 25) if method == "kernel_shap" else slice(None)
    result = attribute(model, test.X[rows], method, y=test.y[rows], **options)
    table = Importance.of(result.values.double().numpy(), model.feature_names_in_)
    # strictly above every noise feature, not just first by the ranking's tie order
    assert table.importance[:K].min() > table.importance[K:].max(), (method, table.importance)
    assert sorted(table.top(K)) == ["x0", "x1", "x2"]
    assert np.all(table.rank[:K] <= K)
