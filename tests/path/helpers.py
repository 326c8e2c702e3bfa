"""A path solved in this process on a composed config: its points and the data they were fit on."""
from derivtrain.config.plan import make_plan
from derivtrain.path.grid import path_strengths, strength_unit
from derivtrain.path.solve import solve_path
from derivtrain.run import set_up
from derivtrain.trainer.fitting import make_context
from tests.conftest import compose_config


def solved_path(tmp_path, *overrides):
    """(points, session) for `python -m derivtrain <overrides> regularizer.path=...` (logger=none)."""
    cfg = compose_config(*overrides, "logger=none")
    session = set_up(make_plan(cfg), tmp_path / "run")
    ctx = make_context(cfg, session.objective, session.data, session.logger)
    unit = strength_unit(session.objective, float(cfg.regularizer.strength))
    return solve_path(ctx, path_strengths(cfg.regularizer, session.objective, session.data, unit), unit), session


def train_arrays(session):
    """The training rows as the solver saw them (standardized, float64) and their labels (regression:
    in the data's units, as the points' objectives are)."""
    data = session.data
    y = data.train.y.double().numpy() if data.train.y.is_floating_point() else data.train.y.numpy()
    if data.train.y.is_floating_point():
        y = y * getattr(data, "target_scale", 1.0) + getattr(data, "target_mean", 0.0)
    return data.train.X.double().numpy(), y
