"""The estimator's configuration: the CLI's config groups, composed once per choice of options.

Hydra's composition reads and merges the YAML files (~0.2 s measured here: ten warm fits on
breast_cancer), and a scikit-learn estimator fits many times (GridSearchCV: every fold of every
candidate). So the work is done once and kept:

  composed(choices)        Hydra's config for the group choices (model=svm, loss=..., ...),
                           cached per choice set; plugins' options come in through the same
                           search path as on the command line
  configure(recipe, ...)   (plan(...): with the fitter its validation chose) a copy with the estimator's values set (OmegaConf checks their types),
                           passed through the CLI's own `validate`, resolved to plain values
                           (Plain: what the fitters read); cached per parameter set

Errors are ValueErrors (scikit-learn's convention for bad parameters) carrying the CLI's message.
"""
import copy
import functools
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

from derivtrain.errors import ConfigError, UserError, did_you_mean, nearest_first

# groups an estimator chooses an option of, and groups whose keys it sets (`optim__tol`)
CHOICE_GROUPS = ("model", "loss", "regularizer", "optim")
KEY_GROUPS = CHOICE_GROUPS + ("trainer", "logger", "diagnostics")
_CACHE_SIZE = 128


class InvalidParameterError(ConfigError, ValueError):
    """A parameter value or name the estimator cannot use; a ValueError, as scikit-learn expects."""


class Plain(dict):
    """A resolved config as plain dicts with attribute access (cfg.optim.tol, cfg.get("diagnostics")):
    what the fitters read. An OmegaConf read costs ~10 us, and a warm fit reads the config a few
    hundred times (the solvers read optim.tol, trainer.max_epochs every iteration)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_container(self) -> dict:
        """Plain dicts and lists all the way down (what OmegaConf.create takes)."""
        def plain(value):
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return [plain(v) for v in value] if isinstance(value, list) else value

        return plain(self)

    @classmethod
    def of(cls, value):
        if isinstance(value, dict):
            return cls({k: cls.of(v) for k, v in value.items()})
        return [cls.of(v) for v in value] if isinstance(value, list) else value


@dataclass
class Recipe:
    """What an estimator's parameters ask for: group choices, config values, and scikit-learn's C."""

    choices: dict = field(default_factory=dict)  # group -> option name
    values: dict = field(default_factory=dict)  # "optim.tol" -> value (the estimator name it came from is kept below)
    names: dict = field(default_factory=dict)  # "optim.tol" -> "optim__tol": for messages
    C: object = None  # scikit-learn's C, turned into the penalty's strength at fit (needs the rows' weights)

    def set(self, name: str, key: str, value) -> None:
        if key in self.values:
            raise InvalidParameterError(f"{self.names[key]} and {name} both set {key}; set one of them")
        self.values[key], self.names[key] = value, name


def config_key(name: str):
    """`optim__tol` -> `optim.tol` for a group whose keys an estimator sets, else None."""
    group, sep, rest = name.partition("__")
    return f"{group}.{rest.replace('__', '.')}" if sep and rest and group in KEY_GROUPS else None


def estimator_name(key: str) -> str:
    return key.replace(".", "__")


def _plain(value):
    """numpy scalars and arrays, tuples -> what OmegaConf stores (and a hashable cache key)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.ndarray, tuple, list)):
        return tuple(_plain(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value))
    return value


def _for_omegaconf(value):
    value = _plain(value)
    return [_for_omegaconf(v) for v in value] if isinstance(value, tuple) else value


@functools.lru_cache(maxsize=32)
def composed(choices: tuple) -> DictConfig:
    """The CLI's config for `choices` ((group, option) pairs), composed by Hydra once per set.

    Through Hydra's config loader rather than `hydra.compose`, which needs (and would clobber)
    the process-wide GlobalHydra: an estimator may fit inside someone's Hydra app."""
    from hydra import version
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path
    from hydra.types import RunMode
    from packaging.version import Version

    from derivtrain.config import check_overrides, register_schemas
    from derivtrain.error_messages import describe_user_error
    from derivtrain.paths import config_dir

    overrides = [f"{group}={option}" for group, option in choices]
    saved_base = version.getbase()  # someone's own Hydra app may have set another; put it back after
    try:
        check_overrides(overrides)
        register_schemas()
        version.setbase("1.3")  # the CLI's version_base
        loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(config_dir())))
        cfg = loader.load_configuration("config", overrides=overrides, run_mode=RunMode.RUN, from_shell=False)
    except Exception as exc:  # noqa: BLE001 - Hydra's many composition errors, as the CLI reports them
        message = describe_user_error(exc)
        if message is None:
            raise
        raise InvalidParameterError(message) from None
    finally:
        if isinstance(saved_base, Version):
            version.VersionBase.instance().setbase(saved_base)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def check_names(choices: dict, names) -> None:
    """Every `group__key` name must be a key of the composed config: ValueError naming the nearest."""
    for name in names:
        if config_key(name) is None:
            raise unknown_parameter(name, choices)
    check_keys(choices, {config_key(name): name for name in names})


def check_keys(choices: dict, names: dict) -> None:
    """Every config key (names: key -> the parameter that sets it) exists under these choices."""
    cfg = composed(tuple(sorted(choices.items())))
    for key, name in names.items():
        if _select(cfg, key) is _MISSING:
            parent = key.rpartition(".")[0]
            node = OmegaConf.select(cfg, parent, default=None)
            valid = [estimator_name(f"{parent}.{k}") for k in node if not str(k).startswith("_")] \
                if isinstance(node, DictConfig) else []
            raise InvalidParameterError(f"unknown parameter {name} (no config key {key}); "
                                        f"{did_you_mean(name, valid, 'valid names')}")


_MISSING = object()


def _select(cfg, key: str):
    try:
        return OmegaConf.select(cfg, key, default=_MISSING)
    except Exception:  # noqa: BLE001 - a path through a value that is not a node
        return _MISSING


def unknown_parameter(name: str, choices: dict, named=()) -> InvalidParameterError:
    """`name` is neither a parameter of the estimator (`named`) nor a `group__key` of its config:
    the nearest of those (a config key whose own name it is, first), and how config keys are named."""
    if name.startswith(("data__", "analysis__", "sweep__")):
        return InvalidParameterError(f"unknown parameter {name!r}: the data come from fit(X, y), and "
                                     "standardize= is the data setting an estimator has")
    try:
        cfg = composed(tuple(sorted(choices.items())))
        keys = [f"{g}__{k}" for g in KEY_GROUPS if g in cfg for k in cfg[g] if not str(k).startswith("_")]
    except InvalidParameterError:
        keys = []
    same_key = [k for k in keys if k.rpartition("__")[2] == name]
    ordered, close = nearest_first(name, [*named, *keys])
    hint = f"did you mean {same_key[0]}? " if same_key else (f"did you mean {ordered[0]}? " if close else "")
    return InvalidParameterError(f"unknown parameter {name!r}; {hint}parameters: {', '.join(named)}, and "
                                 f"config keys as <group>__<key> ({', '.join(KEY_GROUPS)}), e.g. "
                                 "regularizer__strength=1e-3, optim__tol=1e-6")


_configured: "OrderedDict[tuple, Plan]" = OrderedDict()  # Plan: derivtrain/config/plan.py


def configure(recipe: Recipe, logging_to: bool, verbose: bool) -> Plain:
    """The validated, resolved config a fit runs with (cached per parameter set), as plain values."""
    return plan(recipe, logging_to, verbose).cfg


def plan(recipe: Recipe, logging_to: bool, verbose: bool) -> "Plan":
    """The fit's plan (derivtrain/config/plan.py): that config and the fitter its validation chose,
    made once per parameter set; the fit runs that fitter, it does not choose again."""
    choices = tuple(sorted(recipe.choices.items()))
    try:
        key = (choices, tuple(sorted((k, _plain(v)) for k, v in recipe.values.items())), logging_to, verbose)
        hash(key)
    except TypeError:  # a value that cannot be a cache key: build every time
        key = None
    if key is not None and key in _configured:
        _configured.move_to_end(key)
        return _configured[key]
    made = _build(recipe, choices, logging_to, verbose)
    if key is not None:
        _configured[key] = made
        while len(_configured) > _CACHE_SIZE:
            _configured.popitem(last=False)
    return made


def _build(recipe: Recipe, choices: tuple, logging_to: bool, verbose: bool) -> "Plan":
    from derivtrain.config import validate
    from derivtrain.config.plan import Plan

    cfg = copy.deepcopy(composed(choices))
    check_keys(recipe.choices, recipe.names)
    for key, value in recipe.values.items():
        try:
            OmegaConf.update(cfg, key, _for_omegaconf(value), merge=False)
        except (ConfigKeyError, ConfigAttributeError, ValidationError) as exc:
            first = str(getattr(exc, "msg", exc)).splitlines()[0]
            raise InvalidParameterError(f"{recipe.names[key]}={value!r} is not valid for {key}: {first}") from None
    cfg.logger.name = "tensorboard" if logging_to else "none"
    cfg.trainer.progress_bar = "true" if verbose else "false"
    _check_in_process(cfg)
    try:
        fitter = validate(cfg)
        resolved = OmegaConf.to_container(cfg, resolve=True)
    except UserError as exc:
        raise InvalidParameterError(estimator_names(str(exc), recipe)) from None
    return Plan(Plain.of(resolved), fitter)


def _check_in_process(cfg) -> None:
    """What a fit inside this process cannot do (the CLI can: derivtrain.train(...))."""
    t = cfg.trainer
    if t.strategy != "single":
        raise InvalidParameterError(f"trainer__strategy={t.strategy}: an estimator fits in one process; "
                                    "train data-parallel with torchrun and the CLI (trainer=ddp)")
    if t.resume is not None:
        raise InvalidParameterError("trainer__resume continues a run folder's training; use "
                                    "derivtrain.train('trainer.resume=<run folder>', ...) instead")


def estimator_names(message: str, recipe: Recipe) -> str:
    """The CLI's message with the keys the user set written as estimator names (optim.tol -> optim__tol)."""
    for key, name in recipe.names.items():
        message = message.replace(f"{key}=", f"{name}=")
    return message


# ---- what a configuration trains (read from the classes it names; nothing instantiated) -------
def target(node):
    """The class (or function) a `_target_` node names."""
    return _located(node._target_)


@functools.lru_cache(maxsize=None)
def _located(path: str):
    """Hydra's lookup of a dotted path, once a path: an estimator asks for its loss's and model's classes
    in every fit, predict and tag query (scikit-learn reads the tags twice a predict), ~12 us a lookup.
    bench_estimator.py's grid search, alternating in one process, medians of 9: 258.8 -> 245.8 ms. A
    path that fails to import is not kept: a plugin installed later is found."""
    from hydra.utils import get_object

    return get_object(path)


def task_of(cfg) -> str:
    """classification | regression | density: what the configured loss trains."""
    return getattr(target(cfg.loss), "task", None) or target(cfg.model).tasks[0]


def check_components(cfg, recipe: Recipe, n_rows: int) -> None:
    """A mixture needs a row per component to start from (k-means++ picks k distinct rows)."""
    k = cfg.model.get("n_components")
    if hasattr(target(cfg.model), "m_step") and k is not None and k > n_rows:
        name = recipe.names.get("model.n_components", "model__n_components")
        raise InvalidParameterError(f"{name}={k} needs at least {k} rows, but n_samples={n_rows}; "
                                    f"lower {name} or give more rows")
