"""trainer.resume=auto: a restarted job (torchrun --max-restarts, a SLURM requeue) goes on from its own
run folder's last checkpoint, and starts fresh where there is none."""
import torch

from tests.conftest import run_main

ARGS = ["model=svm", "optim=sgd", "trainer.batch_size=64", "trainer.checkpoint_every_n_epochs=1", "logger=none",
        "trainer.resume=auto"]


def _weights(run):
    return torch.load(run / "checkpoints" / "last.pt", weights_only=True)["model"]


def test_resume_auto_starts_fresh_then_continues_the_folders_last_checkpoint(tmp_path):
    whole = run_main(*ARGS, "trainer.max_epochs=2", f"hydra.run.dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr
    assert "continuing" not in whole.stderr  # nothing to continue: a fresh start

    # the job stops after 1 epoch (a lost node), is started again with the same command: it goes on
    first = run_main(*ARGS, "trainer.max_epochs=1", f"hydra.run.dir={tmp_path / 'restarted'}")
    assert first.returncode == 0, first.stderr
    (tmp_path / "restarted" / "metrics.json").unlink()  # the node was lost before the run could finish
    again = run_main(*ARGS, "trainer.max_epochs=2", f"hydra.run.dir={tmp_path / 'restarted'}")
    assert again.returncode == 0, again.stderr
    assert "trainer.resume=auto: continuing from" in again.stderr and "resumed after epoch 1" in again.stderr
    for name, value in _weights(tmp_path / "whole").items():
        torch.testing.assert_close(_weights(tmp_path / "restarted")[name], value, msg=name)
