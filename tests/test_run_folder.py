"""The run folder is claimed atomically (mkdir + lock) after the config is checked and before
anything is written; a full disk is one line with the last checkpoint intact."""
import errno

import pytest
import torch

from tests.conftest import run_main
from tests.lock_holder import hold_lock

QUICK = ["model=logistic", "data=iris", "optim=sgd", "trainer.max_epochs=3", "logger=none"]




def test_a_second_process_that_passed_the_check_gets_exit_2_and_writes_nothing(tmp_path, monkeypatch):
    """Two processes into one new folder: the second one pauses between its check and its claim."""
    import derivtrain.run_folder as run_folder

    folder = tmp_path / "run"
    folder.mkdir()
    first = hold_lock(folder)
    try:
        monkeypatch.setattr(run_folder, "check_new_folder", lambda path: None)  # the check ran before the claim
        proc = run_main(*QUICK, f"hydra.run.dir={folder}")
    finally:
        first.kill()
        first.wait()
    assert proc.returncode == 2 and f"is in use by process {first.pid}" in proc.stderr, proc.stderr
    assert [p.name for p in folder.iterdir()] == [".derivtrain.lock"]  # no .hydra/, no events, no checkpoint


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / ".derivtrain.lock").write_text("999999999")  # a pid that is not running
    proc = run_main(*QUICK, f"hydra.run.dir={folder}")
    assert proc.returncode == 0, proc.stderr
    assert (folder / "metrics.json").exists() and not (folder / ".derivtrain.lock").exists()


def test_an_error_found_after_the_claim_removes_the_folders_it_created(tmp_path):
    (tmp_path / "bad.csv").write_text("a,label\n" + "".join(f"{i},{i % 2}\n" for i in range(30)) + "x,1\n")
    proc = run_main("data=csv", f"data.path={tmp_path / 'bad.csv'}", "data.target=label",
                    f"hydra.run.dir={tmp_path / 'new' / 'deep' / 'run'}")
    assert proc.returncode == 2 and "'x' is not a number" in proc.stderr, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_an_existing_empty_folder_is_used_and_kept_on_exit_2(tmp_path):
    (tmp_path / "mine").mkdir()
    proc = run_main("model=linear", f"hydra.run.dir={tmp_path / 'mine'}")
    assert proc.returncode == 2 and "model=linear is for regression" in proc.stderr
    assert (tmp_path / "mine").is_dir() and not list((tmp_path / "mine").iterdir())


def test_a_full_disk_when_claiming_is_one_line_and_exit_2(tmp_path, monkeypatch):
    from pathlib import Path

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "mkdir", full)
    proc = run_main(*QUICK, f"hydra.run.dir={tmp_path / 'run'}")
    monkeypatch.undo()
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "cannot be created (No space left on device)" in proc.stderr and not (tmp_path / "run").exists()


def test_a_disk_that_fills_mid_run_exits_1_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    import derivtrain.trainer.checkpoint as checkpoint

    saved, real_save = [], torch.save

    def save_until_full(obj, f, *args, **kwargs):
        if len(saved) == 2:  # the third checkpoint meets a full disk halfway through
            f.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        saved.append(obj["step"])
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(checkpoint.torch, "save", save_until_full)
    folder = tmp_path / "run"
    proc = run_main(*QUICK, "trainer.max_epochs=5", "trainer.checkpoint_every_n_epochs=1", f"hydra.run.dir={folder}")
    monkeypatch.undo()
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == (
        f"derivtrain: error: no space left on the device (writing in {folder}); its last checkpoint is intact: "
        f"free some space, then resume with trainer.resume={folder}"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert torch.load(folder / "checkpoints" / "last.pt", weights_only=True)["step"] == saved[-1] == 2
    assert not list(folder.glob("checkpoints/*.tmp")) and not (folder / "metrics.json").exists()
    resumed = run_main(*QUICK, "trainer.max_epochs=5", f"trainer.resume={folder}")
    assert resumed.returncode == 0, resumed.stderr


@pytest.mark.parametrize("flag", [["--cfg", "job"], ["--info", "searchpath"]])
def test_hydra_flags_that_print_still_work_and_write_nothing(tmp_path, flag):
    proc = run_main(*flag, "model=svm", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "run").exists()
