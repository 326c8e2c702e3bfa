"""The certified solver (interior point and Newton), Newton and EM resume bit for bit: a stop after
iteration k (as Ctrl-C or SIGTERM would ask) or a kill after any periodic checkpoint, then a resume,
gives the uninterrupted run's weights (torch.equal), its iteration count and, with the killed
run's points up to its checkpoint, exactly its logged points."""
import pytest
import torch

from derivtrain.data import build_data
from derivtrain.errors import UserError
from derivtrain.run import build_objective, seed_everything
from derivtrain.trainer.checkpoint import load_checkpoint
from derivtrain.trainer.fitters import fit_objective
from derivtrain.trainer.fitting import make_context
from derivtrain.trainer.interrupt import TrainingInterrupted
from tests.conftest import compose_config
from tests.trainer.helpers import RecordingLogger

SOLVERS = {  # name: overrides (each solver on data it needs several iterations for)
    "interior point": ["model=svm"],  # the default: hinge loss, the primal-dual interior point
    "interior point, l1": ["model=logistic", "data=wine", "regularizer=l1"],
    "certified newton": ["model=logistic"],
    "newton": ["model=logistic", "optim=newton", "optim.hessian=cg", "optim.tol=1e-12"],
    "em": ["model=gmm", "data=blobs", "model.n_components=4", "optim.n_init=3", "optim.tol=1e-9",
           "optim.max_iter=30"],
}


class Stop:
    """A StopRequests stand-in: the stop arrives while iteration `at` is being logged."""

    def __init__(self):
        self.signal_name, self.immediate = None, False


class StoppingLogger(RecordingLogger):
    def __init__(self, stop, at):
        super().__init__()
        self.stop, self.at = stop, at

    def log_scalars(self, scalars, step):
        super().log_scalars(scalars, step)
        if step == self.at and self.stop is not None:
            self.stop.signal_name = "SIGTERM"


def fit(tmp_path, overrides, resume_state=None, stop_at=None, every=0):
    cfg = compose_config("logger=none", *overrides, f"trainer.checkpoint_every_n_epochs={every}",
                         "trainer.keep_checkpoints=1000")
    seed_everything(cfg.trainer.seed)
    data = build_data(cfg.data, torch.device("cpu"), seed=cfg.trainer.seed)
    objective = build_objective(cfg, data)
    stop = Stop() if stop_at is not None else None
    logger = StoppingLogger(stop, stop_at)
    logger.logged_at_save = []  # how many points were logged when each checkpoint was written
    ctx = make_context(cfg, objective, data, logger, tmp_path / "checkpoints" / "last.pt", resume_state=resume_state)
    ctx.stop = stop
    saved, save = [], ctx.checkpoints.save

    def save_and_read_back(**content):  # each checkpoint as a resumed run reads it from disk
        save(**content)
        saved.append(load_checkpoint(tmp_path / "checkpoints" / "last.pt"))
        logger.logged_at_save.append(len(logger.scalars))

    ctx.checkpoints.save = save_and_read_back
    try:
        result = fit_objective(ctx)
    except TrainingInterrupted:
        result = None
    logger.saved = saved
    return result, logger, objective.model


def assert_same_fit(resumed, straight, killed_logger, n):
    """`resumed` from the killed run's checkpoint n equals the uninterrupted run `straight`."""
    result, logger, model = resumed
    s_result, s_logger, s_model = straight
    assert result.steps == s_result.steps and result.epochs == s_result.epochs
    for (name, value), expected in zip(model.state_dict().items(), s_model.state_dict().values()):
        assert torch.equal(value, expected), name
    # TensorBoard's view of a run killed right after checkpoint n: the points logged by then, less
    # those the resumed run's event file drops (after the checkpoint's step), then the resumed run's
    step = killed_logger.saved[n]["step"]
    kept = [p for p in killed_logger.scalars[:killed_logger.logged_at_save[n]] if p[2] <= step]
    assert sorted(kept + logger.scalars) == sorted(s_logger.scalars)


@pytest.fixture(scope="module", params=list(SOLVERS))
def solver(request, tmp_path_factory):
    overrides = SOLVERS[request.param]
    straight = fit(tmp_path_factory.mktemp("straight"), overrides)
    assert straight[0].steps >= 4, "a solve of a few iterations says little about resuming it"
    return overrides, straight


def test_a_stop_mid_solve_then_resume_is_the_uninterrupted_run(solver, tmp_path):
    overrides, straight = solver
    k = straight[0].steps // 2
    interrupted = fit(tmp_path, overrides, stop_at=k)
    assert interrupted[0] is None, "the stop request did not stop the solver"
    state = interrupted[1].saved[-1]
    assert "solver" in state and state["step"] >= k - 1
    assert_same_fit(fit(tmp_path / "again", overrides, resume_state=state), straight, interrupted[1], -1)


def test_every_periodic_checkpoint_resumes_to_the_uninterrupted_run(solver, tmp_path):
    """A SIGKILL at any moment leaves the newest periodic checkpoint: resuming any of them is exact."""
    overrides, straight = solver
    periodic = fit(tmp_path, overrides, every=2)
    mid_solve = len(periodic[1].saved) - 1  # the last one is the final checkpoint
    assert mid_solve >= 2, "checkpoint_every_n_epochs wrote no checkpoint mid-solve"
    for n in sorted({0, 1, mid_solve // 2, mid_solve - 1}):
        resumed = fit(tmp_path / str(n), overrides, resume_state=periodic[1].saved[n])
        assert_same_fit(resumed, straight, periodic[1], n)


def test_a_solver_state_that_does_not_fit_is_one_line(tmp_path):
    overrides = SOLVERS["interior point"]
    state = fit(tmp_path, overrides, stop_at=2)[1].saved[-1]
    state["solver"]["T"] = state["solver"]["T"][:, :3]
    with pytest.raises(UserError, match=r"solver state 'T' is \(1, 3\) torch.float64"):
        fit(tmp_path / "again", overrides, resume_state=state)


@pytest.mark.parametrize("name", [*SOLVERS, "dual coordinate descent", "prox newton"])
def test_a_run_killed_after_its_final_checkpoint_logs_no_point_twice(name, tmp_path, monkeypatch):
    """A kill between the final checkpoint and the run's metrics: the resumed run's TensorBoard view (the
    killed run's points its event file keeps, then its own) shows each point once; a solver whose final
    checkpoint holds its state ends where the solve ended, in as many iterations."""
    from derivtrain.trainer.solver_checkpoints import first_step_logged_again

    overrides = {**SOLVERS, "dual coordinate descent": ["model=svm", "data=synthetic", "data.n_samples=20000",
                                                        "data.n_features=50"],
                 "prox newton": ["model=logistic", "regularizer=l1"]}[name]
    from derivtrain.trainer import dual_cd_choice

    monkeypatch.setattr(dual_cd_choice, "compiled_ahead", lambda build=True: True)  # small rows: dual CD (no start)
    straight = fit(tmp_path, overrides)
    final = straight[1].saved[-1]
    assert final["fitted_by"] == {"dual coordinate descent": "dual_cd", "prox newton": "prox_newton"}.get(
        name, final["fitted_by"])
    resumed = fit(tmp_path / "again", overrides, resume_state=final)
    kept = [p for p in straight[1].scalars if p[2] < first_step_logged_again(final)]
    shown = [(tag, step) for tag, _, step in kept + resumed[1].scalars]
    assert len(shown) == len(set(shown)) and shown, shown
    if "solver" in final:
        assert_same_fit(resumed, straight, straight[1], -1)
