"""The command line, run as a user runs it: subprocesses, exit codes, the run folder."""
import json
import shutil

import pytest
import torch

from tests.conftest import REPO, derivtrain_logging, run_main


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
    (["optim.lr=abc"], "optim.lr=abc is not valid: optim.lr takes a number, e.g. optim.lr=0.01"),
    (["trainer.device=tpu"], "trainer.device=tpu is not valid"),
])
def test_bad_configuration_exits_2_with_one_line(tmp_path, args, expected):
    proc = run_main(*args, f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("derivtrain: error: ") and expected in lines[0], proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_a_gpu_exits_2(tmp_path):
    proc = run_main("trainer.device=cuda", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2 and "no CUDA device" in proc.stderr


def test_debug_env_shows_the_traceback(tmp_path):
    proc = run_main("model=svmm", f"hydra.run.dir={tmp_path / 'run'}", env={"DERIVTRAIN_DEBUG": "1"})
    assert proc.returncode == 2 and "Traceback" in proc.stderr


def test_an_existing_run_is_never_overwritten(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "metrics.json").write_text('{"test/accuracy": 0.5}')
    proc = run_main("trainer.max_epochs=2", f"hydra.run.dir={folder}")
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
    proc = run_main("data=csv", f"data.path={tmp_path / 'wine.csv'}", "data.target=cultivar", "model=logistic",
                   "trainer.max_epochs=50", "logger=none", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test/accuracy"] >= 0.9
    import derivtrain

    model = derivtrain.load_run(tmp_path / "run")
    assert model.classes_ == ["class_0", "class_1", "class_2"]
    assert (model.predict(wine.data) == np.asarray(wine.target_names)[wine.target]).mean() >= 0.9


@pytest.mark.parametrize("module,first_line", [
    ("derivtrain", "usage: python -m derivtrain [group=option ...] [group.key=value ...]"),
    ("derivtrain.gradcheck", "Gradient checking for every loss, regularizer and model, plugins' included."),
    ("derivtrain.analyze", "`python -m derivtrain.analyze run=<run folder> analysis=<option> [analysis.<key>=...]`"),
    ("derivtrain.plugins", "Plugins: packages that add config options (and the code they name) without touching"),
])
def test_help_on_every_entry_point(module, first_line):
    for flag in ("--help", "-h"):
        proc = run_main(flag, module=module)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        assert proc.stdout.splitlines()[0].startswith(first_line), proc.stdout


def test_main_help_lists_the_groups_a_user_picks_from():
    text = run_main("--help").stdout
    assert "schema" not in text  # Hydra's internal type-checking groups
    groups = dict(line.strip().split(": ", 1) for line in text.splitlines() if line.startswith("  "))
    assert {"data", "model", "loss", "regularizer", "optim", "trainer", "logger", "analysis"} <= set(groups)
    assert "svm*" in groups["model"].split(", ") and "breast_cancer*" in groups["data"].split(", ")
    assert "smooth_hinge" in groups["loss"]  # an installed plugin's option


@pytest.mark.parametrize("args", [["-m", "derivtrain.plugins"], ["-m", "derivtrain", "--help"]])
def test_output_into_a_closed_pipe_ends_without_a_traceback(args):
    """`python -m derivtrain.plugins | head`: the reader may leave before everything is written."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first write
    proc = subprocess.run([sys.executable, *args], stdout=write_end, stderr=subprocess.PIPE, text=True, cwd=REPO)
    os.close(write_end)
    assert proc.returncode == 1 and proc.stderr == "", proc.stderr


def test_progress_lines_off_a_terminal(capsys):
    from derivtrain.logging import Progress

    with derivtrain_logging():
        progress = Progress(total_epochs=20, initial=0, mode="false")
        for epoch in range(1, 21):
            progress.update(epoch, {"val/loss": 1 / epoch, "train/loss": 3000.0 + epoch, "val/accuracy": 0.5})
        progress.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 10  # one line every 10 % of the epochs
    assert lines[-1] == "[derivtrain] epoch 20/20 train/loss=3020.0000 val/accuracy=0.5000 val/loss=0.0500"


def test_progress_is_a_bar_on_a_terminal_and_silent_on_other_ranks(capsys, monkeypatch):
    from derivtrain.logging import Progress

    bar = Progress(total_epochs=3, initial=0, mode="true")
    for epoch in (1, 2, 3):
        bar.update(epoch, {"train/loss": 0.25})
    bar.close()
    err = capsys.readouterr().err
    assert "/3 [" in err and "epoch/s" in err and "[derivtrain]" not in err  # tqdm's bar, not log lines
    monkeypatch.setenv("RANK", "1")  # under torchrun, rank 0 alone reports
    with derivtrain_logging():
        for mode in ("true", "false"):
            other = Progress(total_epochs=3, initial=0, mode=mode)
            for epoch in (1, 2, 3):
                other.update(epoch, {"train/loss": 0.25})
            other.close()
    assert capsys.readouterr().err == ""
