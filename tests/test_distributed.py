"""trainer=ddp under torchrun: 2 CPU processes (gloo on loopback), one run folder, same result as 1 process."""
import json
import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO

COMMON = ["model=svm", "trainer.batch_size=64", "trainer.max_epochs=4", "logger=none"]


def torchrun(*args, cwd):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                           "-m", "derivtrain", "trainer=ddp", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


@pytest.mark.slow
def test_two_ranks_one_folder_same_parameters_as_one_process(tmp_path):
    proc = torchrun(*COMMON, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    runs = [p.parent for p in tmp_path.glob("outputs/*/*/metrics.json")]
    assert len(runs) == 1 and len(list(tmp_path.glob("outputs/*/*"))) == 1  # one folder for both ranks
    assert proc.stdout.count("test/accuracy") == 1  # rank 0 reports
    assert json.loads((runs[0] / "metrics.json").read_text())["test/accuracy"] >= 0.94

    single = subprocess.run([sys.executable, "-m", "derivtrain", *COMMON, f"hydra.run.dir={tmp_path / 'one'}"],
                            capture_output=True, text=True, cwd=REPO)
    assert single.returncode == 0, single.stderr
    two = torch.load(runs[0] / "checkpoints" / "last.pt", weights_only=True)["model"]
    one = torch.load(tmp_path / "one" / "checkpoints" / "last.pt", weights_only=True)["model"]
    for name in one:
        assert torch.allclose(one[name], two[name], atol=1e-5, rtol=0), name
    assert two["linear.weight"].abs().sum() > 0


@pytest.mark.slow
def test_two_ranks_read_out_of_core_rows_like_one_process(tmp_path):
    """data=npy under torchrun: each rank reads the chunk and trains on its part of every batch."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    np.save(tmp_path / "X.npy", X[order])
    np.save(tmp_path / "y.npy", y[order])
    args = [*COMMON, "data=npy", f"data.path={tmp_path / 'X.npy'}", f"data.target={tmp_path / 'y.npy'}",
            "data.chunk_rows=128", "data.out_of_core=true"]
    proc = torchrun(*args, f"hydra.run.dir={tmp_path / 'two'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    single = subprocess.run([sys.executable, "-m", "derivtrain", *args, f"hydra.run.dir={tmp_path / 'one'}"],
                            capture_output=True, text=True, cwd=REPO)
    assert single.returncode == 0, single.stderr
    two = torch.load(tmp_path / "two" / "checkpoints" / "last.pt", weights_only=True)["model"]
    one = torch.load(tmp_path / "one" / "checkpoints" / "last.pt", weights_only=True)["model"]
    for name in one:
        assert torch.allclose(one[name], two[name], atol=1e-5, rtol=0), name
    assert json.loads((tmp_path / "two" / "metrics.json").read_text())["test/accuracy"] >= 0.94
