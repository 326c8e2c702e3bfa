"""Errors that are the user's to fix: the CLI turns them into one line and exit code 2."""
import difflib


class UserError(Exception):
    """Bad configuration or bad input. The message says what is wrong and how to fix it."""


class ConfigError(UserError):
    """A configuration value that composes but makes no sense (caught before any tensor is built)."""


class DataError(UserError):
    """Input data that cannot be used: a missing file, a missing column, a non-numeric feature."""


def nearest_first(value, choices) -> tuple[list[str], bool]:
    """All `choices`, the ones closest to `value` first, and whether any was close at all."""
    choices = sorted(set(map(str, choices)))
    close = difflib.get_close_matches(str(value), choices, n=max(1, len(choices)), cutoff=0.6)
    return close + [c for c in choices if c not in close], bool(close)


def did_you_mean(value, choices, noun: str = "choices") -> str:
    """'did you mean X? choices: X, Y, Z' with the nearest match first."""
    ordered, any_close = nearest_first(value, choices)
    hint = f"did you mean {ordered[0]}? " if any_close else ""
    return f"{hint}{noun}: {', '.join(ordered) if ordered else '(none)'}"


def choice_error(key: str, value, choices) -> ConfigError:
    """`key=value` is not one of `choices`."""
    return ConfigError(f"{key}={value} is not valid; {did_you_mean(value, choices)}")
