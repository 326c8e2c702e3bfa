"""Every point of a path is the optimum at its strength: its objective is compared with an exact
solve from zero by a solver that is not derivtrain's (tests/exact.py, tests/path/lasso_exact.py),
and its certified gap is within optim.tol."""
import pytest

from derivtrain.path.solve import non_zeros
from tests.exact import hinge_optimum, smooth_optimum
from tests.path.helpers import solved_path, train_arrays
from tests.path.lasso_exact import elastic_net_optimum

TOL = 1e-8


def assert_optimal(point, optimum: float, tol: float = TOL) -> None:
    assert point.converged and point.gap <= tol, (point.strength, point.gap)
    # P >= P* (up to the reference's own accuracy), and P - P* within the certified bound
    assert optimum - 1e-10 * abs(optimum) <= point.objective <= optimum + tol * abs(optimum) + 1e-12, \
        (point.strength, point.objective, optimum)


def test_l2_logistic_path_points_are_the_optima(tmp_path):
    points, session = solved_path(tmp_path, "model=logistic", "regularizer.path=auto", "regularizer.path_points=8",
                                  f"optim.tol={TOL}")
    X, y = train_arrays(session)
    assert len(points) == 8 and [p.strength for p in points] == sorted((p.strength for p in points), reverse=True)
    assert points[0].strength / points[-1].strength == pytest.approx(1e4)  # path_decades=4
    for point in points:
        assert_optimal(point, smooth_optimum(X, y.astype(float), point.strength, "logistic"))
    # warm starts: after the first point, Newton needs a few iterations a point, not a cold fit's
    assert sum(p.iterations for p in points[1:]) <= 4 * (len(points) - 1)


@pytest.mark.parametrize("variant", ["binary", "crammer_singer", "weston_watkins"])
def test_hinge_family_paths_are_certified_per_point(tmp_path, variant):
    data = ["data=breast_cancer"] if variant == "binary" else ["data=wine", f"model.multiclass={variant}"]
    points, session = solved_path(tmp_path, "model=svm", *data, "regularizer.path=[1,0.1,0.01,0.001]",
                                  "optim.tol=1e-6")
    X, y = train_arrays(session)
    K = 1 if variant == "binary" else 3
    for point in points:
        # scale: Clarabel's gap tolerance is absolute, and these optima are ~1e-3 (tests/exact.py)
        optimum = hinge_optimum(X, y, K, "ovr" if K == 1 else variant, point.strength, scale=1 / point.objective)
        assert_optimal(point, optimum, tol=1e-6)


@pytest.mark.parametrize("ratio", [1.0, 0.5])
def test_l1_and_elastic_net_paths_start_at_all_zero_and_are_optimal(tmp_path, ratio):
    penalty = ["regularizer=l1"] if ratio == 1.0 else ["regularizer=elastic_net", f"regularizer.l1_ratio={ratio}"]
    points, session = solved_path(tmp_path, "model=linear", "data=diabetes", *penalty, "regularizer.path=auto",
                                  "regularizer.path_points=6", "regularizer.path_decades=2", "optim.tol=1e-7")
    X, y = train_arrays(session)
    assert non_zeros(points[0]) == 0  # the grid starts at the strength that zeroes every weight
    assert non_zeros(points[1]) > 0  # and no higher than it must: the next point has one
    for point in points:
        assert_optimal(point, elastic_net_optimum(X, y.astype(float), point.strength, ratio, scale=1 / point.objective), tol=1e-7)


def test_a_multinomial_path_matches_cold_certified_fits(tmp_path):
    """Coupled scores (softmax): each carried Newton point against the certified solver from zero
    (itself checked against exact solvers in tests/trainer), both to a gap of 1e-10."""
    from dataclasses import replace

    from derivtrain.logging import NullLogger
    from derivtrain.trainer.certified import fit_certified
    from derivtrain.trainer.fitting import Checkpointer, make_context

    points, session = solved_path(tmp_path, "model=logistic", "data=wine", "regularizer.path=[1,0.1,0.01,0.001]",
                                  "optim.tol=1e-10")
    ctx = make_context(session.cfg, session.objective, session.data, NullLogger())
    for point in points:
        session.objective.penalty.strength = point.strength
        cold = fit_certified(replace(ctx, checkpoints=Checkpointer(None)))
        assert point.converged and point.gap <= 1e-10
        assert point.objective == pytest.approx(cold.metrics["train/objective"], rel=2e-10)
