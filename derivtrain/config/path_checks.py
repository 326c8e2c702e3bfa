"""The checks of a regularization path's keys (regularizer.path and its companions, derivtrain/path/).

A path solves a convex linear model at many strengths with the certified solver, each point
warm-started from the one before and certified to optim.tol: a model without a convex dual (mlp,
gmm) or a solver without a certificate (sgd, adam) would give points nobody can compare, so both
are configuration errors, found before any data is read.
"""
import math

from omegaconf import ListConfig

from derivtrain.errors import ConfigError, choice_error

# the regularizer keys a path adds: the penalty classes never see them (penalty_config)
PATH_KEYS = ("path", "path_points", "path_decades", "path_rule")
PATH_RULES = ("min", "1se")
_MAX_POINTS = 10_000


def wants_path(cfg) -> bool:
    return cfg.regularizer.get("path") is not None


def penalty_config(node):
    """The regularizer node without the path's keys: what the penalty class is built from."""
    from omegaconf import OmegaConf

    kept = {k: v for k, v in OmegaConf.to_container(node, resolve=True).items() if k not in PATH_KEYS}
    return OmegaConf.create(kept)


def path_data_config(cfg):
    """The data the run builds: its own, or under a path with data.cv_folds=K the train+val rows as
    one training split (the path runs the folds itself, derivtrain/path/folds.py; the test rows are
    the same ones, as split_indices takes them first whatever val_size is)."""
    if not (wants_path(cfg) and cfg.data.get("cv_folds")):
        return cfg.data
    from omegaconf import OmegaConf, open_dict

    data = OmegaConf.create(OmegaConf.to_container(cfg.data, resolve=True))
    with open_dict(data):
        data.cv_folds, data.fold, data.val_size = 0, None, 0.0
    return data


def check_path_keys(r) -> None:
    """The values alone: a grid of positive strengths (or auto), a sensible count and range, a rule."""
    path = r.get("path")
    if path is None:
        return
    if isinstance(path, (list, ListConfig)):
        check_strengths(list(path))
    elif path != "auto":
        raise ConfigError(f"regularizer.path={path} is not a grid; use regularizer.path=auto or a list of "
                          "strengths, e.g. regularizer.path=[1,0.1,0.01]")
    points, decades = r.get("path_points", 30), r.get("path_decades", 4.0)
    if isinstance(points, bool) or not isinstance(points, int) or not 2 <= points <= _MAX_POINTS:
        raise ConfigError(f"regularizer.path_points={points} must be an integer in 2..{_MAX_POINTS}")
    if isinstance(decades, bool) or not isinstance(decades, (int, float)) or not 0 < decades <= 12:
        raise ConfigError(f"regularizer.path_decades={decades} must be in (0, 12] (decades below the largest strength)")
    if r.get("path_rule", "min") not in PATH_RULES:
        raise choice_error("regularizer.path_rule", r.path_rule, PATH_RULES)


def check_strengths(values: list) -> None:
    """A grid given as values: not empty, each a finite number > 0, at most _MAX_POINTS."""
    if not values:
        raise ConfigError("regularizer.path=[] is empty; give strengths > 0 (e.g. [1,0.1,0.01]) or "
                          "regularizer.path=auto")
    if len(values) > _MAX_POINTS:
        raise ConfigError(f"regularizer.path has {len(values)} strengths; at most {_MAX_POINTS}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"regularizer.path holds {value!r}; every strength must be a finite number > 0")


def check_path(cfg, fitter: str) -> None:
    """What the path needs of the rest of the config: the certified solver, a penalty to vary,
    validation rows (or folds) to choose on, one process, a new run."""
    if not wants_path(cfg):
        return
    if not _linear_model(cfg):
        raise ConfigError(_solver_message(cfg, "not linear"))
    if str(cfg.regularizer._target_).endswith("NoPenalty"):
        raise ConfigError("regularizer.path varies a penalty's strength, but regularizer=none; "
                          "use regularizer=l2, l1 or elastic_net")
    if not cfg.regularizer.strength > 0:  # what decides whether the model is certifiable reads it
        raise ConfigError(f"regularizer.strength={cfg.regularizer.strength} with regularizer.path: the path sets "
                          "the strength itself; leave regularizer.strength at a value > 0 (the default 0.001)")
    if fitter != "certified" or cfg.optim.name not in ("auto", "certified"):
        raise ConfigError(_solver_message(cfg, fitter))
    for key in ("C", "alpha"):
        if cfg.model.get(key) is not None:
            raise ConfigError(f"model.{key}={cfg.model[key]} fixes the strength that regularizer.path varies; "
                              f"drop model.{key} (the path's strengths are regularizer.strength values)")
    if cfg.data.val_size == 0 and not cfg.data.get("cv_folds"):
        raise ConfigError("regularizer.path chooses a strength on validation rows, but data.val_size=0 leaves none; "
                          "set data.val_size=0.1 or data.cv_folds=5")
    if cfg.trainer.resume:
        raise ConfigError(f"trainer.resume={cfg.trainer.resume} with regularizer.path: a path is not resumed "
                          "(it takes a few single fits); run it again without trainer.resume")
    if cfg.trainer.strategy == "ddp":
        raise ConfigError("regularizer.path runs in one process; use trainer=default")


def _linear_model(cfg) -> bool:
    from hydra.utils import get_class

    from derivtrain.models.base import LinearModel

    model_cls = get_class(cfg.model._target_)
    return isinstance(model_cls, type) and issubclass(model_cls, LinearModel)


def _solver_message(cfg, fitter: str) -> str:
    if fitter == "not linear" or (fitter != "certified" and cfg.optim.name in ("auto", "certified")):
        return (f"regularizer.path needs a convex linear model (svm, logistic, linear, poisson) solved to a "
                f"certificate; {cfg.model._target_.rsplit('.', 1)[-1]} is not one: drop regularizer.path")
    return (f"regularizer.path certifies every point with the certified solver, which optim={cfg.optim.name} is "
            "not; use optim=auto (or optim=certified)")
