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
