"""A certified fit of a loss or penalty that is not in derivtrain's config groups (a plugin's,
built in the test), on a bundled data set, and what checking it against an exact solver needs."""
import torch

from derivtrain.data import build_data
from derivtrain.logging import NullLogger
from derivtrain.losses import Objective
from derivtrain.run import build_objective, seed_everything
from derivtrain.trainer.fitters import fit_objective, fitter_name
from derivtrain.trainer.fitting import make_context
from tests.conftest import compose_config


def certified_fit(overrides, loss=None, penalty=None, tol=1e-8):
    """(metrics, objective, X (float64 numpy), y (numpy), fitter) of optim=auto on the composed
    problem, its loss and/or penalty replaced (the penalty keeps the config's strength unless set)."""
    cfg = compose_config("logger=none", f"optim.tol={tol}", "trainer.max_epochs=200", *overrides)
    seed_everything(0)
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    built = build_objective(cfg, data)
    if penalty is not None and not penalty.strength > 0:
        penalty.strength = built.penalty.strength
    objective = Objective(built.model, loss or built.loss, penalty or built.penalty)
    ctx = make_context(cfg, objective, data, NullLogger())
    name = fitter_name(cfg.optim, objective, cfg.trainer, data)
    result = fit_objective(ctx)
    return result.metrics, objective, data.train.X.double().numpy(), data.train.y.double().numpy(), name


def assert_certified_against(metrics, optimum: float, tol: float) -> None:
    """The reported gap bounds the true one (never below it) and meets tol."""
    primal, gap = metrics["train/objective"], metrics["train/optimality_gap"]
    true_gap = (primal - optimum) / abs(primal)
    assert true_gap <= gap + 1e-12, (primal, optimum, true_gap, gap)  # Clarabel's own 1e-11 slack
    assert gap <= tol and metrics["train/converged"]
