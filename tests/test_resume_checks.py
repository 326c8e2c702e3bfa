"""trainer.resume continues the same training: a changed model, loss, data or optimizer value is
refused in one line before anything is written; a finished run is continued in a new folder."""
import hashlib
import shutil

import pytest
import torch

from tests.conftest import run_main

BASE = ["model=svm", "data=iris", "optim=sgd", "trainer.checkpoint_every_n_epochs=1", "logger=none"]


def snapshot(folder) -> dict:
    """Every file of a folder and its bytes' digest: 'byte for byte unchanged' made checkable."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume") / "run"
    proc = run_main(*BASE, "trainer.max_epochs=3", f"hydra.run.dir={folder}")
    assert proc.returncode == 0, proc.stderr
    return folder


@pytest.fixture
def stopped(finished, tmp_path):
    """A copy of the run as if it had stopped after its last checkpoint (no metrics.json yet)."""
    folder = tmp_path / "stopped"
    shutil.copytree(finished, folder)
    (folder / "metrics.json").unlink()
    return folder


@pytest.mark.parametrize("change,expected", [
    (["model=logistic"], "model=svm in the saved run, model=logistic here"),
    (["optim=adam"], "optim.name was 'sgd' in the saved run, 'adam' here"),
    (["optim.lr=0.05"], "optim.lr was None in the saved run, 0.05 here"),
    (["regularizer.strength=0.5"], "regularizer.strength was 0.001 in the saved run, 0.5 here"),
    (["data=wine"], "data=iris in the saved run, data=wine here"),
    (["loss=squared_hinge"], "loss=hinge in the saved run, loss=squared_hinge here"),
    (["trainer.seed=3"], "trainer.seed was 0 in the saved run, 3 here"),
    (["trainer.batch_size=16"], "trainer.batch_size was None in the saved run, 16 here"),
])
def test_a_changed_training_is_refused_and_the_run_stays_byte_for_byte(stopped, change, expected):
    before = snapshot(stopped)
    proc = run_main(*BASE, "trainer.max_epochs=5", *change, f"trainer.resume={stopped}")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and expected in lines[0], proc.stderr
    assert "a resumed run continues the same training" in lines[0]
    assert snapshot(stopped) == before


def test_a_stopped_run_goes_on_in_its_own_folder_with_keys_that_may_change(stopped):
    proc = run_main(*BASE, "trainer.max_epochs=5", "trainer.progress_bar=false", "trainer.keep_checkpoints=3",
                    f"trainer.resume={stopped}")
    assert proc.returncode == 0, proc.stderr
    state = torch.load(stopped / "checkpoints" / "last.pt", weights_only=True)
    assert state["epoch"] == 5 and "resumed_from" not in state and (stopped / "metrics.json").exists()


def test_a_finished_run_is_continued_in_a_new_folder_that_records_its_source(finished, tmp_path):
    before = snapshot(finished)
    proc = run_main(*BASE, "trainer.max_epochs=6", f"trainer.resume={finished}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(finished) == before  # never modified
    new, = tmp_path.glob("outputs/*/*/checkpoints/last.pt")
    state = torch.load(new, weights_only=True)
    assert state["epoch"] == 6 and state["resumed_from"] == str(finished.resolve())


def test_continuing_a_finished_run_in_its_own_folder_is_refused(finished):
    before = snapshot(finished)
    proc = run_main(*BASE, "trainer.max_epochs=6", f"trainer.resume={finished}", f"hydra.run.dir={finished}")
    assert proc.returncode == 2 and "is a finished run, which is never modified" in proc.stderr, proc.stderr
    assert snapshot(finished) == before


def test_resuming_a_checkpoint_from_python_checks_the_same(stopped, tmp_path):
    from derivtrain.errors import ConfigError
    from derivtrain.run import run
    from tests.conftest import compose_config

    cfg = compose_config(*BASE, "model=logistic", f"trainer.resume={stopped}")
    with pytest.raises(ConfigError, match="model=svm in the saved run, model=logistic here"):
        run(cfg, tmp_path / "next")
    assert not (tmp_path / "next").exists()


def test_a_new_run_from_python_never_writes_into_a_run_folder(finished):
    from derivtrain.errors import ConfigError
    from derivtrain.run import run
    from tests.conftest import compose_config

    before = snapshot(finished)
    with pytest.raises(ConfigError, match="already holds a run, which is never overwritten"):
        run(compose_config(*BASE, "trainer.max_epochs=3"), finished)
    assert snapshot(finished) == before


def test_resume_auto_that_is_refused_says_only_why(stopped):
    """trainer.resume=auto names the folder it continues only once that resume is accepted."""
    before = snapshot(stopped)
    refused = run_main(*BASE, "model=logistic", "trainer.max_epochs=5", "trainer.resume=auto",
                       f"hydra.run.dir={stopped}")
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1, refused.stderr
    assert "model=svm in the saved run, model=logistic here" in lines[0] and "continuing" not in refused.stderr
    assert snapshot(stopped) == before
    accepted = run_main(*BASE, "trainer.max_epochs=5", "trainer.resume=auto", f"hydra.run.dir={stopped}")
    assert accepted.returncode == 0 and f"trainer.resume=auto: continuing from {stopped}" in accepted.stderr


def test_a_solver_state_derivtrain_did_not_write_is_refused_before_anything_is_written(tmp_path):
    folder = tmp_path / "solved"
    args = ["model=svm", "data=iris", "logger=none", "trainer.max_epochs=3"]
    assert run_main(*args, f"hydra.run.dir={folder}").returncode == 0
    (folder / "metrics.json").unlink()  # as if stopped after its last checkpoint
    last = folder / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)
    assert state["solver"]["next"] == 3 and state["solver"]["T"].dtype == torch.float64
    state["solver"]["next"] = "3; import os"
    last.unlink()
    torch.save(state, last)
    before = snapshot(folder)
    proc = run_main(*args, "trainer.max_epochs=5", f"trainer.resume={folder}")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "solver state is not one derivtrain wrote" in lines[0], lines
    assert snapshot(folder) == before
