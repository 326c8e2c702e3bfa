"""Plugins found through entry points, kept lazy, checked for clashes; local plugins via hydra.searchpath.

Each test makes its own plugin folders and puts them first on the path for its runs (as PYTHONPATH
would; the runs are in this process, tests/conftest.py:on_path), so nothing is installed into the
environment running the tests.
"""
import json
import textwrap

import pytest

from derivtrain.errors import UserError
from tests.conftest import on_path, run_main


def fake_plugin(site, name, package, files, version="1.2.3", module_code=""):
    """A plugin as pip would leave it: the package folder plus a dist-info with the entry point."""
    pkg = site / package
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(module_code)
    for rel, text in files.items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    info = site / f"{package}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[derivtrain.plugins]\n{name} = {package}\n")


MARKER_LOSS = {
    "conf/loss/marker.yaml": "_target_: marker_plugin.loss.MarkerLoss\n",
    "loss.py": """
        import os
        from derivtrain.losses.likelihood import CrossEntropyLoss
        open(os.environ["MARKER_FILE"], "w").write("imported")

        class MarkerLoss(CrossEntropyLoss):
            pass
        """,
}


def test_plugin_code_is_imported_only_when_a_config_uses_it(tmp_path):
    site = tmp_path / "site"
    fake_plugin(site, "marker", "marker_plugin", MARKER_LOSS)
    marker = tmp_path / "imported.txt"
    env = {"MARKER_FILE": str(marker)}
    proc = run_main("model=logistic", "trainer.max_epochs=2", "logger=none", f"hydra.run.dir={tmp_path / 'a'}", env=env,
                    path=[site])
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    proc = run_main("model=logistic", "loss=marker", "trainer.max_epochs=2", "logger=none",
                    f"hydra.run.dir={tmp_path / 'b'}", env=env, path=[site])
    assert proc.returncode == 0, proc.stderr
    assert marker.read_text() == "imported"


def test_plugins_command_lists_versions_options_and_broken_ones(tmp_path):
    site = tmp_path / "site"
    fake_plugin(site, "marker", "marker_plugin", MARKER_LOSS, version="0.4.2")
    info = site / "ghost-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ghost\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[derivtrain.plugins]\nghost = no_such_package\n")
    proc = run_main(module="derivtrain.plugins", env={"MARKER_FILE": str(tmp_path / "m")}, path=[site])
    assert "marker (marker_plugin 0.4.2): ok" in proc.stdout and "    loss=marker" in proc.stdout
    assert "ghost (no_such_package 0.1): BROKEN" in proc.stdout
    assert proc.returncode == 1  # a broken plugin is worth a non-zero status in a listing


def test_broken_plugin_warns_once_and_everything_else_works(tmp_path):
    site = tmp_path / "site"
    info = site / "ghost-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ghost\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[derivtrain.plugins]\nghost = no_such_package\n")
    proc = run_main("trainer.max_epochs=2", "logger=none", f"hydra.run.dir={tmp_path / 'a'}", path=[site])
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "plugin 'ghost'" in warnings[0] and "no_such_package" in warnings[0]
    strict = run_main("trainer.max_epochs=2", f"hydra.run.dir={tmp_path / 'b'}",
                     env={"DERIVTRAIN_PLUGINS_STRICT": "1"}, path=[site])
    assert strict.returncode == 2 and "plugin 'ghost'" in strict.stderr and "Traceback" not in strict.stderr


def test_clash_with_a_builtin_or_another_plugin_exits_2_naming_both(tmp_path):
    site = tmp_path / "site"
    fake_plugin(site, "copycat", "copycat_plugin", {"conf/loss/hinge.yaml": "_target_: x.Y\n"})
    proc = run_main("trainer.max_epochs=2", f"hydra.run.dir={tmp_path / 'a'}", path=[site])
    assert proc.returncode == 2
    assert "loss=hinge is defined by both derivtrain (built-in) and plugin 'copycat'" in proc.stderr
    other = tmp_path / "site2"
    fake_plugin(other, "one", "one_plugin", {"conf/model/twin.yaml": "_target_: x.Y\n"})
    fake_plugin(other, "two", "two_plugin", {"conf/model/twin.yaml": "_target_: x.Y\n"})
    proc = run_main("trainer.max_epochs=2", f"hydra.run.dir={tmp_path / 'b'}", path=[other])
    assert proc.returncode == 2 and "plugin 'one'" in proc.stderr and "plugin 'two'" in proc.stderr


def test_plugin_config_is_validated_like_a_builtin(tmp_path):
    site = tmp_path / "site"
    fake_plugin(site, "marker", "marker_plugin", MARKER_LOSS)
    proc = run_main("model=logistic", "loss=marker", "+loss.weight=3", f"hydra.run.dir={tmp_path / 'a'}",
                    env={"MARKER_FILE": str(tmp_path / "m")}, path=[site])
    assert proc.returncode == 2 and "loss.weight is not a parameter of marker_plugin.loss.MarkerLoss" in proc.stderr


def test_load_run_names_a_missing_plugin(tmp_path):
    site = tmp_path / "site"
    fake_plugin(site, "tiny", "tiny_model_plugin", {
        "conf/model/tiny.yaml": """
            # @package _global_
            defaults:
              - override /loss: cross_entropy
            model:
              _target_: tiny_model_plugin.model.Tiny
            """,
        "model.py": """
            from torch import nn
            from derivtrain.models.base import Model

            class Tiny(Model):
                tasks = ("classification",)

                def __init__(self, spec):
                    super().__init__(spec)
                    self.linear = nn.Linear(spec.n_features, spec.n_outputs)

                def forward(self, X):
                    return self.scores_of(self.linear(X))
            """})
    folder = tmp_path / "run"
    proc = run_main("model=tiny", "trainer.max_epochs=3", "logger=none", f"hydra.run.dir={folder}", path=[site])
    assert proc.returncode == 0, proc.stderr
    import derivtrain

    with on_path([site]):
        assert type(derivtrain.load_run(folder)).__name__ == "Tiny"
    with pytest.raises(UserError) as refused:  # the plugin's folder off the path again: as uninstalled
        derivtrain.load_run(folder)
    assert "names model=tiny, which is neither derivtrain's option nor an installed plugin's" in str(refused.value)
    assert "is the plugin that provides it installed?" in str(refused.value)


def test_local_plugin_through_hydra_searchpath(tmp_path):
    """No packaging: a folder of configs plus a module on the Python path."""
    local = tmp_path / "myplugin"
    (local / "conf" / "loss").mkdir(parents=True)
    (local / "conf" / "loss" / "scaled_ce.yaml").write_text("_target_: my_losses.ScaledCE\nfactor: 2.0\n")
    (local / "my_losses.py").write_text(textwrap.dedent("""
        from derivtrain.losses.likelihood import CrossEntropyLoss

        class ScaledCE(CrossEntropyLoss):
            convex = False  # its forward is not CrossEntropyLoss's datafit: no certificate inherited

            def __init__(self, factor: float = 1.0):
                super().__init__()
                self.factor = factor

            def forward(self, scores, y):
                return self.factor * super().forward(scores, y)
        """))
    proc = run_main(f"hydra.searchpath=[file://{local / 'conf'}]", "loss=scaled_ce", "model=logistic", "optim=adam",
                    "trainer.max_epochs=5", "logger=none", f"hydra.run.dir={tmp_path / 'run'}", path=[local])
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["train/steps"] == 5
