"""Certificate checks in the gradient loop: one pass over X for every barrier width, and a share of
the loop's time they never exceed (derivtrain/trainer/schedule.py: TimeShare)."""
import math

import pytest
import torch

from derivtrain.convex.certificate import _MU_CANDIDATES, _primal, dual_point, dual_value, dual_values, linear_problem
from derivtrain.trainer.schedule import Geometric, MeasuredInterval, TimeShare
from tests.trainer.helpers import fit_config


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_checks_never_take_more_than_their_share_of_the_time():
    """Epochs of 1 s and checks of 30 s (ten times dearer than assumed before the first is measured,
    as on a large table in a minibatch loop): once a check's cost is known, no check starts that
    would take the checks past 4 % of the time, and over 5,000 epochs they still happen."""
    clock, schedule = FakeClock(), Geometric()
    share = TimeShare(0.04, first_in_epochs=3.0, clock=clock)
    checks = 0
    for epoch in range(1, 5001):
        clock.now += 1.0
        if schedule.due(epoch) and share.allows(epoch):
            share.measure(lambda: setattr(clock, "now", clock.now + 30.0))
            checks += 1
            if checks > 1:
                assert share.spent <= 0.04 * clock.now + 1e-9
    assert share.spent <= 0.04 * clock.now
    assert checks >= 5 and share.spent > 0.02 * clock.now  # thinned, not switched off


def test_a_cheap_check_keeps_the_geometric_schedule():
    clock, schedule = FakeClock(), Geometric()
    share = TimeShare(0.04, first_in_epochs=3.0, clock=clock)
    taken = []
    for epoch in range(1, 200):
        clock.now += 1.0
        if schedule.due(epoch) and share.allows(epoch):
            share.measure(lambda: setattr(clock, "now", clock.now + 0.001))
            taken.append(epoch)
    g = Geometric()
    geometric = [e for e in range(1, 200) if g.due(e)]
    # the first waits until 3 assumed epochs are 4 % of the time; then every geometric epoch
    assert taken == [e for e in geometric if e >= 3 / 0.04]


@pytest.mark.parametrize("overrides", [("model=svm", "data=breast_cancer"),
                                       ("model=svm", "model.multiclass=crammer_singer", "data=wine"),
                                       ("model=svm", "regularizer=l1", "data=breast_cancer")])
def test_all_widths_in_one_pass_give_each_width_its_own_dual(tmp_path, overrides):
    """dual_values (one X^T G for the four widths) == dual_value width by width."""
    _, _, model = fit_config(tmp_path, *overrides, "trainer.max_epochs=3")
    from derivtrain.data import build_data
    from derivtrain.run import build_objective
    from tests.conftest import compose_config

    cfg = compose_config(*overrides)
    data = build_data(cfg.data, torch.device("cpu"), seed=cfg.trainer.seed)
    objective = build_objective(cfg, data)
    objective.model.load_state_dict(model.state_dict())
    problem = linear_problem(objective)
    X = data.train.X
    _, z, y, c = _primal(problem, X, objective.loss.encode_targets(data.train.y, data.spec.n_outputs))
    thetas = [dual_point(problem.loss, z, y, mu) for mu in _MU_CANDIDATES]
    together = dual_values(problem, thetas, c, X, y)
    one_by_one = [dual_value(problem, theta, c, X, y) for theta in thetas]
    assert all(math.isfinite(v) for v in together)
    assert together == pytest.approx(one_by_one, rel=1e-12, abs=1e-12)


def test_a_measured_interval_spreads_the_job_evenly_within_its_share():
    """Validations no decision reads (MeasuredInterval): epochs of 20 ms, validations of 5 ms (a
    quarter of an epoch, as in a full-batch run on a large table) every epoch asked: after the first,
    one every 7th epoch (5 / (0.04 * 20) = 6.25, rounded up), within 4 % of the time."""
    clock = FakeClock()
    interval = MeasuredInterval(1, 300, share=0.04, free=0.05, clock=clock)
    taken = []
    for epoch in range(1, 301):
        clock.now += 0.02
        if interval.due(epoch):
            interval.measure(epoch, epoch, lambda: setattr(clock, "now", clock.now + 0.005))
            taken.append(epoch)
    assert taken == list(range(1, 301, 7))
    assert interval.spent <= 0.04 * clock.now


def test_a_measured_interval_keeps_every_point_while_the_whole_run_costs_under_free():
    clock = FakeClock()
    interval = MeasuredInterval(2, 60, share=0.04, free=0.05, clock=clock)
    taken = []
    for epoch in range(1, 61):
        clock.now += 0.0003  # breast_cancer-sized: validations far dearer than an epoch, 30 of them 30 ms
        if interval.due(epoch):
            interval.measure(epoch, epoch, lambda: setattr(clock, "now", clock.now + 0.001))
            taken.append(epoch)
    assert taken == list(range(2, 61, 2))


def test_a_costly_validation_nothing_reads_is_thinned_and_one_a_decision_reads_is_not(tmp_path, monkeypatch):
    """Each validation made to take 20 ms (on breast_cancer an epoch takes well under 1 ms): past the
    free 50 ms, a curve nothing reads is stretched to 4 % of the loop's time (after the first, at
    epoch 2, none) and still ends on the final numbers at the last step; with early stopping reading
    it, every epoch is validated. 40 epochs: the count budget validates every second one."""
    import time

    import derivtrain.trainer.epoch_end as epoch_end

    evaluate = epoch_end.evaluate

    def slow_evaluate(*args, **kwargs):
        time.sleep(0.02)
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(epoch_end, "evaluate", slow_evaluate)
    monkeypatch.setattr(epoch_end, "VAL_TIMED_FROM", 0)  # breast_cancer's validation rows taken as large
    result, log, _ = fit_config(tmp_path / "a", "trainer.max_epochs=40")
    steps = [step for tag, _, step in log.scalars if tag == "val/loss"]
    assert steps == [2, 40] and result.steps == 40
    assert log.values("val/loss")[-1] == result.metrics["val/loss"]
    _, log, _ = fit_config(tmp_path / "b", "trainer.max_epochs=40", "trainer.early_stopping.patience=100")
    assert [step for tag, _, step in log.scalars if tag == "val/loss"] == list(range(1, 41))


def test_small_validation_rows_keep_the_count_schedule_however_slow(tmp_path, monkeypatch):
    """The same 20 ms validations on breast_cancer's rows as they are (far under 2^20 numbers): a busy
    machine's slowness thins no curve there, every point of the count schedule is kept."""
    import time

    import derivtrain.trainer.epoch_end as epoch_end

    evaluate = epoch_end.evaluate
    monkeypatch.setattr(epoch_end, "evaluate", lambda *a, **k: time.sleep(0.02) or evaluate(*a, **k))
    result, log, _ = fit_config(tmp_path, "trainer.max_epochs=40")
    assert [step for tag, _, step in log.scalars if tag == "val/loss"] == list(range(2, 41, 2))
