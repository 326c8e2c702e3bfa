"""The command line, run as a user runs it: subprocesses, exit codes, the run folder."""
import json
import shutil

import pytest
import torch

from tests.conftest import run_cli


def test_default_run_prints_metrics_and_fills_the_run_folder(svm_run):
    folder, proc = svm_run
    assert "test/accuracy" in proc.stdout and "Traceback" not in proc.stderr
    metrics = json.loads((folder / "metrics.json").read_text())
    for split in ("train", "val", "test"):
        for name in ("accuracy", "f1_macro", "loss"):
            assert 0 <= metrics[f"{split}/{name}"] < 10
    assert metrics["train/steps"] == 30 and metrics["test/accuracy"] >= 0.9
    assert (folder / ".hydra" / "config.yaml").is_file() and (folder / ".hydra" / "overrides.yaml").is_file()
    state = torch.load(folder / "checkpoints" / "last.pt", weights_only=True)
    for key in ("model", "optimizer", "scheduler", "epoch", "step", "rng", "preprocessing", "config", "spec"):
        assert key in state
    assert state["spec"]["classes"] == [0, 1] and state["config"]["model"]["_target_"].endswith("LinearSVM")
    assert len(list(folder.glob("events.out.tfevents*"))) == 1


def test_console_script(tmp_path):
    exe = shutil.which("derivtrain")
    assert exe, "the derivtrain console script is not installed (pip install -e .)"
    import subprocess

    proc = subprocess.run([exe, "model=logistic", "data=iris", "trainer.max_epochs=5", "logger=none",
                           f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["train/steps"] == 5


@pytest.mark.parametrize("args,expected", [
    (["model=svmm"], "model=svmm is not an option of 'model'; did you mean svm?"),
    (["trainer.max_epoch=3"], "unknown key trainer.max_epoch; did you mean trainer.max_epochs?"),
    (["trainer.max_epochs=abc"], "trainer.max_epochs"),
    (["+foo=1"], "unknown top-level key foo"),
    (["data=csv"], "data=csv needs data.path"),
    (["data=csv", "data.path=/no/such.csv", "data.target=y"], "no such file"),
    (["model=linear"], "model=linear is for regression, but data=breast_cancer is a classification problem"),
    (["optim.lr=-1"], "optim.lr=-1.0 must be > 0"),
    (["trainer.device=tpu"], "trainer.device=tpu is not valid"),
])
def test_bad_configuration_exits_2_with_one_line(tmp_path, args, expected):
    proc = run_cli(*args, f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("derivtrain: error: ") and expected in lines[0], proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_a_gpu_exits_2(tmp_path):
    proc = run_cli("trainer.device=cuda", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2 and "no CUDA device" in proc.stderr


def test_debug_env_shows_the_traceback(tmp_path):
    proc = run_cli("model=svmm", f"hydra.run.dir={tmp_path / 'run'}", env={"DERIVTRAIN_DEBUG": "1"})
    assert proc.returncode == 2 and "Traceback" in proc.stderr


def test_an_existing_run_is_never_overwritten(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "metrics.json").write_text('{"test/accuracy": 0.5}')
    proc = run_cli("trainer.max_epochs=2", f"hydra.run.dir={folder}")
    assert proc.returncode == 2 and "already holds a run" in proc.stderr
    assert (folder / "metrics.json").read_text() == '{"test/accuracy": 0.5}'
    assert not (folder / ".hydra").exists()


def test_csv_data_from_the_command_line(tmp_path):
    import numpy as np
    from sklearn.datasets import load_wine

    wine = load_wine()
    names = [n.replace("/", "_") for n in wine.feature_names]
    rows = [",".join(names + ["cultivar"])]
    rows += [",".join(map(str, x)) + f",{wine.target_names[t]}" for x, t in zip(wine.data, wine.target)]
    (tmp_path / "wine.csv").write_text("\n".join(rows) + "\n")
    proc = run_cli("data=csv", f"data.path={tmp_path / 'wine.csv'}", "data.target=cultivar", "model=logistic",
                   "trainer.max_epochs=50", "logger=none", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test/accuracy"] >= 0.9
    import derivtrain

    model = derivtrain.load_run(tmp_path / "run")
    assert model.classes_ == ["class_0", "class_1", "class_2"]
    assert (model.predict(wine.data) == np.asarray(wine.target_names)[wine.target]).mean() >= 0.9
