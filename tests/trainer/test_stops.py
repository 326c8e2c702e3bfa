"""A stop request between two iterations of the certified solver, Newton or EM writes a checkpoint
of the model as it is and stops; resuming from it reaches the same fit."""
import pytest
import torch

from derivtrain.data import build_data
from derivtrain.devices import resolve_device
from derivtrain.run import build_objective, seed_everything
from derivtrain.trainer.fitters import fit_objective
from derivtrain.trainer.fitting import make_context
from derivtrain.trainer.interrupt import TrainingInterrupted
from tests.conftest import compose_config
from tests.trainer.helpers import RecordingLogger


class StopAt:
    """Reports SIGTERM from the n-th look on, as StopRequests would after a signal."""

    def __init__(self, n: int):
        self.n, self.looks = n, 0

    @property
    def signal_name(self):
        self.looks += 1
        return "SIGTERM" if self.looks >= self.n else None


def natural_fit(path, overrides, stop=None, resume_state=None):
    cfg = compose_config(*overrides, "logger=none")
    seed_everything(cfg.trainer.seed)
    data = build_data(cfg.data, resolve_device(cfg.trainer.device), seed=cfg.trainer.seed)
    objective = build_objective(cfg, data)
    ctx = make_context(cfg, objective, data, RecordingLogger(), path / "last.pt", resume_state=resume_state)
    ctx.stop = stop
    return fit_objective(ctx)


@pytest.mark.parametrize("overrides,fitted_by,metric,iteration", [
    # the certified solver and Newton look before each step, then once more to stop; EM once an iteration
    (["model=logistic", "data=iris", "optim=certified", "optim.tol=1e-8"], "certified", "train/objective", 2),
    (["model=logistic", "data=iris", "optim=newton", "optim.tol=1e-8"], "newton", "train/objective", 2),
    (["model=gmm", "data=blobs", "data.n_samples=300", "optim=em", "optim.tol=1e-6"], "em", "train/log_likelihood", 3),
])
def test_a_stop_checkpoints_the_iterate_and_resuming_finishes_the_fit(tmp_path, overrides, fitted_by, metric,
                                                                      iteration):
    straight = natural_fit(tmp_path / "a", overrides)
    with pytest.raises(TrainingInterrupted, match=f"SIGTERM after iteration {iteration}"):
        natural_fit(tmp_path / "b", overrides, stop=StopAt(3))
    state = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert state["fitted_by"] == fitted_by and state["step"] == iteration and state["converged"] is False
    resumed = natural_fit(tmp_path / "c", overrides, resume_state=state)
    assert resumed.metrics[metric] == pytest.approx(straight.metrics[metric], rel=1e-4, abs=1e-5)
