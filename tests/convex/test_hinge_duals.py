"""The binary hinge's dual points by two compiled sweeps (derivtrain/convex/hinge_duals.py) give the
certificate the general path gives (torch's barrier slopes, bias.py's balancing) to rounding, on a
gradient run's weights on real rows; a balancing outside the closed form goes to the general path."""
import numpy as np
import pytest
import torch

import derivtrain.compiled as compiled
import derivtrain.convex.certificate as certificate
import derivtrain.convex.hinge_duals as hinge_duals
import derivtrain.convex.passes as passes
from derivtrain.convex.certificate import _MU_CANDIDATES, certify, linear_problem
from derivtrain.data.shards import OneProcess
from derivtrain.losses.hinge import HingeDatafit

needs_module = pytest.mark.skipif(compiled._ahead_of_time() is None, reason="no ahead-of-time module here")


@pytest.fixture(scope="module")
def sgd_run(tmp_path_factory):
    """(objective, training rows) of model=svm on breast_cancer after 2 SGD epochs: weights well short
    of the optimum, as a gradient run's end-of-run certificate meets them."""
    from derivtrain.data import build_data
    from derivtrain.run import build_objective, seed_everything
    from derivtrain.trainer.fitting import make_context
    from derivtrain.trainer.loop import fit
    from tests.conftest import compose_config
    from tests.trainer.helpers import RecordingLogger

    cfg = compose_config("model=svm", "optim=sgd", "trainer.max_epochs=2", "logger=none")
    seed_everything(cfg.trainer.seed)
    data = build_data(cfg.data, torch.device("cpu"), seed=cfg.trainer.seed)
    objective = build_objective(cfg, data)
    context = make_context(cfg, objective, data, RecordingLogger(), tmp_path_factory.mktemp("run") / "last.pt")
    fit(context)
    return objective, data.train, context.targets(data.train)  # signs


def _certificates(objective, X, targets, monkeypatch, compiled_sweeps: bool, **kwargs):
    if not compiled_sweeps:
        monkeypatch.setattr(certificate, "hinge_dual_parts", lambda *args: None)
    else:
        spy = hinge_duals.hinge_dual_parts
        monkeypatch.setattr(certificate, "hinge_dual_parts",
                            lambda *args: spy(*args) or pytest.fail("the compiled sweeps were not taken"))
    return [certify(objective, X, targets, mus=(mu,), **kwargs) for mu in _MU_CANDIDATES] + \
        [certify(objective, X, targets, **kwargs)]


@needs_module
@pytest.mark.parametrize("ranges", [1, 4], ids=["one range", "ranges on two threads"])
@pytest.mark.parametrize("weighted", [False, True], ids=["equal rows", "sample weights"])
def test_the_compiled_sweeps_give_the_general_paths_dual_values(sgd_run, monkeypatch, weighted, ranges):
    objective, train, signs = sgd_run
    if ranges > 1:  # 398 rows in ranges of 100 (the last 98), shared out over two threads
        import derivtrain.threads as threads

        monkeypatch.setattr(hinge_duals, "_RANGE", 100)
        monkeypatch.setattr(passes, "_COMPILED_ROWS", 100)  # the second sweep's blocks, backprojected as written
        monkeypatch.setattr(threads, "available", lambda: 2)
    assert type(linear_problem(objective).loss) is HingeDatafit
    n = train.X.shape[0]
    weights = torch.from_numpy(np.random.default_rng(0).uniform(0.2, 3.0, n)).float() if weighted else None
    with monkeypatch.context() as patch:
        general = _certificates(objective, train.X, signs, patch, False, sample_weight=weights)
    fast = _certificates(objective, train.X, signs, monkeypatch, True, sample_weight=weights)
    for mine, theirs in zip(fast, general):
        assert mine.primal == theirs.primal
        assert mine.dual == pytest.approx(theirs.dual, rel=1e-11, abs=1e-14)
        assert -np.inf < mine.dual < mine.primal  # a finite bound below P
    assert fast[-1].dual == pytest.approx(max(c.dual for c in fast[:-1]), rel=1e-12)  # the best width's


@needs_module
def test_a_balancing_outside_the_closed_form_goes_to_the_general_path():
    """Every row's dual point on one side (all margins violated the same way): the closed form's
    lambda would scale the largest to 0 or below, so the sweeps give way to bias.py's Newton; so do
    NaN scores (diverged weights), whose certificate the general path reports as NaN."""
    n = 200
    z = torch.linspace(0.5, 3.0, n, dtype=torch.float64)[:, None]
    y = -torch.ones(n, 1, dtype=torch.float64)
    c = torch.full((n,), 1.0 / n, dtype=torch.float64)
    X = torch.randn(n, 4)
    problem = type("Problem", (), {"loss": HingeDatafit(1)})()
    assert hinge_duals.hinge_dual_parts(problem, _MU_CANDIDATES, z, y, c, X, OneProcess()) is None
    assert hinge_duals.hinge_dual_parts(problem, _MU_CANDIDATES, z * float("nan"), y, c, X, OneProcess()) is None
    mixed = torch.where(torch.arange(n)[:, None] % 2 == 0, 1.0, -1.0).double()  # both sides: the closed form holds
    assert hinge_duals.hinge_dual_parts(problem, _MU_CANDIDATES, z * mixed, mixed, c, X, OneProcess()) is not None


def test_other_losses_and_several_columns_take_the_general_path():
    from derivtrain.losses.squared_hinge import SquaredHingeDatafit

    class ChangedHinge(HingeDatafit):  # a subclass that has not declared hinge_sweeps again
        def smoothed_slope(self, z, y, tau):
            return 0.5 * super().smoothed_slope(z, y, tau)

    z, c, X = torch.zeros(10, 2, dtype=torch.float64), torch.full((10,), 0.1, dtype=torch.float64), torch.randn(10, 3)
    for loss, columns in ((HingeDatafit(2), 2), (SquaredHingeDatafit(1), 1), (ChangedHinge(1), 1)):
        problem = type("Problem", (), {"loss": loss})()
        rows = z[:, :columns]
        assert hinge_duals.hinge_dual_parts(problem, _MU_CANDIDATES, rows, torch.ones_like(rows), c, X,
                                            OneProcess()) is None


@needs_module
def test_the_compiled_rounding_sum_is_the_general_paths(sgd_run, monkeypatch):
    """certificate.rounding_error's rows' part for the binary hinge in one compiled sweep: the general
    path's number to rounding, on a gradient run's scores with some rows moved onto their kink and
    beyond it (where the slope bound becomes the barrier's derivative), in ranges on two threads."""
    import derivtrain.threads as threads
    from derivtrain.convex.certificate import _primal, rounding_error

    objective, train, signs = sgd_run
    problem = linear_problem(objective)
    _, z, y, c = _primal(problem, train.X, signs)
    z = z.clone()
    z[:20] = y[:20]  # on the kink: 1 - y z = 0
    z[20:40] = 3 * y[20:40]  # well past it
    monkeypatch.setattr(hinge_duals, "_RANGE", 100)
    monkeypatch.setattr(threads, "available", lambda: 2)
    spy = hinge_duals.hinge_rounding_sum
    monkeypatch.setattr(certificate, "hinge_rounding_sum",
                        lambda *args: spy(*args) if spy(*args) is not None else pytest.fail("not compiled"))
    compiled_bound = rounding_error(problem, z, y, c, OneProcess())
    monkeypatch.setattr(certificate, "hinge_rounding_sum", lambda *args: None)
    general = rounding_error(problem, z, y, c, OneProcess())
    assert compiled_bound == pytest.approx(general, rel=1e-12) and general > 0
