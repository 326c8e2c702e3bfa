"""Hostile files and sizes (issue 29): every reader's error is one line, exit 2, no run folder;
sizes are checked before anything of that size is allocated; a tampered checkpoint is refused
before its model is built; derivtrain.train raises ConfigError for all of it."""
import subprocess
import sys

import numpy as np
import pytest
import torch

import derivtrain
from derivtrain.errors import ConfigError, UserError
from tests.conftest import REPO, run_main
from tests.data import hostile
from tests.peak_memory import SAMPLED_RUN, peaks


def svmlight(make):
    return lambda tmp: ["data=svmlight", f"data.path={make(tmp)}", "model=logistic"]


def npz(make):
    return lambda tmp: ["data=npz", f"data.path={make(tmp)}", f"data.target={hostile.targets(tmp)}", "model=logistic"]


def npz_target(make):
    return lambda tmp: ["data=npz", f"data.path={hostile.good_npz(tmp)}", f"data.target={make(tmp)}", "model=logistic"]


def npy(make, *extra):
    return lambda tmp: ["data=npy", f"data.path={make(tmp)}", f"data.target={hostile.targets(tmp)}", *extra]


def npy_target(make):
    return lambda tmp: ["data=npy", f"data.path={hostile.good_npy(tmp)}", f"data.target={make(tmp)}"]


def csv(make):
    return lambda tmp: ["data=csv", f"data.path={make(tmp)}", "data.target=label"]


def npy_larger_than_memory(tmp):
    return ["data=npy", f"data.path={hostile.npy_larger_than_memory(tmp)}", f"data.target={tmp / 'y.npy'}",
            "data.out_of_core=false"]


def plain(*args):
    return lambda tmp: list(args)


ZIP_BYTES = b"PK\x03\x04" + b"\0" * 60
CASES = {
    # ---- svmlight ----
    "svmlight empty": (svmlight(hostile.text("a.svm", "")), "holds no rows"),
    "svmlight comments only": (svmlight(hostile.text("a.svm", "# one\n# two\n")), "holds no rows"),
    "svmlight index 2**40": (svmlight(hostile.text("a.svm", "".join(f"{i % 2} 1:0.5 {2**40}:1\n" for i in range(20)))),
                             "feature index beyond 2147483647"),
    "svmlight labels only": (svmlight(hostile.text("a.svm", "".join(f"{i % 2}\n" for i in range(20)))),
                             "no feature columns"),
    "svmlight given a zip": (svmlight(hostile.raw("a.svm", ZIP_BYTES)), "data.path="),
    "svmlight truncated": (svmlight(hostile.text("a.svm", "".join(f"{i % 2} 1:0.5 2:1\n" for i in range(20)) + "1 3:")),
                           "data.path="),
    # ---- npz (sparse) ----
    "npz not a zip": (npz(hostile.raw("X.npz", b"hello, not a zip\n" * 10)), "BadZipFile"),
    "npz 0 bytes": (npz(hostile.raw("X.npz", b"")), "is not a matrix saved by scipy.sparse.save_npz"),
    "npz truncated": (npz(hostile.truncated(hostile.good_npz)), "is not a matrix saved by scipy.sparse.save_npz"),
    "npz 300 x 0": (npz(hostile.npz_arrays(shape=[300, 0], indices=np.zeros(0, np.int32),
                                           data=np.zeros(0, np.float32), indptr=np.zeros(301, np.int32))),
                    "the data has no feature columns (shape (300, 0))"),
    "npz declaring 10**12 columns": (npz(hostile.npz_arrays(shape=[300, 10**12])), "but"),
    "npz member declaring more than it holds": (npz(hostile.npz_member_lies), "data.npy declares shape (1000000000,)"),
    "npz of a .npy": (npz(hostile.good_npy), "is not a matrix saved by scipy.sparse.save_npz"),
    "npz with a 0-byte target": (npz_target(hostile.raw("y.npy", b"")), "data.target="),
    "npz with a truncated target": (npz_target(hostile.npy_declaring((300,), "<i8", holds=100)), "holds 100 bytes"),
    # ---- npy ----
    "npy 0 bytes": (npy(hostile.raw("X.npy", b"")), "is not a readable .npy file"),
    "npy 0-byte target": (npy_target(hostile.raw("y.npy", b"")), "data.target="),
    "npy truncated": (npy(hostile.truncated(hostile.good_npy)), "it is truncated or was not written by np.save"),
    "npy declaring 10**6 x 10**6": (npy(hostile.npy_declaring((10**6, 10**6))),
                                    "declares an array of shape (1000000, 1000000)"),
    "npy declaring 10**6 x 10**6 in memory": (npy(hostile.npy_declaring((10**6, 10**6)), "data.out_of_core=false"),
                                              "declares an array of shape (1000000, 1000000)"),
    "npy target declaring 10**12 rows": (npy_target(hostile.npy_declaring((10**12,), "<i8", holds=2400)),
                                         "declares an array of shape (1000000000000,)"),
    "npy holding objects": (npy_target(hostile.npy_declaring((300,), "|O", holds=2400)), "holds Python objects"),
    "npy given a zip": (npy(hostile.raw("X.npy", ZIP_BYTES)), "is a .npz archive"),
    "npy larger than memory, read into memory": (npy_larger_than_memory,
                                                 "read into memory (data.out_of_core=false) needs about"),
    # ---- csv ----
    "csv 0 bytes": (csv(hostile.raw("a.csv", b"")), "needs a header row"),
    "csv header only": (csv(hostile.text("a.csv", "a,label\n")), "needs a header row and at least one data row"),
    "csv larger than memory": (csv(hostile.sparse_file("a.csv", b"a,label\n")), "(CSV text) needs about"),
    "svmlight larger than memory": (svmlight(hostile.sparse_file("a.svm", b"1 1:1\n")), "of memory, but"),
    # ---- size keys ----
    "data.n_features=10**12": (plain("data=synthetic", "data.n_features=1000000000000"),
                               "data.n_features=1000000000000 is larger than 2147483647"),
    "svmlight data.n_features=2**31 - 2": (lambda tmp: [*svmlight(hostile.text("a.svm", "1 1:1\n0 2:1\n" * 10))(tmp),
                                                        "data.n_features=2147483646"], "of memory, but"),
    "hidden_sizes of 16 TB": (plain("model=mlp", "model.hidden_sizes=[1000000,1000000]"),
                              "model.hidden_sizes=[1000000, 1000000] needs about"),
    "hidden size beyond 2**31": (plain("model=mlp", "model.hidden_sizes=[4,3000000000]"), "is larger than 2147483647"),
    "n_samples x n_features of 20 TB": (plain("data=synthetic", "data.n_samples=100000000", "data.n_features=10000"),
                                        "data.n_samples=100000000 x data.n_features=10000 needs about 20.0 TB"),
    "max_dense of 16 TB": (plain("optim.max_dense=1000000"), "optim.max_dense=1000000 needs about"),
    # ---- checked values ----
    "monitor val/nope under optim=auto": (plain("trainer.early_stopping.monitor=val/nope"),
                                          "trainer.early_stopping.monitor=val/nope is not valid"),
    "monitor val/nope under optim=sgd": (plain("optim=sgd", "trainer.early_stopping.monitor=val/nope"),
                                         "trainer.early_stopping.monitor=val/nope is not valid"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_is_one_line_exit_2_and_no_folder(tmp_path, name):
    prepare, expected = CASES[name]
    args = [*prepare(tmp_path), "trainer.max_epochs=2", "logger=none", f"hydra.run.dir={tmp_path / 'run'}"]
    proc = run_main(*args, cwd=tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("derivtrain: error: "), proc.stderr
    assert expected in lines[0], lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["svmlight empty", "svmlight index 2**40", "npz not a zip", "npy 0 bytes",
                                  "npz 300 x 0", "npz declaring 10**12 columns", "data.n_features=10**12",
                                  "monitor val/nope under optim=auto"])
def test_the_python_api_raises_config_error(tmp_path, name):
    prepare, expected = CASES[name]
    with pytest.raises(ConfigError, match=None) as caught:
        derivtrain.train(*prepare(tmp_path), "trainer.max_epochs=2", "logger=none", run_dir=tmp_path / "run")
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "run").exists()


def test_a_reader_error_of_any_type_becomes_one_data_error(monkeypatch):
    """The reader boundary: an exception no reader anticipates (here a KeyError from a loader) is
    bad input, named by data.path, with the original kept as the cause."""
    from omegaconf import OmegaConf

    import derivtrain.data.csv as csv_module
    from derivtrain.data import load_table
    from derivtrain.errors import DataError

    def broken(**kwargs):
        raise KeyError("something deep in a parser")

    monkeypatch.setattr(csv_module, "load_csv", broken)
    cfg = OmegaConf.create({"_target_": "derivtrain.data.csv.load_csv", "path": "t.csv", "target": "y"})
    with pytest.raises(DataError, match=r"data.path=t.csv cannot be read \(KeyError: 'something deep") as caught:
        load_table(cfg)
    assert isinstance(caught.value.__cause__, KeyError)


# ---- a tampered checkpoint: refused before its model is built ----------------------------------
@pytest.fixture(scope="module")
def tampered_run(tmp_path_factory):
    """A trained MLP (hidden_sizes=[8]) whose saved config now says hidden_sizes=[30000, 30000]
    (3.6 GB of weights, were they built)."""
    folder = tmp_path_factory.mktemp("tampered") / "run"
    proc = run_main("model=mlp", "model.hidden_sizes=[8]", "trainer.max_epochs=1", "logger=none",
                    f"hydra.run.dir={folder}")
    assert proc.returncode == 0, proc.stderr
    last = folder / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)
    state["config"]["model"]["hidden_sizes"] = [30000, 30000]
    torch.save(state, last)
    return folder


def test_load_run_refuses_a_tampered_checkpoint_in_one_line(tampered_run):
    with pytest.raises(UserError, match=r"the saved weights do not fit this model") as caught:
        derivtrain.load_run(tampered_run)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("module, args", [("derivtrain.analyze", ["analysis=saliency"]),
                                          ("derivtrain.export", ["out={tmp}/model.onnx"])])
def test_analyze_and_export_refuse_a_tampered_checkpoint(tampered_run, tmp_path, module, args):
    proc = run_main(f"run={tampered_run}", *(a.format(tmp=tmp_path) for a in args), module=module)
    assert proc.returncode == 2, proc.stderr
    assert "the saved weights do not fit this model" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "model.onnx").exists()


def test_a_checkpoint_larger_than_memory_is_refused_before_it_is_read(tmp_path):
    path = hostile.sparse_file("last.pt", b"PK\x03\x04")(tmp_path)
    with pytest.raises(UserError, match=r"the checkpoint .*last.pt needs about .* of memory, but"):
        derivtrain.load_run(path)


def test_a_checkpoint_tensor_declaring_more_than_its_record_is_refused(tmp_path):
    """torch.load checks a storage's declared size against its record before allocating; pinned
    here because load_run relies on it."""
    import struct
    import zipfile

    torch.save({"w": torch.zeros(10, dtype=torch.uint8)}, tmp_path / "small.pt")
    with zipfile.ZipFile(tmp_path / "small.pt") as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    pickle = next(name for name in files if name.endswith("data.pkl"))
    at = files[pickle].index(b"K\x0a")  # the storage's element count, 10 (BININT1)
    files[pickle] = files[pickle][:at] + b"J" + struct.pack("<i", 10**9) + files[pickle][at + 2:]
    with zipfile.ZipFile(tmp_path / "big.pt", "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    with pytest.raises(UserError, match=r"is not a readable derivtrain checkpoint .*does not match expected size"):
        derivtrain.load_run(tmp_path / "big.pt")


def _peak(code_or_args: list, cwd) -> int:
    """Peak anonymous memory (bytes) of a process that samples itself from before its imports."""
    proc = subprocess.run([sys.executable, "-c", *code_or_args], capture_output=True, text=True, cwd=cwd, timeout=300)
    found = peaks(proc.stdout)
    assert found, proc.stdout + proc.stderr
    return found[0][0]


LOAD_RUN = SAMPLED_RUN.replace("import derivtrain.cli", "import derivtrain").replace(
    'sys.argv = ["derivtrain"] + sys.argv[1:]', "").replace("derivtrain.cli.main()", "derivtrain.load_run(sys.argv[1])")


def test_refused_inputs_stay_within_200_mb_of_start_up(tmp_path, tampered_run):
    """Issue 29's target: the peak memory of any refused input <= 200 MB above the process's
    start-up, here measured against a run refused by its first config check (same imports)."""
    hostile.good_npz(tmp_path)
    huge = hostile.npz_arrays(shape=[300, 10**12])(tmp_path)
    y = hostile.targets(tmp_path)
    base = _peak([SAMPLED_RUN, "trainer.max_epochs=0"], REPO)
    refused = {
        "npz of 10**12 columns": _peak([SAMPLED_RUN, "data=npz", f"data.path={huge}", f"data.target={y}",
                                        "model=logistic", f"hydra.run.dir={tmp_path / 'a'}"], REPO),
        "data.n_features=10**12": _peak([SAMPLED_RUN, "data=synthetic", "data.n_features=1000000000000",
                                         f"hydra.run.dir={tmp_path / 'b'}"], REPO),
        "tampered checkpoint": _peak([LOAD_RUN, str(tampered_run)], REPO),
    }
    over = {name: (peak - base) / 1e6 for name, peak in refused.items()}
    assert all(mb <= 200 for mb in over.values()), over


@pytest.mark.parametrize("overrides", [
    ["data=synthetic", "data.n_samples=3000000000"], ["data=npy", "data.path=X.npy", "data.target=y.npy",
                                                      "data.chunk_rows=3000000000"],
    ["model=gmm", "data=blobs", "model.n_components=3000000000"], ["trainer.batch_size=3000000000"],
    ["optim=lbfgs", "optim.history_size=3000000000"], ["analysis=integrated_gradients", "analysis.n_steps=3000000000"],
    ["diagnostics.hessian_max_samples=3000000000"]])
def test_every_size_key_is_capped_in_the_pre_flight(overrides):
    from derivtrain.config import validate
    from derivtrain.config.sizes import SIZE_KEYS
    from tests.conftest import compose_config

    key = overrides[-1].split("=")[0]
    assert key in SIZE_KEYS
    with pytest.raises(ConfigError, match=rf"^{key}=3000000000 is larger than 2147483647"):
        validate(compose_config(*overrides))


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_a_containers_memory_limit_is_the_memory_available(tmp_path, version):
    """In a container MemAvailable is the host's; the cgroup's limit less its usage (inactive page
    cache counted as free) is what the size checks compare with."""
    from derivtrain.data.memory import cgroup_available

    GB = 10**9
    if version == "v2":
        (tmp_path / "memory.max").write_text(f"{8 * GB}\n")
        (tmp_path / "memory.current").write_text(f"{3 * GB}\n")
        (tmp_path / "memory.stat").write_text(f"anon {2 * GB}\ninactive_file {1 * GB}\n")
    else:
        (tmp_path / "memory").mkdir()
        (tmp_path / "memory" / "memory.limit_in_bytes").write_text(f"{8 * GB}\n")
        (tmp_path / "memory" / "memory.usage_in_bytes").write_text(f"{3 * GB}\n")
        (tmp_path / "memory" / "memory.stat").write_text(f"total_inactive_file {1 * GB}\n")
    assert cgroup_available(tmp_path) == 6 * GB
    (tmp_path / ("memory.max" if version == "v2" else "memory/memory.limit_in_bytes")).write_text(
        "max\n" if version == "v2" else "9223372036854771712\n")
    assert cgroup_available(tmp_path) is None  # no limit
    assert cgroup_available(tmp_path / "nothing") is None
