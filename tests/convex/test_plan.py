"""One answer to "can this objective be certified": the pre-flight (from the config's classes) and the
run (from the built objective) ask derivtrain/convex/plan.py, so they agree, for derivtrain's own
losses and penalties and for plugins' (no class or name of a penalty is known to the core)."""
import pytest
import torch

from derivtrain.config.solver import check_solver
from derivtrain.data import build_data
from derivtrain.losses import ElementwisePenalty, L2Penalty
from derivtrain.run import build_objective
from derivtrain.trainer.fitters import fitter_name
from tests.conftest import compose_config

CASES = [
    (["model=svm"], "certified"),
    (["model=svm", "loss=squared_hinge", "model.C=null", "regularizer=l1"], "certified"),
    (["model=logistic", "regularizer=elastic_net"], "certified"),
    (["model=linear", "data=diabetes", "loss=poisson"], "certified"),
    (["model=logistic", "regularizer=none"], "quasi_newton"),  # no penalty, no certificate: L-BFGS, full batch
    (["model=mlp"], "gradient"),
    (["model=logistic", "regularizer._target_=tests.convex.test_plan.Ridge"], "certified"),  # a plugin penalty
    (["model=logistic", "regularizer._target_=tests.convex.test_plan.NotConvex"], "quasi_newton"),
]


class Ridge(ElementwisePenalty):
    def coefficients(self, shape):
        return 0.0, 1.0


class NotConvex(L2Penalty):
    convex = False


@pytest.mark.parametrize("overrides,expected", CASES)
def test_preflight_and_run_agree(overrides, expected):
    cfg = compose_config("logger=none", *overrides)
    assert check_solver(cfg) == expected
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    assert fitter_name(cfg.optim, build_objective(cfg, data), cfg.trainer, data) == expected


def test_no_core_module_names_a_penalty_class_or_string():
    """Only the losses package, where the penalties are defined and composed (functional forms, the
    fused SVM step), and the config defaults that name them as `_target_` know the built-in
    penalties: the rest asks a penalty's attributes (NoPenalty, "no penalty", is not one of them)."""
    from tests.conftest import REPO

    root = REPO / "derivtrain"
    for f in sorted(root.rglob("*.py")):
        if f.relative_to(root).as_posix().startswith(("losses/", "config/schemas/")):
            continue
        text = f.read_text()
        for name in ("L1Penalty", "L2Penalty", "ElasticNetPenalty"):
            assert name not in text, f"{f} names {name}"
