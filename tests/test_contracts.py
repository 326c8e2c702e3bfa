"""A plugin's part that breaks derivtrain's contracts is named in one line, before anything runs."""
import pytest

from tests.conftest import run_main


@pytest.mark.parametrize("override,message", [
    ("model._target_=tests.contract_fixtures.NotAModel", "is not a derivtrain model: subclass derivtrain.models.Model"),
    ("model._target_=tests.contract_fixtures.NoSpec", "__init__ must take `spec`"),
    ("model._target_=tests.contract_fixtures.TasksAsString", "`tasks` must be a tuple"),
    ("loss._target_=tests.contract_fixtures.PlainModuleLoss", "is not a derivtrain loss: subclass derivtrain.losses.Loss"),
    ("regularizer._target_=torch.nn.Identity", "is not a derivtrain regularizer: subclass derivtrain.losses.Penalty"),
])
def test_a_broken_contract_is_one_line_before_anything_runs(tmp_path, override, message):
    folder = tmp_path / "run"
    proc = run_main("model=logistic", "optim=sgd", override, f"hydra.run.dir={folder}")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert message in proc.stderr, proc.stderr
    assert not (folder / "checkpoints").exists()


def test_a_plugin_dual_without_the_convex_flag_is_named_with_the_version(tmp_path):
    proc = run_main("model=linear", "data=diabetes", "loss._target_=tests.contract_fixtures.DualWithoutFlag",
                    "logger=none", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 0, proc.stderr
    warning, = [line for line in proc.stderr.splitlines() if "writes convex_dual" in line]
    assert "since derivtrain 0.3.0" in warning and "add `convex = True`" in warning
