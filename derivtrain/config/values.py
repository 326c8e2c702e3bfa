"""Value checks that types cannot make: every number within the range the code it reaches accepts.

Called first by derivtrain.config.validate, so that no value reaches torch or numpy unchecked (torch would
answer a negative momentum or a wrong number of Adam betas with a traceback; a NaN learning
rate would train to NaN). Messages name the key, the value and what it must be.
"""
import math

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError, OmegaConfBaseException

from derivtrain.choices import COVARIANCE_TYPES
from derivtrain.errors import ConfigError, choice_error

SEED_RANGE = (0, 2**32 - 1)  # numpy's and torch's seeds
LINE_SEARCHES = ("strong_wolfe", None)


def check_values(cfg) -> None:
    check_resolvable(cfg)
    values = OmegaConf.to_container(cfg, resolve=True)
    check_finite(values)
    check_seeds(values)
    _optim(cfg.optim)
    _model(cfg.model)
    _data(cfg.data)
    es = cfg.trainer.early_stopping
    at_least("trainer.early_stopping.patience", es.patience, 0)
    at_least("trainer.early_stopping.min_delta", es.min_delta, 0)
    at_least("trainer.early_stopping.min_rel_delta", es.get("min_rel_delta"), 0)
    at_least("trainer.gradient_tol", cfg.trainer.get("gradient_tol"), 0)
    if es.patience and cfg.data.get("val_size", 1) == 0 and not cfg.data.get("cv_folds"):
        raise ConfigError(f"trainer.early_stopping.patience={es.patience} needs validation rows, but "
                          "data.val_size=0; set data.val_size > 0 or trainer.early_stopping.patience=0")
    at_least("logger.histogram_every_n_epochs", cfg.logger.get("histogram_every_n_epochs"), 0)


def check_resolvable(node, prefix: str = "") -> None:
    """Every interpolation resolves: an unset ${oc.env:VAR} is a ConfigError naming the key."""
    keys = range(len(node)) if isinstance(node, ListConfig) else list(node.keys())
    for key in keys:
        full = f"{prefix}[{key}]" if isinstance(node, ListConfig) else (f"{prefix}.{key}" if prefix else str(key))
        try:
            value = node[key]
        except InterpolationResolutionError as err:
            raw = OmegaConf.to_container(node, resolve=False)[key]
            reason = str(err).strip().splitlines()[0]
            raise ConfigError(f"{full}={raw} cannot be resolved ({reason}); set what it names or give "
                              f"{full} a value") from None
        except OmegaConfBaseException:
            continue  # ??? (a mandatory value): reported where it is read, with its own message
        if isinstance(value, (DictConfig, ListConfig)):
            check_resolvable(value, full)


def _leaves(value, prefix: str = ""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{prefix}[{i}]")
    else:
        yield prefix, value


def check_finite(values: dict) -> None:
    """No NaN or infinity anywhere: every number derivtrain reads must be a finite one."""
    for key, value in _leaves(values):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key}={value} must be a finite number")


def check_seeds(values: dict) -> None:
    low, high = SEED_RANGE
    for key, value in _leaves(values):
        if key.rsplit(".", 1)[-1] == "seed" and value is not None and not (isinstance(value, int) and low <= value <= high):
            raise ConfigError(f"{key}={value} must be a whole number in [{low}, {high}] (2**32 - 1)")


def positive(key: str, value, allow_zero: bool = False) -> None:
    """value > 0 (>= 0 with allow_zero); None passes (an unset optional value)."""
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{key}={value} must be {'>= 0' if allow_zero else '> 0'}")


def at_least(key: str, value, low, strict: bool = False) -> None:
    if value is None:
        return
    if value < low or (strict and value == low):
        raise ConfigError(f"{key}={value} must be {'>' if strict else '>='} {low}")


def _optim(o) -> None:
    for key in ("momentum", "weight_decay", "eps"):
        at_least(f"optim.{key}", o.get(key), 0)
    if o.get("nesterov") and not o.get("momentum"):
        raise ConfigError(f"optim.nesterov=true needs momentum: set optim.momentum > 0 (now {o.get('momentum')})")
    if "betas" in o:
        betas = list(o.betas)
        if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
            raise ConfigError(f"optim.betas={betas} must be two numbers in [0, 1), e.g. optim.betas=[0.9,0.999]")
    if "line_search" in o and o.line_search not in LINE_SEARCHES:
        raise choice_error("optim.line_search", o.line_search, ("strong_wolfe", "null"))
    for key in ("history_size", "max_iter", "step_size"):
        at_least(f"optim.{key}", o.get(key), 0, strict=True)
    at_least("optim.patience", o.get("patience"), 0)
    if "gamma" in o:
        at_least("optim.gamma", o.gamma, 0, strict=True)
        if o.get("schedule") == "plateau" and o.gamma >= 1:
            raise ConfigError(f"optim.gamma={o.gamma}: optim.schedule=plateau multiplies the lr by it, which "
                              "must be < 1 (e.g. 0.1)")


def _model(m) -> None:
    sizes = m.get("hidden_sizes")
    if sizes is not None:
        for size in list(sizes):
            if not isinstance(size, int) or isinstance(size, bool) or size < 1:
                raise ConfigError(f"model.hidden_sizes={list(sizes)}: every layer needs a whole number of "
                                  f"units >= 1 (not {size})")
    if "dropout" in m and not 0 <= m.dropout < 1:
        raise ConfigError(f"model.dropout={m.dropout} must be in [0, 1)")
    at_least("model.n_components", m.get("n_components"), 1)
    at_least("model.reg_covar", m.get("reg_covar"), 0)
    if "covariance_type" in m and m.covariance_type not in COVARIANCE_TYPES:
        raise choice_error("model.covariance_type", m.covariance_type, COVARIANCE_TYPES)


def _data(d) -> None:
    for key in ("n_samples", "n_features"):
        at_least(f"data.{key}", d.get(key), 1)
    if d.get("task") == "classification":
        at_least("data.n_classes", d.get("n_classes"), 2)
    at_least("data.noise", d.get("noise"), 0)
    at_least("data.cluster_std", d.get("cluster_std"), 0, strict=True)
    informative = d.get("n_informative")
    if informative is not None and not 1 <= informative <= d.get("n_features", informative):
        raise ConfigError(f"data.n_informative={informative} must be in [1, data.n_features={d.n_features}]")
    centers = d.get("centers")
    if isinstance(centers, int) and not isinstance(centers, bool):
        at_least("data.centers", centers, 1)
