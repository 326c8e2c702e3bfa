"""The smooth path's shortcuts: its certificate read off the Newton step's gradient
(derivtrain/trainer/gradient_certificate.py) is the certified solver's certificate of the same weights,
and its rows stored by column (derivtrain/path/columns.py) give LinearSystem's products."""
import pytest
import torch

from derivtrain.convex.certificate import certify
from derivtrain.data import sparse
from derivtrain.path.columns import Columns
from derivtrain.path.solve import set_point
from derivtrain.trainer.linear_system import LinearSystem
from tests.path.helpers import solved_path


@pytest.mark.parametrize("data", ["data=breast_cancer", "data=wine"])
def test_each_points_certificate_is_the_certified_solvers(tmp_path, data):
    points, session = solved_path(tmp_path, "model=logistic", data, "regularizer.path=auto",
                                  "regularizer.path_points=8", "optim.tol=1e-9")
    objective, train = session.objective, session.data.train
    for point in points:
        assert point.converged and point.gap <= 1e-9
        set_point(objective.model.linear, point)
        objective.penalty.strength = point.fitted
        theirs = certify(objective, train.X, objective.loss.encode_targets(train.y, session.data.spec.n_outputs),
                         sample_weight=train.weight)
        assert point.certificate.primal == pytest.approx(theirs.primal, rel=1e-12)
        assert point.certificate.dual == pytest.approx(theirs.dual, rel=1e-10)
        assert theirs.relative_gap <= 1e-9


@pytest.mark.parametrize("coupled", [False, True])
def test_columns_give_linear_systems_products(coupled):
    torch.manual_seed(0)
    X = torch.randn(500, 7, dtype=torch.float64)
    K = 3
    D = torch.rand(500, K, K, dtype=torch.float64) - 0.3 if coupled else torch.rand(500, K, dtype=torch.float64)
    if coupled:
        D = (D + D.transpose(1, 2)) / 2
    extra = torch.rand(K, 7, dtype=torch.float64)
    T, G = torch.randn(K, 8, dtype=torch.float64), torch.randn(500, K, dtype=torch.float64)
    ours, theirs = Columns(X), LinearSystem(sparse.with_ones_column(X), K, 10_000)
    torch.testing.assert_close(ours.scores(T), theirs.scores(T), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours.backproject(G), theirs.backproject(G), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours._blocks(D, extra), theirs._blocks(D, extra), rtol=1e-10, atol=1e-10)
