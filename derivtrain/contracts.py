"""The parts a config names keep derivtrain's contracts: checked when the config is composed.

A plugin's model must be a derivtrain Model taking `spec` (derivtrain/models/base.py), its
`natural_losses` mapping tasks it serves to loss option names (which loss a task composes:
derivtrain/config/natural_loss.py); a loss a
derivtrain Loss (derivtrain/losses/base.py); a regularizer a Penalty (derivtrain/losses/penalty.py).
What is missing is named in one line, before any data is loaded: the alternative is a traceback
from deep inside training ("unexpected keyword argument 'spec'", "no attribute 'tasks'").
"""
import inspect

from hydra.utils import get_class

from derivtrain.errors import ConfigError

_GUIDE = "see README, Writing a plugin"
LOSS_BASE_SINCE = "0.2.0"  # the version whose losses subclass derivtrain.losses.Loss
CONVEX_FLAG_SINCE = "0.3.0"  # the version that certifies a loss or penalty only when its class says `convex = True`


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
    losses = model.natural_losses
    if not (isinstance(losses, dict) and set(losses) <= set(model.tasks)
            and all(isinstance(name, str) for name in losses.values())):
        raise ConfigError(f"model._target_={target}: `natural_losses` must map tasks it serves "
                          f"({', '.join(model.tasks)}) to loss option names, not {losses!r} ({_GUIDE})")
    for group, base in (("loss", Loss), ("regularizer", Penalty)):
        cls = get_class(cfg[group]._target_)
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise ConfigError(f"{group}._target_={cfg[group]._target_} is not a derivtrain {group}: subclass "
                              f"{base.__module__.rsplit('.', 1)[0]}.{base.__name__}{_since(group, cls)} ({_GUIDE})")
        _warn_undeclared_dual(group, cls)
        check_convex_contract(cfg[group], group, cls)


def _warn_undeclared_dual(group: str, cls) -> None:
    """A plugin class that writes its own `convex_dual` but not `convex = True` was certified
    before 0.3.0 and is not now: one warning line naming the version, not a silent change."""
    owner = next((k for k in cls.__mro__ if "convex_dual" in vars(k)), None)
    if owner is None or owner.__module__.split(".")[0] == "derivtrain" or getattr(cls, "convex", False) is True:
        return
    from derivtrain.logging import log

    log.warning("%s._target_=%s.%s writes convex_dual but not `convex = True`: since derivtrain %s a %s is "
                "certified only when its class says so (CHANGELOG.md); add `convex = True` to have it solved "
                "to a certificate", group, cls.__module__, cls.__name__, CONVEX_FLAG_SINCE, group)


def check_convex_contract(node, group: str, cls) -> None:
    """A plugin's loss or penalty that says it is convex keeps the convex contract at a probe point
    (derivtrain/convex/probe.py); derivtrain's own are checked by its tests."""
    if getattr(cls, "convex", False) is not True or cls.__module__.split(".")[0] == "derivtrain":
        return
    from derivtrain.convex.probe import check_convex_loss, check_convex_penalty

    # the node's keys the class takes (a regularizer node also holds regularizer.path's keys)
    params = inspect.signature(cls.__init__).parameters
    any_key = any(p.kind == p.VAR_KEYWORD for p in params.values())
    try:
        instance = cls(**{k: v for k, v in node.items() if not str(k).startswith("_") and (any_key or k in params)})
    except Exception:  # a bad key value: the run says so where it builds the class, as for any option
        return
    (check_convex_loss if group == "loss" else check_convex_penalty)(instance, node._target_)


def _since(group: str, cls) -> str:
    """A loss written for 0.1.0 (an nn.Module with `task` and `encode_targets`): the version that
    changed the contract, and that the class keeps its code (CHANGELOG.md)."""
    if group == "loss" and isinstance(cls, type) and (hasattr(cls, "task") or hasattr(cls, "encode_targets")):
        base = cls.__bases__[0]
        torch_module = f"{base.__module__}.{base.__name__}" == "torch.nn.modules.module.Module"
        written = "nn.Module" if torch_module else base.__name__
        return (f" instead of {written}: derivtrain {LOSS_BASE_SINCE} changed the loss contract "
                f"(0.1.0 took any nn.Module with `task` and `encode_targets`, which the class keeps; CHANGELOG.md)")
    return ""
