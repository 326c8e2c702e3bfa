"""The L1 path of a smooth loss (derivtrain/path/prox_path.py): every point is the certified
solver's optimum from zero, and every weight its screening proves zero is zero in an unscreened
exact solve (proximal Newton from zero, whose L1 model is solved exactly: its zeros are exact)."""
from dataclasses import replace

import pytest
import torch

from derivtrain.logging import NullLogger
from derivtrain.path import prox_path
from derivtrain.trainer.certified import fit_certified
from derivtrain.trainer.fitting import Checkpointer, make_context
from derivtrain.trainer.prox_newton import fit_prox_newton
from tests.path.helpers import solved_path


@pytest.mark.parametrize("penalty", [["regularizer=l1"], ["regularizer=elastic_net", "regularizer.l1_ratio=0.5"]])
def test_l1_logistic_path_points_are_the_cold_optima_and_screening_is_safe(tmp_path, monkeypatch, penalty):
    proved = []  # (strength, the weights a step's screening proved zero)
    kept = prox_path.ProxPath._kept

    def spy(self, *args):
        index = kept(self, *args)
        proved.append((self.ctx.objective.penalty.strength, self.proved_zero.clone()))
        return index

    monkeypatch.setattr(prox_path.ProxPath, "_kept", spy)
    points, session = solved_path(tmp_path, "model=logistic", "data=breast_cancer", *penalty, "regularizer.path=auto",
                                  "regularizer.path_points=8", "regularizer.path_decades=3", "optim.tol=1e-10")
    ctx = replace(make_context(session.cfg, session.objective, session.data, NullLogger()),
                  checkpoints=Checkpointer(None))
    exact = {}
    for point in points:
        assert point.converged and point.gap <= 1e-10
        session.objective.penalty.strength = point.fitted
        cold = fit_certified(ctx)
        assert point.objective == pytest.approx(cold.metrics["train/objective"], rel=1e-9)
        fit_prox_newton(ctx)
        exact[point.fitted] = session.objective.model.linear.weight.detach().clone()
    assert sum(int(mask.sum()) for _, mask in proved) > 0
    for strength, mask in proved:
        assert torch.all(exact[strength][mask.reshape(exact[strength].shape)] == 0), strength
