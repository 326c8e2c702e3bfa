"""Hydra search-path plugin: puts every installed derivtrain plugin's conf/ folder on the search path.

Hydra imports this module when it scans the `hydra_plugins` namespace. It acts only for
derivtrain's own app (the search path holds derivtrain's conf/), so other Hydra apps in the same
environment are unaffected.
"""
from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class DerivtrainPluginsSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from derivtrain.paths import config_dir
        from derivtrain.plugins import check_plugins

        ours = config_dir().as_posix()
        if not any(str(element.path).rstrip("/").endswith(ours) for element in search_path.get_path()):
            return
        for plugin in check_plugins(config_dir()):
            search_path.append(provider=f"derivtrain-plugin-{plugin.name}", path=f"file://{plugin.conf_dir}")
