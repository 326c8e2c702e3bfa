"""Every kind of bad input: exit code 2, one line naming the problem and the fix, no traceback.

Each case runs the CLI's main() in this process (tests/conftest.py: run_main) into a fresh folder,
which must stay without a metrics.json.
"""
import pytest
import torch

from tests.conftest import run_main

GOOD_ROWS = "a,b,label\n" + "".join(f"{i},{i % 3},{'x' if i % 2 else 'y'}\n" for i in range(30))


def csv_case(text):
    """A case whose data is a CSV with `text` (None: no file at all; '/': a folder)."""
    def prepare(tmp_path):
        path = tmp_path / "data.csv"
        if text == "/":
            path.mkdir()
        elif text is not None:
            path.write_text(text)
        return ["data=csv", f"data.path={path}", "data.target=label"]
    return prepare


def npy_case(X, y=None, *extra):
    """A data=npy case with features X (a str: a text file of that content) and targets y."""
    def prepare(tmp_path):
        import numpy as np

        features, targets = tmp_path / "X.npy", tmp_path / "y.npy"
        if isinstance(X, str):
            features.write_text(X)
        elif X is not None:
            np.save(features, X)
        np.save(targets, np.arange(40) % 2 if y is None else y)
        return ["data=npy", f"data.path={features}", f"data.target={targets}", "trainer.batch_size=8", *extra]
    return prepare


def _features(**kwargs):
    import numpy as np

    X = np.random.default_rng(0).normal(size=(40, 3))
    for key, value in kwargs.items():
        X = value(X)
    return X


def plain(*args):
    return lambda tmp_path: list(args)


def resume_from_not_a_run(tmp_path):
    (tmp_path / "empty").mkdir()
    return [f"trainer.resume={tmp_path / 'empty'}"]


def resume_with_other_features(tmp_path):
    proc = run_main("trainer.max_epochs=1", "logger=none", f"hydra.run.dir={tmp_path / 'first'}")
    assert proc.returncode == 0, proc.stderr
    return [f"trainer.resume={tmp_path / 'first'}", "data=wine", "model=svm"]


def unwritable_output(tmp_path):
    (tmp_path / "a_file").write_text("")
    return [f"hydra.run.dir={tmp_path / 'a_file' / 'run'}"]


CASES = {
    "csv missing": (csv_case(None), "no such file"),
    "csv is a folder": (csv_case("/"), "is a folder"),
    "csv empty": (csv_case(""), "needs a header row and at least one data row"),
    "csv header only": (csv_case("a,b,label\n"), "needs a header row and at least one data row"),
    "NaN feature": (csv_case(GOOD_ROWS + "nan,1,x\n"), "NaN or infinite"),
    "inf feature": (csv_case(GOOD_ROWS + "inf,1,x\n"), "NaN or infinite"),
    "non-numeric feature": (csv_case(GOOD_ROWS + "seven,1,x\n"), "'seven' is not a number"),
    "missing target column": (lambda p: csv_case(GOOD_ROWS)(p)[:2] + ["data.target=lable"],
                              "data.target=lable is not a column"),
    "single class": (csv_case("a,label\n" + "".join(f"{i},same\n" for i in range(20))), "at least two classes"),
    "npy missing": (npy_case(None), "data.path="),
    "npy not a .npy file": (npy_case("a,b\n1,2\n"), "is not a readable .npy file"),
    "npy features 1-D": (npy_case(_features(flat=lambda X: X[:, 0])), "features must be 2-D"),
    "npy integer features": (npy_case(_features(ints=lambda X: X.astype("int64"))), "float32 or float64"),
    "npy Fortran order": (npy_case(_features(f=lambda X: X.copy(order="F"))), "Fortran (column) order"),
    "npy NaN feature": (npy_case(_features(nan=lambda X: X.__setitem__((7, 1), float("nan")) or X)),
                        "row 7 has NaN"),
    "npy targets of another length": (npy_case(_features(), [0, 1] * 10), "one value per row"),
    "npy sorted by class": (npy_case(_features(), [0] * 30 + [1] * 10), "shuffle the rows"),
    "npy full batch": (npy_case(_features(), None, "trainer.batch_size=null", "data.out_of_core=true"),
                       "trains on minibatches"),
    "npy with newton": (npy_case(_features(), None, "optim=newton", "model=logistic", "data.out_of_core=true"),
                        "optim=newton needs every row"),
    "npy out_of_core not a choice": (npy_case(_features(), None, "data.out_of_core=maybe"),
                                     "data.out_of_core=maybe is not valid"),
    "sparse rows into an MLP": (plain("data=svmlight", "data.path=x.svm", "model=mlp"), "for linear models"),
    "npz without targets": (plain("data=npz", "data.path=x.npz"), "data=npz needs data.target"),
    "svmlight not a file": (plain("data=svmlight", "data.path=/nonexistent/x.svm", "model=svm"),
                            "no such file, folder or matching files"),
    "em under ddp": (plain("optim=em", "model=gmm", "data=blobs", "trainer=ddp"), "optim=em fits in one process"),
    "cuda graph on the CPU": (plain("trainer.cuda_graph=true", "trainer.device=cpu", "optim=sgd"), "needs a CUDA device"),
    "labels the loss cannot take": (plain("loss=mse"), "is for regression, but data=breast_cancer"),
    "non-numeric regression target": (lambda p: csv_case(GOOD_ROWS)(p) + ["data.task=regression", "model=linear"],
                                      "regression needs numbers"),
    "unknown key": (plain("trainer.max_epoch=3"), "did you mean trainer.max_epochs"),
    "unknown option": (plain("optim=adamm"), "did you mean adam"),
    "wrong type": (plain("trainer.batch_size=big"),
                   "trainer.batch_size=big is not valid: trainer.batch_size takes a whole number"),
    "not a number": (plain("optim.lr=abc"), "optim.lr=abc is not valid: optim.lr takes a number, e.g. optim.lr=0.01"),
    "not a boolean": (plain("trainer.compile=maybe"),
                      "trainer.compile=maybe is not valid: trainer.compile takes true or false"),
    "zero lr": (plain("optim.lr=0"), "optim.lr=0.0 must be > 0"),
    "negative batch size": (plain("trainer.batch_size=-1"), "trainer.batch_size=-1 must be > 0"),
    "zero epochs": (plain("trainer.max_epochs=0"), "trainer.max_epochs=0 must be > 0"),
    "negative strength": (plain("regularizer.strength=-0.1"), "regularizer.strength=-0.1 must be >= 0"),
    "split size above 1": (plain("data.val_size=1.2"), "data.val_size=1.2 must be in [0, 1)"),
    "split size zero": (plain("data.test_size=0"), "data.test_size=0.0 must be > 0"),
    "invalid device": (plain("trainer.device=cuda:x"), "trainer.device=cuda:x is not valid"),
    "resume from a folder that is not a run": (resume_from_not_a_run, "no checkpoint at"),
    "resume on data of another shape": (resume_with_other_features, "was trained on 30 features"),
    "unwritable output folder": (unwritable_output, "is not a writable folder"),
    "unknown sweep monitor": (plain("sweep.monitor=val/acuracy"), "sweep.monitor=val/acuracy is not valid"),
}
if not torch.cuda.is_available():
    CASES["cuda without a GPU"] = (plain("trainer.device=cuda"), "no CUDA device")


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_one_line(tmp_path, name):
    prepare, expected = CASES[name]
    args = prepare(tmp_path)
    if not any(a.startswith("hydra.run.dir=") for a in args):
        args.append(f"hydra.run.dir={tmp_path / 'run'}")
    proc = run_main(*args)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("derivtrain: error: "), proc.stderr
    assert expected in lines[0], lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()
