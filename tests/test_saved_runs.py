"""A run folder is data, never code: crafted checkpoints are refused in one line by load_run,
`python -m derivtrain.analyze` and trainer.resume, and nothing they name ever runs."""
import pickle
import shutil

import pytest
import torch

import derivtrain
from derivtrain.errors import UserError
from tests.conftest import run_main

SVM_RUN = ["model=svm", "optim=sgd", "logger.histogram_every_n_epochs=10", "analysis=integrated_gradients"]


class Touch:
    """A pickled object that creates the marker file when unpickled (torch.load(weights_only=False))."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return shutil.copyfile, (__file__, self.marker)


def code(marker) -> dict:
    """A config node that, instantiated, creates `marker` (shutil.copyfile is not on Hydra's blocklist)."""
    return {"_target_": "shutil.copyfile", "src": __file__, "dst": str(marker)}


def reopening(marker, tmp_path) -> dict:
    """A node whose instantiation reopens a pickle without the weights_only guard."""
    evil = tmp_path / "evil.pt"
    torch.save({"x": Touch(marker)}, evil)
    return {"_target_": "torch.load", "f": str(evil), "weights_only": False}


def _set(path, value):
    def change(state, marker, tmp_path):
        node = state
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value(marker, tmp_path) if callable(value) else value
        return state
    return change


def _both(first, second):
    return lambda state, marker, tmp_path: second(first(state, marker, tmp_path), marker, tmp_path)


def _drop(key):
    def change(state, marker, tmp_path):
        del state[key]
        return state
    return change


CASES = {
    "model names other code": (_set(("config", "model"), lambda m, t: code(m)), "is not the code of model=svm"),
    "nested target in the model": (_set(("config", "model", "multiclass"), lambda m, t: code(m)),
                                   "model.multiclass._target_ is not plain data"),
    "nested target reopening a pickle": (_set(("config", "model", "extra"), reopening),
                                         "model.extra._target_ is not plain data"),
    "data names other code": (_set(("config", "data"), lambda m, t: {**code(m), "test_size": 0.2, "val_size": 0.1}),
                              "is not the code of data=breast_cancer"),
    "a _partial_ key": (_set(("config", "trainer", "_partial_"), True), "trainer._partial_ is not plain data"),
    "an interpolation": (_set(("config", "data", "name"), "${oc.env:HOME}"), "is an interpolation"),
    "no option names": (_drop("options"), "records no option names"),
    "an option that is not registered": (_set(("options", "model"), "evil"),
                                         "names model=evil, which is neither derivtrain's option"),
    "an option name that is a path": (_set(("options", "model"), "../../tmp/evil"), "which is not an option name"),
    "a bare tensor": (lambda state, m, t: torch.zeros(3), "it holds a Tensor, not a dict"),
    "no model weights": (_drop("model"), "it holds no model weights"),
    "weights of another shape": (_set(("model", "linear.weight"), torch.zeros(1, 5)),
                                 "the saved linear.weight has shape (1, 5)"),
    "a data description that is not one": (_set(("spec", "n_features"), "30; rm -rf"), "data description"),
    # generated names are left out and made again on reading: never more of them than the file holds weights
    "more features than weights, names left out": (_both(_set(("spec", "n_features"), 10 ** 12),
                                                          _set(("spec", "feature_names"), [])),
                                                    "n_features=1000000000000, more than the"),
}


@pytest.fixture
def crafted(svm_run, tmp_path):
    """{case: a run folder whose checkpoint is the SVM run's, changed}, and the marker file."""
    folder, _ = svm_run
    marker = tmp_path / "MARKER"

    def make(name):
        state = torch.load(folder / "checkpoints" / "last.pt", weights_only=True)
        state = CASES[name][0](state, marker, tmp_path)
        run = tmp_path / "crafted"
        (run / "checkpoints").mkdir(parents=True)
        torch.save(state, run / "checkpoints" / "last.pt")
        return run

    return make, marker


def one_line(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("derivtrain: error: "), proc.stderr
    return lines[0]


@pytest.mark.parametrize("name", list(CASES))
def test_load_run_refuses_a_crafted_checkpoint(crafted, name):
    make, marker = crafted
    with pytest.raises(UserError, match=None) as error:
        derivtrain.load_run(make(name))
    assert CASES[name][1] in str(error.value) and "\n" not in str(error.value)
    assert not marker.exists()


@pytest.mark.parametrize("name", list(CASES))
def test_analyze_refuses_a_crafted_run_folder(crafted, name):
    make, marker = crafted
    run = make(name)
    proc = run_main(f"run={run}", "analysis=saliency", module="derivtrain.analyze")
    assert CASES[name][1] in one_line(proc)
    assert not marker.exists() and not (run / "attributions").exists()


@pytest.mark.parametrize("name", list(CASES))
def test_resume_refuses_a_crafted_checkpoint_and_writes_nothing(crafted, name, tmp_path):
    make, marker = crafted
    run = make(name)
    before = (run / "checkpoints" / "last.pt").read_bytes()
    proc = run_main(*SVM_RUN, "trainer.max_epochs=31", f"trainer.resume={run}", f"hydra.run.dir={tmp_path / 'next'}")
    assert CASES[name][1] in one_line(proc)
    assert not marker.exists() and not (tmp_path / "next").exists()
    assert sorted(p.name for p in run.rglob("*")) == ["checkpoints", "last.pt"]
    assert (run / "checkpoints" / "last.pt").read_bytes() == before


def test_the_untouched_run_still_loads_and_records_its_options(svm_run):
    folder, _ = svm_run
    state = torch.load(folder / "checkpoints" / "last.pt", weights_only=True)
    assert state["options"] == {"model": "svm", "loss": "hinge", "regularizer": "l2", "data": "breast_cancer"}
    assert type(derivtrain.load_run(folder)).__name__ == "LinearSVM"


def test_the_pickle_of_the_reopening_case_would_run_code(tmp_path):
    """The crafted file is dangerous for real: only torch.load's weights_only guard stops it."""
    marker = tmp_path / "MARKER"
    node = reopening(marker, tmp_path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(node["f"], weights_only=True)
    assert not marker.exists()
    torch.load(node["f"], weights_only=False)
    assert marker.exists()


def test_generated_feature_names_are_left_out_of_the_checkpoint_and_made_again(tmp_path):
    """x0, x1, ... (a file's columns without names) are not written; reading the run makes them again."""
    from derivtrain.saved import read_saved_run

    folder = tmp_path / "run"
    assert run_main("model=svm", "data=synthetic", "data.n_samples=300", "data.n_features=7", "optim=sgd",
                    "trainer.max_epochs=2", "logger=none", f"hydra.run.dir={folder}").returncode == 0
    assert torch.load(folder / "checkpoints" / "last.pt", weights_only=True)["spec"]["feature_names"] == []
    assert read_saved_run(folder).spec.feature_names == [f"x{j}" for j in range(7)]
