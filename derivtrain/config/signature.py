"""Check a `_target_` config node against the signature of the code it names.

Built-in options also have dataclass schemas; a plugin's options usually do not (registering one
would mean importing the plugin at start-up). The signature is the schema every option has:
unknown keys, missing required keys and values of the wrong simple type are configuration errors,
found before any tensor is built. Importing the target here is what "imported only when a config
uses it" means.
"""
import inspect

import torch
from hydra.utils import get_object

from derivtrain.errors import ConfigError, did_you_mean

_SIMPLE_TYPES = {int: (int,), float: (int, float), bool: (bool,), str: (str,)}
_TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def check_target(node, group: str, supplied=(), ignored=()) -> None:
    """`supplied`: parameters derivtrain passes itself (e.g. spec); `ignored`: keys not passed on."""
    target = node.get("_target_")
    if not target:
        return
    try:
        code = get_object(target)
    except Exception as exc:  # noqa: BLE001 - any import failure means the same thing to the user
        raise ConfigError(f"{group}._target_={target} cannot be imported ({type(exc).__name__}: {exc}); "
                          "is the plugin that provides it installed?") from None
    params = inspect.signature(code).parameters
    if isinstance(code, type) and code.__init__ is torch.nn.Module.__init__:
        params = {}  # a module without its own __init__ takes no config keys (not nn.Module's **kwargs)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    named = [n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and n not in supplied]
    for key in node:
        if key.startswith("_") or key in ignored or takes_any:
            continue
        if key not in named:
            raise ConfigError(f"{group}.{key} is not a parameter of {target}; "
                              f"{did_you_mean(key, named, f'{group} keys')}")
    for name in named:
        p = params[name]
        if name not in node:
            if p.default is p.empty:
                raise ConfigError(f"{group}.{name} is required by {target}; add {group}.{name}=...")
            continue
        expected = _SIMPLE_TYPES.get(p.annotation)
        value = node[name]
        if expected and value is not None and (not isinstance(value, expected)
                                                or (isinstance(value, bool) and bool not in expected)):
            raise ConfigError(f"{group}.{name}={value!r} should be {_TYPE_WORDS[p.annotation]} ({target})")
