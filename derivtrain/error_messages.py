"""Turn configuration and input errors (ours, Hydra's, OmegaConf's) into one readable line.

Returns None for anything that is not the user's to fix, so the CLI reports it as a bug.
"""
import re

from hydra.errors import (ConfigCompositionException, InstantiationException, MissingConfigException,
                          OverrideParseException)
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, MissingMandatoryValue, ValidationError

from derivtrain.errors import UserError, did_you_mean


def describe_user_error(exc: BaseException) -> str | None:
    for err in _chain(exc):
        if isinstance(err, UserError):
            return str(err)
    if isinstance(exc, MissingConfigException):
        return _missing_option(exc)
    for err in _chain(exc):
        if isinstance(err, (ConfigKeyError, ConfigAttributeError)):
            return _unknown_key(err)
        if isinstance(err, MissingMandatoryValue):
            return f"{err.full_key} has no value; set it on the command line: {err.full_key}=..."
        if isinstance(err, ValidationError):
            return _wrong_type(err) or f"{err.full_key}: {_first_line(err.msg)}"
    if isinstance(exc, (OverrideParseException, ConfigCompositionException)):
        return _first_line(str(exc))
    if isinstance(exc, ValueError) and str(exc).startswith("Config group override must be"):
        return f"{_first_line(str(exc))}: a group takes an option name, e.g. model=svm"  # Hydra's plain ValueError
    if isinstance(exc, InstantiationException) and "Error locating target" in str(exc):
        return _first_line(str(exc))  # a _target_ naming code that is not there
    return None


def _missing_option(exc: MissingConfigException) -> str:
    missing = exc.missing_cfg_file or ""
    group, _, option = missing.rpartition("/")
    options = [o for o in (exc.options or []) if not o.startswith("schema")]
    if group and options:
        return f"{group}={option} is not an option of '{group}'; {did_you_mean(option, options)}"
    return _first_line(str(exc))


# OmegaConf's words for a value of the wrong type -> what the key takes, for a person
_TYPE_MESSAGES = (
    (re.compile(r"Value '(.*)' of type '\w+' could not be converted to Float"), "a number, e.g. {key}=0.01"),
    (re.compile(r"Value '(.*)' of type '\w+' could not be converted to Integer"), "a whole number, e.g. {key}=10"),
    (re.compile(r"Value '(.*)' is not a valid bool.*"), "true or false"),
)


def _wrong_type(err) -> str | None:
    """`optim.lr=abc`: one line naming the key, the value and what it takes, not OmegaConf's text."""
    first = str(err.msg).splitlines()[0] if err.msg else ""
    for pattern, takes in _TYPE_MESSAGES:
        if match := pattern.fullmatch(first):
            key = err.full_key
            return f"{key}={match.group(1)} is not valid: {key} takes {takes.format(key=key)}"
    return None


def _unknown_key(err) -> str:
    full_key = str(err.full_key or err.key)
    parent, _, key = full_key.rpartition(".")
    valid = list(err.parent_node.keys()) if err.parent_node is not None and hasattr(err.parent_node, "keys") else []
    if not valid and hasattr(err.object_type, "__dataclass_fields__"):
        valid = list(err.object_type.__dataclass_fields__)
    valid = [f"{parent}.{k}" if parent else str(k) for k in valid if not str(k).startswith("_")]
    if not valid:
        return f"unknown key {full_key}"
    return f"unknown key {full_key}; {did_you_mean(full_key, valid, 'valid keys')}"


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else "invalid configuration"
