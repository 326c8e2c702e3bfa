"""A model's natural loss follows the data's task (issue 27 item 2), and the bad inputs of the
stopping rules are one line, exit 2, nothing written."""
import json

import pytest

from derivtrain.config.natural_loss import known_task, user_chose_loss
from derivtrain.config.solver import choose_fitter
from tests.conftest import compose_config, run_main

TWO_TASKS = "model._target_=tests.smooth_plugins.TwoTaskPoly"


def _run(tmp_path, *args):
    folder = tmp_path / "run"
    return run_main(*args, "logger=none", "trainer.progress_bar=false", f"hydra.run.dir={folder}"), folder


def _loss_of(folder) -> str:
    text = (folder / ".hydra" / "config.yaml").read_text()
    return text.split("\nloss:\n", 1)[1].splitlines()[0].split(":", 1)[1].strip()


@pytest.mark.parametrize("data, loss", [("diabetes", "derivtrain.losses.likelihood.MSELoss"),
                                        ("breast_cancer", "derivtrain.losses.likelihood.CrossEntropyLoss")])
def test_a_plugin_model_naming_two_losses_trains_each_task_with_its_own(tmp_path, data, loss):
    proc, folder = _run(tmp_path, "model=linear", TWO_TASKS, f"data={data}", "trainer.max_epochs=300")
    assert proc.returncode == 0, proc.stderr
    assert _loss_of(folder) == loss  # the config written is the one that ran
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics.get("test/r2", 0.0) > 0.3 or metrics.get("test/accuracy", 0.0) > 0.9


def test_the_users_loss_is_kept():
    assert user_chose_loss(["loss=mse"]) and user_chose_loss(["loss._target_=x.Y"]) and user_chose_loss(["+loss.a=1"])
    assert not user_chose_loss(["model=mlp", "data=diabetes", "trainer.max_epochs=3"])


def test_the_task_is_read_from_the_config_where_it_says():
    assert known_task(compose_config("data=diabetes").data) == "regression"
    assert known_task(compose_config("data=digits").data) == "classification"
    assert known_task(compose_config("data=synthetic", "data.task=regression").data) == "regression"
    assert known_task(compose_config("data=csv").data) is None  # task=auto: known once the file is read


def test_a_file_of_unknown_task_names_the_natural_loss_to_add(tmp_path):
    table = tmp_path / "values.csv"
    table.write_text("a,b,y\n" + "".join(f"{i},{i % 7},{i * 0.37 + 0.5}\n" for i in range(60)))
    proc, folder = _run(tmp_path, "model=mlp", "data=csv", f"data.path={table}", "data.target=y")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "add loss=mse (the model's natural loss for regression)" in proc.stderr and not folder.exists()


@pytest.mark.parametrize("args, says", [
    (("model=linear", "model._target_=tests.smooth_plugins.TwoTaskWrongLoss", "data=diabetes"),
     "names HingeLoss as its natural loss for regression, but that loss is for classification"),
    (("model=linear", "model._target_=tests.smooth_plugins.TwoTaskUnknownLoss", "data=diabetes"),
     "names loss=no_such_loss as its natural loss for regression"),
    (("model=mlp", "trainer.early_stopping.patience=5", "data.val_size=0"),
     "trainer.early_stopping.patience=5 needs validation rows"),
    (("model=mlp", "data=iris", "trainer.batch_size=5000"),
     "trainer.batch_size=5000 is larger than the 105 training rows"),
    (("model=linear", "model._target_=tests.smooth_plugins.TasksOutsideNatural", "data=diabetes"),
     "`natural_losses` must map tasks it serves"),
])
def test_bad_stopping_and_natural_loss_input_is_one_line_and_nothing_written(tmp_path, args, says):
    proc, folder = _run(tmp_path, *args)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert says in proc.stderr and not folder.exists()


def test_auto_picks_lbfgs_for_a_smooth_linear_objective_without_a_dual_only():
    assert choose_fitter("auto", False, False, False, smooth_linear=True) == "quasi_newton"
    assert choose_fitter("auto", True, False, False, smooth_linear=True) == "certified"
    assert choose_fitter("auto", False, False, True, smooth_linear=True) == "gradient"  # minibatches
    assert choose_fitter("auto", False, False, False, ddp=True, smooth_linear=True) == "gradient"
    assert choose_fitter("auto", False, False, False) == "gradient"  # the MLP


def test_a_sweep_gives_each_job_the_natural_loss_of_its_data(tmp_path, monkeypatch, capsys):
    """Hydra composes a sweep's jobs itself: each still trains with its model's loss for its task,
    and its folder, .hydra/ and the sweep's record say so."""
    from tests.test_sweep import read_csv, sweep

    code, folder = sweep(tmp_path, monkeypatch, "model=mlp", "data=diabetes,digits", "trainer.max_epochs=3",
                         "logger=none", "trainer.progress_bar=false")
    assert code == 0, capsys.readouterr().err
    diabetes, digits = folder / "0_data=diabetes,loss=mse", folder / "1_data=digits"
    assert _loss_of(diabetes) == "derivtrain.losses.likelihood.MSELoss"
    assert _loss_of(digits) == "derivtrain.losses.likelihood.CrossEntropyLoss"
    assert "loss=mse" in (diabetes / ".hydra" / "overrides.yaml").read_text()
    assert "test/r2" in json.loads((diabetes / "metrics.json").read_text())
    assert [r["status"] for r in read_csv(folder / "summary.csv")] == ["ok", "ok"]
    jobs = json.loads((folder / "jobs.json").read_text())
    assert jobs[0]["overrides"][-1] == "loss=mse" and "loss=mse" not in jobs[1]["overrides"]


def test_a_sweep_keeps_the_loss_it_names(tmp_path, monkeypatch, capsys):
    from tests.test_sweep import sweep

    code, folder = sweep(tmp_path, monkeypatch, "model=mlp", "data=diabetes", "loss=mse,poisson",
                         "trainer.max_epochs=2", "logger=none", "trainer.progress_bar=false")
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["0_loss=mse", "1_loss=poisson"]
