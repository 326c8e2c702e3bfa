"""Plugins: packages that add config options (and the code they name) without touching derivtrain.

A plugin declares one entry point in the group `derivtrain.plugins`, naming its top-level package:

    [project.entry-points."derivtrain.plugins"]
    focal = "derivtrain_focal"

The package holds a `conf/` folder laid out like derivtrain's (`conf/loss/focal.yaml`, ...).
Discovery only locates that folder (importlib.util.find_spec does not run the package), so an
installed plugin costs no import at start-up; its code is imported when a config names it
through `_target_`. Hydra sees the folders through hydra_plugins/derivtrain_searchpath.

    python -m derivtrain.plugins      # list plugins, versions, the options they add
"""
import functools
import importlib.metadata
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from derivtrain.errors import ConfigError, UserError
from derivtrain.pipes import quiet_on_broken_pipe

ENTRY_POINT_GROUP = "derivtrain.plugins"
STRICT_ENV = "DERIVTRAIN_PLUGINS_STRICT"
DISABLE_ENV = "DERIVTRAIN_DISABLE_PLUGINS"  # like PYTEST_DISABLE_PLUGIN_AUTOLOAD: skip discovery


@dataclass
class Plugin:
    name: str
    package: str
    version: str
    conf_dir: Path | None = None
    options: list = field(default_factory=list)  # [(group, option), ...]
    error: str | None = None


def config_options(conf_dir: Path) -> list:
    """(group, option) for every YAML below a conf folder; the primary config.yaml is not an option."""
    found = []
    for path in sorted(conf_dir.rglob("*.yaml")):
        group = path.parent.relative_to(conf_dir).as_posix()
        if group != ".":
            found.append((group, path.stem))
    return found


def _locate(entry_point) -> Plugin:
    package = entry_point.value.split(":")[0].strip()
    version = entry_point.dist.version if entry_point.dist is not None else "?"
    plugin = Plugin(name=entry_point.name, package=package, version=version)
    try:
        spec = importlib.util.find_spec(package) if "." not in package else None
    except (ImportError, ValueError) as exc:
        spec, plugin.error = None, f"{type(exc).__name__}: {exc}"
    if "." in package:
        plugin.error = f"entry point value {package!r} must be a top-level package name"
    elif spec is None or not spec.submodule_search_locations:
        plugin.error = plugin.error or f"package {package!r} is not importable (is it installed?)"
    else:
        conf = Path(list(spec.submodule_search_locations)[0]) / "conf"
        if not conf.is_dir():
            plugin.error = f"package {package!r} has no conf/ folder"
        else:
            plugin.conf_dir, plugin.options = conf, config_options(conf)
    return plugin


@functools.lru_cache(maxsize=1)
def discover() -> tuple:
    """Every installed plugin, broken ones included (with .error set), in a stable order."""
    if os.environ.get(DISABLE_ENV) == "1":
        return ()
    unique = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        # the same distribution seen twice on sys.path (an editable install and a copy) is one plugin
        unique.setdefault((ep.name, ep.value), ep)
    return tuple(_locate(ep) for ep in sorted(unique.values(), key=lambda ep: ep.name))


def check_plugins(builtin_conf_dir: Path) -> list:
    """The healthy plugins. Broken ones: a one-line warning (fatal with DERIVTRAIN_PLUGINS_STRICT=1).

    An option that a plugin shares with derivtrain or with another plugin is a ConfigError naming both.
    """
    healthy, owner = [], {opt: "derivtrain (built-in)" for opt in config_options(builtin_conf_dir)}
    for plugin in discover():
        if plugin.error:
            message = f"plugin {plugin.name!r} ({plugin.package} {plugin.version}) failed to load: {plugin.error}"
            if os.environ.get(STRICT_ENV) == "1":
                raise UserError(message + f" ({STRICT_ENV}=1 makes this fatal)")
            _warn_once(message)
            continue
        for group, option in plugin.options:
            if (group, option) in owner:
                raise ConfigError(f"{group}={option} is defined by both {owner[(group, option)]} and plugin "
                                  f"{plugin.name!r} ({plugin.package}); uninstall or rename one of them")
            owner[(group, option)] = f"plugin {plugin.name!r} ({plugin.package})"
        healthy.append(plugin)
    return healthy


@functools.lru_cache(maxsize=None)
def _warn_once(message: str) -> None:
    print(f"derivtrain: warning: {message}", file=sys.stderr)


@quiet_on_broken_pipe
def main() -> int:
    from derivtrain.paths import config_dir
    from derivtrain.usage import module_help, print_help, wants_help

    if wants_help(sys.argv[1:]):
        return print_help(module_help(__name__))
    plugins = discover()
    if not plugins:
        print(f"no derivtrain plugins installed (entry-point group {ENTRY_POINT_GROUP!r})")
        return 0
    try:
        check_plugins(config_dir())
        clash = None
    except ConfigError as exc:
        clash = str(exc)
    for plugin in plugins:
        status = f"BROKEN: {plugin.error}" if plugin.error else "ok"
        print(f"{plugin.name} ({plugin.package} {plugin.version}): {status}")
        for group, option in plugin.options:
            print(f"    {group}={option}")
    if clash:
        print(f"CLASH: {clash}")
    return 1 if clash or any(p.error for p in plugins) else 0


if __name__ == "__main__":
    sys.exit(main())
