"""trainer=ddp under torchrun: 2 CPU processes (gloo on loopback), one run folder, same result as 1 process."""
import json
import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO

# every test here starts torchrun: one at a time (one xdist worker, `--dist loadgroup` in pyproject),
# since two launches on one machine can pick the same free port for their rendezvous or process group
pytestmark = pytest.mark.xdist_group("torchrun")

COMMON = ["model=svm", "trainer.batch_size=64", "trainer.max_epochs=4", "logger=none"]


def torchrun(*args, cwd):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                           "-m", "derivtrain", "trainer=ddp", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


@pytest.mark.slow
def test_two_ranks_one_folder_same_parameters_as_one_process(tmp_path):
    """Sparse rows in 3 svmlight files: each rank reads its share of the bytes and holds those rows;
    minibatches of the whole split's permutation, gradients summed: one process's run."""
    import numpy as np
    from sklearn.datasets import dump_svmlight_file, load_digits

    from tests.conftest import run_main

    X, y = load_digits(return_X_y=True)
    (tmp_path / "parts").mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(y)), 3)):
        dump_svmlight_file(X[part], y[part], str(tmp_path / "parts" / f"part{i}.svm"))
    args = ["data=svmlight", f"data.path={tmp_path / 'parts'}", "model=svm", "optim=sgd", "trainer.batch_size=64",
            "trainer.max_epochs=2", "logger=none"]
    proc = torchrun(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    runs = [p.parent for p in tmp_path.glob("outputs/*/*/metrics.json")]
    assert len(runs) == 1 and len(list(tmp_path.glob("outputs/*/*"))) == 1  # one folder for both ranks
    assert proc.stdout.count("test/accuracy") == 1  # rank 0 reports
    assert "rank 1 of 2 holds" in proc.stderr
    assert json.loads((runs[0] / "metrics.json").read_text())["test/accuracy"] >= 0.9

    single = run_main(*args, f"hydra.run.dir={tmp_path / 'one'}")
    assert single.returncode == 0, single.stderr
    two, one = _parameters(runs[0]), _parameters(tmp_path / "one")
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
    from tests.conftest import run_main

    single = run_main(*args, f"hydra.run.dir={tmp_path / 'one'}")
    assert single.returncode == 0, single.stderr
    two = torch.load(tmp_path / "two" / "checkpoints" / "last.pt", weights_only=True)["model"]
    one = torch.load(tmp_path / "one" / "checkpoints" / "last.pt", weights_only=True)["model"]
    for name in one:
        assert torch.allclose(one[name], two[name], atol=1e-5, rtol=0), name
    assert json.loads((tmp_path / "two" / "metrics.json").read_text())["test/accuracy"] >= 0.94


# ---- each rank holds its own rows ----------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _parameters(run):
    return torch.load(run / "checkpoints" / "last.pt", weights_only=True)["model"]


@pytest.fixture(scope="module")
def cancer_npy(tmp_path_factory):
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    folder = tmp_path_factory.mktemp("npy")
    X, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    np.save(folder / "X.npy", X[order].astype(np.float32))
    np.save(folder / "y.npy", y[order])
    return ["data=npy", f"data.path={folder / 'X.npy'}", f"data.target={folder / 'y.npy'}", "model=logistic",
            "regularizer=elastic_net", "regularizer.strength=0.01", "logger=none"]


@pytest.fixture(scope="module")
def certified_runs(cancer_npy, tmp_path_factory):
    """The certified solver (optim=auto) on a .npy read into memory: one process, and 2 ranks."""
    from tests.conftest import run_main

    folder = tmp_path_factory.mktemp("certified")
    one = run_main(*cancer_npy, f"hydra.run.dir={folder / 'one'}")
    assert one.returncode == 0, one.stderr
    two = torchrun(*cancer_npy, f"hydra.run.dir={folder / 'two'}", cwd=folder)
    assert two.returncode == 0, two.stderr
    return folder, two


@pytest.mark.slow
def test_two_ranks_hold_their_own_rows_and_certify_like_one_process(certified_runs):
    folder, two = certified_runs
    n_train = 569 - round(0.2 * 569) - round(0.1 * 569)
    for rank, held in ((0, n_train // 2), (1, n_train - n_train // 2)):  # each its own half, read from the file
        assert f"rank {rank} of 2 holds {held} of the {n_train} training rows" in two.stderr
    one, two = (json.loads((folder / name / "metrics.json").read_text()) for name in ("one", "two"))
    assert two["train/converged"] and two["test/accuracy"] >= 0.95
    for key in ("train/objective", "test/loss", "val/loss"):
        assert two[key] == pytest.approx(one[key], rel=1e-6), key
    for name, value in _parameters(folder / "one").items():
        torch.testing.assert_close(_parameters(folder / "two")[name], value, atol=1e-6, rtol=0, msg=name)


@pytest.mark.slow
def test_two_ranks_take_newtons_linear_step_like_one_process(cancer_npy, tmp_path):
    """optim=newton on a convex linear model takes the certified solver's step (trainer/linear_newton.py):
    its gradient, X^T D X and objective are summed over the ranks, so 2 ranks take one process's steps."""
    from tests.conftest import run_main

    args = [a for a in cancer_npy if not a.startswith("regularizer")] + ["optim=newton", "optim.tol=1e-10"]
    one = run_main(*args, f"hydra.run.dir={tmp_path / 'one'}")
    assert one.returncode == 0, one.stderr
    two = torchrun(*args, f"hydra.run.dir={tmp_path / 'two'}", cwd=tmp_path)
    assert two.returncode == 0, two.stderr
    one, two = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("one", "two"))
    assert two["train/converged"] and two["train/steps"] == one["train/steps"]
    for key in ("train/objective", "test/loss"):
        assert two[key] == pytest.approx(one[key], rel=1e-9), key
    for name, value in _parameters(tmp_path / "one").items():
        torch.testing.assert_close(_parameters(tmp_path / "two")[name], value, atol=1e-8, rtol=0, msg=name)


def _two_nodes(launcher: str, args, cwd, endpoint: str) -> list:
    """Two launches of one process each (two "nodes" on 127.0.0.1, c10d rendezvous): [(rc, stdout, stderr)]."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    launch = [sys.executable, "-m", launcher, "--nnodes=2", "--nproc-per-node=1", "--rdzv-backend=c10d",
              f"--rdzv-endpoint={endpoint}", "--rdzv-id=two-nodes", "-m", "derivtrain", "trainer=ddp", *args]
    nodes = [subprocess.Popen(launch, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [node.communicate(timeout=300) for node in nodes]
    return [(node.returncode, *out) for node, out in zip(nodes, outputs)]


@pytest.mark.slow
def test_two_nodes_rendezvous_into_one_run_equal_to_one_process(cancer_npy, certified_runs, tmp_path):
    """Two torchrun launches of one process each: one run folder, and the same parameters, to the bit,
    as the 2-rank run on one node (deterministic on CPU). Started again, the finished job is refused:
    through derivtrain.torchrun, one line on each node and exit 2, without torchrun's report."""
    nodes = _two_nodes("torch.distributed.run", cancer_npy, tmp_path, f"127.0.0.1:{_free_port()}")
    assert all(rc == 0 for rc, _, _ in nodes), nodes
    runs = list(tmp_path.glob("outputs/*/*"))
    assert len(runs) == 1 and runs[0].name == "two-nodes-logistic-npy" and (runs[0] / "metrics.json").is_file()
    folder, _ = certified_runs
    for name, value in _parameters(folder / "two").items():
        assert torch.equal(_parameters(runs[0])[name], value), name

    again = _two_nodes("derivtrain.torchrun", cancer_npy, tmp_path, f"127.0.0.1:{_free_port()}")
    for rc, out, err in again:
        assert rc == 2 and out == "", (rc, out, err)
        # torch's C++ store may add a connection notice under load ("[W...] ... socket"): not torchrun's report
        lines = [line for line in err.splitlines() if not line.startswith("[W")]
        assert len(lines) == 1, err
        line = lines[0]
        assert line.startswith("derivtrain: error: ") and "already holds a run" in line, err
        assert "Traceback" not in err and "FAILED" not in err, err
    assert list(tmp_path.glob("outputs/*/*")) == runs
