import json

import numpy as np
import pytest
import torch

pytest.importorskip("derivtrain_rff")
from derivtrain.data.table import DataSpec  # noqa: E402
from derivtrain_rff.data import make_circles  # noqa: E402
from derivtrain_rff.model import RandomFourierSVM  # noqa: E402


def test_features_approximate_the_rbf_kernel():
    spec = DataSpec(task="classification", n_features=3, classes=[0, 1])
    model = RandomFourierSVM(spec, n_components=20000, gamma=0.7, seed=0)
    X = torch.randn(6, 3)
    z = model.features(X)
    approx = z @ z.T
    exact = torch.exp(-0.7 * torch.cdist(X, X) ** 2)
    assert torch.allclose(approx, exact, atol=0.03)


def test_circles_are_two_rings():
    table = make_circles(n_samples=400, noise=0.0, seed=1)
    radius = np.linalg.norm(table.X, axis=1)
    assert np.allclose(radius[table.y == 1], 0.5) and np.allclose(radius[table.y == 0], 1.0)


def run(tmp_path, *args):
    """A run as `python -m derivtrain args` makes it, through derivtrain.train (in this process)."""
    import derivtrain

    folder = tmp_path / "_".join(a.replace("=", "-") for a in args)
    derivtrain.train(*args, "logger=none", run_dir=folder)
    return json.loads((folder / "metrics.json").read_text())["test/accuracy"], folder


def test_beats_the_linear_svm_on_circles(tmp_path):
    kernel, folder = run(tmp_path, "model=rff_svm", "data=circles")
    linear, _ = run(tmp_path, "model=svm", "data=circles")
    assert kernel >= 0.9 and linear <= 0.7
    import derivtrain

    model = derivtrain.load_run(folder)  # a plugin's model reloads like a built-in one
    table = make_circles(n_samples=500, seed=7)
    assert (model.predict(table.X) == table.y).mean() >= 0.9


def test_on_values_it_is_kernel_ridge_regression(tmp_path):
    """No loss= needed: the model names squared error as its natural loss for regression."""
    import derivtrain

    folder = tmp_path / "regression"
    derivtrain.train("model=rff_svm", "data=diabetes", "logger=none", run_dir=folder)
    assert "MSELoss" in (folder / ".hydra" / "config.yaml").read_text()
    assert json.loads((folder / "metrics.json").read_text())["test/r2"] > 0.3  # model=linear: 0.52, a line's best
