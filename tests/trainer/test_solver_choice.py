"""What optim=auto picks, the solver choices refused before anything is written, and the record a
run leaves of its rows (split.npz) and its objective."""
import json

import numpy as np
import pytest
import torch

from derivtrain.config.solver import choose_fitter
from tests.conftest import run_main


@pytest.mark.parametrize("certifiable,mixture,minibatches,expected", [
    (True, False, False, "certified"), (False, True, False, "em"), (False, False, False, "gradient"),
    (True, False, True, "gradient"), (False, True, True, "gradient"),
])
def test_auto_picks_the_natural_solver_and_minibatches_mean_the_gradient_loop(certifiable, mixture, minibatches,
                                                                              expected):
    assert choose_fitter("auto", certifiable, mixture, minibatches) == expected


@pytest.mark.parametrize("overrides,message", [
    (["optim.tol=0"], "optim.tol=0.0 must be a finite number > 0"),
    (["optim.tol=-1e-3"], "optim.tol=-0.001 must be a finite number > 0"),
    (["optim=lbfgs"], "optim=lbfgs needs a differentiable objective"),
    (["optim=lbfgs", "model=logistic", "regularizer=l1"], "optim=lbfgs needs a differentiable objective"),
    (["optim=certified", "model=mlp", "data=digits"], "optim=certified solves linear models"),
    (["optim=certified", "regularizer=none"], "optim=certified solves linear models"),
    (["optim=em"], "optim=em fits mixture models (model=gmm, model=gaussian), not model=svm"),
    (["optim=newton", "regularizer=l1", "model=logistic"], "optim=newton needs a twice-differentiable objective"),
    (["optim=certified", "trainer.batch_size=64"], "uses the full training set in every iteration"),
    (["optim=certifed"], "optim=certifed is not an option of 'optim'; did you mean certified?"),
    (["optim=certified", "optim.hessian=exact"], "optim.hessian=exact is not valid"),
])
def test_a_solver_that_cannot_work_is_refused_in_one_line(tmp_path, overrides, message):
    folder = tmp_path / "run"
    proc = run_main(*overrides, f"hydra.run.dir={folder}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and message in proc.stderr, proc.stderr
    assert not (folder / "metrics.json").exists() and not (folder / "checkpoints").exists()


def test_the_run_folder_records_its_rows_and_its_objective_is_recomputable(tmp_path):
    """split.npz holds row indices into scikit-learn's table: the training objective and the test
    accuracy recomputed from them, the saved standardization and weights equal metrics.json's."""
    from sklearn.datasets import load_breast_cancer

    import derivtrain

    folder = tmp_path / "run"
    assert run_main("model=svm", "logger=none", f"hydra.run.dir={folder}").returncode == 0
    metrics = json.loads((folder / "metrics.json").read_text())
    split = np.load(folder / "split.npz")
    X, y = load_breast_cancer(return_X_y=True)
    assert sorted(np.concatenate([split["train"], split["val"], split["test"]]).tolist()) == list(range(len(y)))
    model = derivtrain.load_run(folder)
    train = split["train"]
    scores = model.decision_function(X[train]).astype(np.float64)
    w = model.linear.weight.detach().double().numpy()
    alpha = model.config.regularizer.strength
    objective = np.mean(np.maximum(0, 1 - (2 * y[train] - 1) * scores)) + alpha / 2 * np.sum(w ** 2)
    assert objective == pytest.approx(metrics["train/objective"], rel=1e-5)
    assert (model.predict(X[split["test"]]) == y[split["test"]]).mean() == pytest.approx(metrics["test/accuracy"])
    assert metrics["train/converged"] is True and metrics["train/optimality_gap"] <= 1e-4


def test_the_sharpness_diagnostic_names_what_it_measured(tmp_path):
    """Exact Hessian-vector products for a twice-differentiable objective; for the hinge, the
    curvature of the objective smoothed over the finite-difference step, under its own name."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = {}
    for model in ("svm", "logistic"):
        folder = tmp_path / model
        assert run_main(f"model={model}", "optim=sgd", "trainer.max_epochs=4", "diagnostics.hessian_every_n_epochs=2",
                        "logger.histogram_every_n_epochs=0", f"hydra.run.dir={folder}").returncode == 0
        accumulator = EventAccumulator(str(folder))
        accumulator.Reload()
        tags[model] = {t.split("/", 1)[1] for t in accumulator.Tags()["scalars"] if "diagnostics/" in t}
    assert tags == {"svm": {"diagnostics/smoothed_curvature_top_eigenvalue"},
                    "logistic": {"diagnostics/hessian_top_eigenvalue"}}


def test_a_gradient_run_of_a_convex_model_reports_its_gap(tmp_path):
    """optim=sgd still trains as before; metrics.json says how far from the optimum it stopped."""
    folder = tmp_path / "run"
    proc = run_main("model=svm", "optim=sgd", "trainer.max_epochs=5", "logger=none", f"hydra.run.dir={folder}")
    assert proc.returncode == 0
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["train/converged"] is False and 1e-4 < metrics["train/optimality_gap"] <= 1.0
    assert "not converged: the certified bound on the optimality gap is" in proc.stderr and "use optim=auto" in proc.stderr
    assert torch.isfinite(torch.tensor(metrics["train/objective"]))
