"""The parts a config names keep derivtrain's contracts: checked when the config is composed.

A plugin's model must be a derivtrain Model taking `spec` (derivtrain/models/base.py); a loss a
derivtrain Loss (derivtrain/losses/base.py); a regularizer a Penalty (derivtrain/losses/penalty.py).
What is missing is named in one line, before any data is loaded: the alternative is a traceback
from deep inside training ("unexpected keyword argument 'spec'", "no attribute 'tasks'").
"""
import inspect

from hydra.utils import get_class

from derivtrain.errors import ConfigError

_GUIDE = "see README, Writing a plugin"


def check_contracts(cfg) -> None:
    from derivtrain.losses.base import Loss
    from derivtrain.losses.penalty import Penalty
    from derivtrain.models.base import Model

    model = get_class(cfg.model._target_)
    target = cfg.model._target_
    if not (isinstance(model, type) and issubclass(model, Model)):
        raise ConfigError(f"model._target_={target} is not a derivtrain model: subclass derivtrain.models.Model "
                          f"({_GUIDE})")
    if "spec" not in inspect.signature(model.__init__).parameters:
        raise ConfigError(f"model._target_={target}: __init__ must take `spec` (a DataSpec: n_features, classes, "
                          f"n_outputs) and pass it to Model.__init__ ({_GUIDE})")
    if not (isinstance(model.tasks, tuple) and set(model.tasks) <= {"classification", "regression", "density"}):
        raise ConfigError(f"model._target_={target}: `tasks` must be a tuple of classification, regression, "
                          f"density, not {model.tasks!r} ({_GUIDE})")
    for group, base in (("loss", Loss), ("regularizer", Penalty)):
        cls = get_class(cfg[group]._target_)
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise ConfigError(f"{group}._target_={cfg[group]._target_} is not a derivtrain {group}: subclass "
                              f"{base.__module__.rsplit('.', 1)[0]}.{base.__name__} ({_GUIDE})")
