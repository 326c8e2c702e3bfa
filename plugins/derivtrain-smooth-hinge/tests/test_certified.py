"""loss=smooth_hinge model=svm is solved to a certificate, and the certificate is true: its gap
bounds the distance to Clarabel's exact optimum of the same objective on the same rows."""
import pytest

pytest.importorskip("derivtrain_smooth_hinge")
pytest.importorskip("clarabel")
from derivtrain_smooth_hinge.loss import SmoothHingeLoss  # noqa: E402

from tests.convex.helpers import assert_certified_against, certified_fit  # noqa: E402
from tests.convex.reference import optimum  # noqa: E402


@pytest.mark.parametrize("smoothing", [0.5, 0.05])
def test_smooth_hinge_svm_is_certified_and_true(smoothing):
    metrics, objective, X, y, fitter = certified_fit(["model=svm", "data=breast_cancer"], SmoothHingeLoss(smoothing))
    assert fitter == "certified"
    exact = optimum(X, 2 * y - 1, "smooth_hinge", smoothing, l2=objective.penalty.strength)
    assert_certified_against(metrics, exact, 1e-8)


def test_the_preflight_and_the_run_agree():
    from derivtrain.config.solver import check_solver
    from tests.conftest import compose_config

    assert check_solver(compose_config("loss=smooth_hinge", "model=svm")) == "certified"


@pytest.mark.parametrize("data", ["breast_cancer", "iris"])
def test_smooth_hinge_under_l1_is_certified_and_true(data):
    """At w = 0 every row sits on the smooth hinge's straight part: no curvature anywhere, which
    proximal Newton's damping handles. One-vs-rest columns (iris) are independent problems, so the
    exact optimum is the sum of each column's binary one."""
    import numpy as np

    metrics, objective, X, y, _ = certified_fit(["model=svm", f"data={data}", "regularizer=l1"], SmoothHingeLoss(0.5))
    K = objective.model.linear.out_features
    signs = [2 * y - 1] if K == 1 else [np.where(y == k, 1.0, -1.0) for k in range(K)]
    l1 = objective.penalty.strength
    exact = sum(optimum(X, s, "smooth_hinge", 0.5, l1=np.full(X.shape[1], l1)) for s in signs)
    assert_certified_against(metrics, exact, 1e-3)  # breast_cancer: float32 rows certify ~9e-4 (the floor)


def test_an_l1_path_of_the_smooth_hinge_certifies_every_point(tmp_path):
    """The path's proximal Newton starts at w = 0, where the smooth hinge has no curvature at any
    row: its damped model must still move, and every point end certified (path.csv, metrics)."""
    import csv
    import json

    from tests.conftest import run_main

    run = tmp_path / "run"
    proc = run_main("model=svm", "loss=smooth_hinge", "regularizer=l1", "regularizer.path=auto",
                    "regularizer.path_points=8", "data=breast_cancer", "logger=none", f"hydra.run.dir={run}")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["path/points"] == 8 and metrics["path/not_converged"] == 0
    with open(run / "path.csv") as f:
        gaps = [float(row["optimality_gap"]) for row in csv.DictReader(f)]
    assert len(gaps) == 8 and max(gaps) <= 1e-4
