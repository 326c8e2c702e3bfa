"""The code a saved run may name: the `_target_` of derivtrain's own config options and of the
installed plugins' options, looked up by option name (model=svm -> derivtrain.models.svm.LinearSVM).

A run folder is data, never code. A checkpoint records the option names its run chose; whatever
is rebuilt from it (load_run, analyze, resume) takes its code from this table, never from a
`_target_` string stored in the file. The table is read from the option files themselves (YAML
parsed, nothing imported), so a look-up costs milliseconds and imports no plugin.
"""
import functools
import re
from pathlib import Path

from derivtrain.errors import UserError, did_you_mean

# the groups whose options name code (what a saved run rebuilds)
CODE_GROUPS = ("model", "loss", "regularizer", "data")
OPTION_NAME = re.compile(r"[A-Za-z_][\w.-]*")
_GLOBAL_PACKAGE = re.compile(r"^#\s*@package\s+_global_\s*$", re.M)


def _conf_dirs() -> list:
    """derivtrain's conf/ first, then every healthy installed plugin's conf/ (a broken one names no code)."""
    from derivtrain.paths import config_dir
    from derivtrain.plugins import discover

    return [config_dir()] + [p.conf_dir for p in discover() if p.conf_dir is not None and not p.error]


def option_names(group: str) -> list:
    """Every registered option of `group`, derivtrain's and the plugins'."""
    return sorted({path.stem for folder in _conf_dirs() for path in (folder / group).glob("*.yaml")})


def option_target(group: str, name, source: str = "the checkpoint") -> str:
    """The code `group=name` names, from its option file; UserError when it is not a registered option."""
    if not isinstance(name, str) or not OPTION_NAME.fullmatch(name):
        raise UserError(f"{source} names {group}={name!r}, which is not an option name")
    for folder in _conf_dirs():
        path = folder / group / f"{name}.yaml"
        if path.is_file():
            target = _target_in(str(path), group, path.stat().st_mtime_ns)
            if target is None:
                raise UserError(f"{group}={name} ({path}) names no code (_target_); it cannot be rebuilt")
            return target
    raise UserError(f"{source} names {group}={name}, which is neither derivtrain's option nor an installed "
                    f"plugin's (is the plugin that provides it installed?); "
                    f"{did_you_mean(name, option_names(group), f'{group} options')}")


@functools.lru_cache(maxsize=512)
def _target_in(path: str, group: str, mtime_ns: int) -> str | None:
    """The option's `_target_`: written in the file, or the default of the schema its defaults list names
    (cached per file version: a run composed in Python looks its options up once)."""
    from omegaconf import OmegaConf

    text = Path(path).read_text()
    raw = OmegaConf.to_container(OmegaConf.create(text or "{}"), resolve=False)
    node = raw.get(group, {}) if _GLOBAL_PACKAGE.search(text) else raw
    target = node.get("_target_") if isinstance(node, dict) else None
    if isinstance(target, str) and "${" not in target:
        return target
    for entry in raw.get("defaults", []) or []:
        if isinstance(entry, dict):
            for key, schema in entry.items():
                if str(key).startswith(f"/schema/{group}@"):
                    return _schema_target(group, schema)
    return None


def _schema_target(group: str, schema: str) -> str | None:
    from derivtrain.config.schemas import SCHEMAS

    cls = SCHEMAS.get(group, {}).get(schema)
    target = getattr(cls, "_target_", None) if cls is not None else None
    return target if isinstance(target, str) and target != "???" else None


def chosen_options(cfg) -> dict:
    """{group: option name} for the code groups of a composed config: Hydra's choices when running
    under it, else the registered option whose code the config names (a run composed in Python)."""
    from hydra.core.hydra_config import HydraConfig

    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    options = {}
    for group in CODE_GROUPS:
        if group not in cfg:
            continue
        name = choices.get(group) or _option_naming(group, cfg[group])
        if name is not None:
            options[group] = str(name)
    return options


def _option_naming(group: str, node) -> str | None:
    """The option whose code `node` names, preferring the one named like its `name` key (bundled data)."""
    target = node.get("_target_") if hasattr(node, "get") else None
    matches = []
    for name in option_names(group):
        try:
            if option_target(group, name) == target:
                matches.append(name)
        except (UserError, ValueError, OSError):
            continue  # a broken option file names no code
    preferred = [m for m in matches if m == str(node.get("name", ""))]
    return (preferred or matches or [None])[0]
