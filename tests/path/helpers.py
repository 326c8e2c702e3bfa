"""A path solved in this process on a composed config: its points and the data they were fit on."""
from derivtrain.path.grid import path_strengths
from derivtrain.path.solve import solve_path
from derivtrain.run import set_up
from derivtrain.train.fitting import make_context
from tests.conftest import compose_config


def solved_path(tmp_path, *overrides):
    """(points, session) for `python -m derivtrain <overrides> regularizer.path=...` (logger=none)."""
    cfg = compose_config(*overrides, "logger=none")
    session = set_up(cfg, tmp_path / "run")
    ctx = make_context(cfg, session.objective, session.data, session.logger)
    return solve_path(ctx, path_strengths(cfg.regularizer, session.objective, session.data)), session


def train_arrays(session):
    """The training rows as the solver saw them (standardized, float64) and their labels."""
    train = session.data.train
    return train.X.double().numpy(), train.y.numpy()
