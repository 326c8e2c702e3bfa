"""Every kind of bad input: exit code 2, one line naming the problem and the fix, no traceback,
nothing written: not the run folder, not a byte of what was there before.

Each case runs the CLI's main() in this process (tests/conftest.py: run_main) into a fresh folder.
"""
import gzip
import hashlib
import os

import pytest
import torch

from tests.conftest import run_main

GOOD_ROWS = "a,b,label\n" + "".join(f"{i},{i % 3},{'x' if i % 2 else 'y'}\n" for i in range(30))


def csv_case(text, *extra):
    """A case whose data is a CSV with `text` (None: no file at all; '/': a folder; bytes: as they are)."""
    def prepare(tmp_path):
        path = tmp_path / "data.csv"
        if text == "/":
            path.mkdir()
        elif isinstance(text, bytes):
            path.write_bytes(text)
        elif text is not None:
            path.write_text(text)
        return ["data=csv", f"data.path={path}", "data.target=label", *extra]
    return prepare


REGRESSION_ROWS = "a,b,label\n" + "".join(f"{i},{i % 3},{i * 0.37:.2f}\n" for i in range(30))


def npy_case(X, y=None, *extra):
    """A data=npy case with features X (a str: a text file of that content; 'npz': an archive) and targets y."""
    def prepare(tmp_path):
        import numpy as np

        features, targets = tmp_path / "X.npy", tmp_path / "y.npy"
        if isinstance(X, str) and X == "npz":
            with open(features, "wb") as f:
                np.savez(f, X=_features())
        elif isinstance(X, str):
            features.write_text(X)
        elif X is not None:
            np.save(features, X)
        if isinstance(y, str) and y == "npz":
            with open(targets, "wb") as f:
                np.savez(f, y=np.arange(40) % 2)
        else:
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
    """The same data settings, but the file gained a column since the run trained on it."""
    args = csv_case(GOOD_ROWS)(tmp_path)
    proc = run_main(*args, "optim=sgd", "trainer.max_epochs=1", "logger=none", f"hydra.run.dir={tmp_path / 'first'}")
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "first" / "metrics.json").unlink()  # as if it had stopped: it goes on in its own folder
    (tmp_path / "data.csv").write_text(GOOD_ROWS.replace("a,b,label", "a,b,c,label").replace(",x\n", ",0,x\n")
                                       .replace(",y\n", ",0,y\n"))
    return [*args, "optim=sgd", f"trainer.resume={tmp_path / 'first'}"]


def finished_run(tmp_path, *extra):
    folder = tmp_path / "first"
    proc = run_main("model=logistic", "data=iris", "trainer.max_epochs=2", "logger=none", *extra,
                    f"hydra.run.dir={folder}")
    assert proc.returncode == 0, proc.stderr
    return folder


def into_an_existing_run(spelling):
    def prepare(tmp_path):
        folder = finished_run(tmp_path)
        os.environ["DERIVTRAIN_TEST_ROOT"] = str(tmp_path)  # run_main restores the environment afterwards
        return ["model=logistic", "data=iris", spelling.format(folder=folder, root="${oc.env:DERIVTRAIN_TEST_ROOT}")]
    return prepare


def into_a_diverged_run(tmp_path):
    folder = tmp_path / "diverged"
    proc = run_main("model=linear", "data=diabetes", "optim=sgd", "optim.lr=2", "optim.momentum=0", "logger=none",
                    "trainer.checkpoint_every_n_epochs=1", f"hydra.run.dir={folder}")
    assert proc.returncode == 1 and (folder / "checkpoints").exists(), proc.stderr
    return ["model=linear", "data=diabetes", f"hydra.run.dir={folder}"]


def into_a_folder_with_files(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    return [f"hydra.run.dir={tmp_path / 'notes'}"]


def into_a_folder_in_use(tmp_path):
    from tests.lock_holder import hold_lock

    (tmp_path / "busy").mkdir()
    hold_lock(tmp_path / "busy", seconds=60)  # a live process that holds the lock
    return [f"hydra.run.dir={tmp_path / 'busy'}"]


def resume_a_finished_run_in_its_folder(tmp_path):
    folder = finished_run(tmp_path)
    return ["model=logistic", "data=iris", "trainer.max_epochs=4", f"trainer.resume={folder}",
            f"hydra.run.dir={folder}"]


def resume_with_another_optimizer(tmp_path):
    folder = finished_run(tmp_path, "optim=sgd")
    return ["model=logistic", "data=iris", "optim=adam", f"trainer.resume={folder}"]


def resume_a_bare_tensor(tmp_path):
    (tmp_path / "t" / "checkpoints").mkdir(parents=True)
    torch.save(torch.zeros(3), tmp_path / "t" / "checkpoints" / "last.pt")
    return [f"trainer.resume={tmp_path / 't'}"]


def unwritable_output(tmp_path):
    (tmp_path / "a_file").write_text("")
    return [f"hydra.run.dir={tmp_path / 'a_file' / 'run'}"]


def binary_file(data: bytes):
    return lambda tmp_path: csv_case(data)(tmp_path)


LATIN1_HEADER = "a,b,étiquette,label\n".encode("latin-1") + GOOD_ROWS.split("\n", 1)[1].replace(",x", ",1,x").replace(
    ",y", ",1,y").encode()


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
    "resume on data of another shape": (resume_with_other_features, "was trained on 2 features"),
    "unwritable output folder": (unwritable_output, "is not a writable folder"),
    "unknown sweep monitor": (plain("sweep.monitor=val/acuracy"), "sweep.monitor=val/acuracy is not valid"),
    # ---- values that would reach torch unchecked (derivtrain/config/values.py) ----
    "negative seed": (plain("trainer.seed=-1"), "trainer.seed=-1 must be a whole number in [0, 4294967295]"),
    "seed above 2**32-1": (plain("trainer.seed=4294967296"), "trainer.seed=4294967296 must be a whole number"),
    "negative analysis seed": (plain("analysis=saliency", "analysis.seed=-7"), "analysis.seed=-7 must be"),
    "negative momentum": (plain("optim=sgd", "optim.momentum=-0.5"), "optim.momentum=-0.5 must be >= 0"),
    "negative weight decay": (plain("optim=adamw", "optim.weight_decay=-0.01"), "optim.weight_decay=-0.01 must be >= 0"),
    "negative epsilon": (plain("optim=adam", "optim.eps=-1e-8"), "optim.eps=-1e-08 must be >= 0"),
    "one Adam beta": (plain("optim=adam", "optim.betas=[0.9]"), "optim.betas=[0.9] must be two numbers in [0, 1)"),
    "an Adam beta of 1.5": (plain("optim=adam", "optim.betas=[0.9,1.5]"), "must be two numbers in [0, 1)"),
    "schedule step size 0": (plain("optim=sgd", "optim.schedule=step", "optim.step_size=0"),
                             "optim.step_size=0 must be > 0"),
    "plateau factor 1": (plain("optim=sgd", "optim.schedule=plateau", "optim.gamma=1.0"),
                         "optim.schedule=plateau multiplies the lr by it, which must be < 1"),
    "zero decay factor": (plain("optim=sgd", "optim.gamma=0"), "optim.gamma=0.0 must be > 0"),
    "hidden size 0": (plain("model=mlp", "model.hidden_sizes=[16,0]"), "model.hidden_sizes=[16, 0]: every layer"),
    "negative hidden size": (plain("model=mlp", "model.hidden_sizes=[-3]"), "units >= 1 (not -3)"),
    "dropout of 1": (plain("model=mlp", "model.dropout=1.0"), "model.dropout=1.0 must be in [0, 1)"),
    "nesterov without momentum": (plain("optim=sgd", "optim.nesterov=true", "optim.momentum=0"),
                                  "optim.nesterov=true needs momentum"),
    "lbfgs line search": (plain("optim=lbfgs", "optim.line_search=armijo"),
                          "optim.line_search=armijo is not valid; choices: null, strong_wolfe"),
    "lbfgs history 0": (plain("optim=lbfgs", "optim.history_size=0"), "optim.history_size=0 must be > 0"),
    "NaN lr": (plain("optim=sgd", "optim.lr=nan"), "optim.lr=nan must be a finite number"),
    "NaN lr with Adam": (plain("optim=adam", "optim.lr=nan"), "optim.lr=nan must be a finite number"),
    "infinite lr": (plain("optim.lr=inf"), "optim.lr=inf must be a finite number"),
    "infinite strength": (plain("regularizer.strength=inf"), "regularizer.strength=inf must be a finite number"),
    "NaN C": (plain("model.C=nan"), "model.C=nan must be a finite number"),
    "NaN clip norm": (plain("optim=sgd", "trainer.gradient_clip_norm=nan"), "trainer.gradient_clip_norm=nan must be"),
    "-inf min_delta": (plain("trainer.early_stopping.min_delta=-inf"), "min_delta=-inf must be a finite number"),
    "negative min_delta": (plain("trainer.early_stopping.min_delta=-1"), "min_delta=-1.0 must be >= 0"),
    "negative min_rel_delta": (plain("trainer.early_stopping.min_rel_delta=-1e-4"), "min_rel_delta=-0.0001 must be >= 0"),
    "zero components": (plain("model=gmm", "data=blobs", "model.n_components=0"), "model.n_components=0 must be >= 1"),
    "negative covariance floor": (plain("model=gmm", "data=blobs", "model.reg_covar=-1e-6"),
                                  "model.reg_covar=-1e-06 must be >= 0"),
    "no synthetic rows": (plain("data=synthetic", "data.n_samples=0"), "data.n_samples=0 must be >= 1"),
    "unset environment variable": (plain("data=csv", "data.path=${oc.env:DERIVTRAIN_NO_SUCH_VAR}", "data.target=y"),
                                   "data.path=${oc.env:DERIVTRAIN_NO_SUCH_VAR} cannot be resolved"),
    "a flag derivtrain has not": (plain("--config-name=other"), "--config-name is not an option of python -m derivtrain"),
    # ---- files ----
    "gzip CSV": (binary_file(gzip.compress(GOOD_ROWS.encode())), "is gzip-compressed: decompress it first"),
    "binary CSV": (binary_file(b"a,b,label\n\x00\x01\x02\x03"), "is a binary file, not CSV text"),
    "npy given as CSV": (binary_file(b"\x93NUMPY\x01\x00v\x00"), "is a .npy array: read it with data=npy"),
    "zip given as CSV": (binary_file(b"PK\x03\x04rest"), "is a zip archive"),
    "Latin-1 header": (binary_file(LATIN1_HEADER), "line 1 is not UTF-8 text (byte 0xe9)"),
    "Latin-1 cell": (binary_file((GOOD_ROWS + "1,2,caf\xe9\n").encode("latin-1")), "line 32 is not UTF-8 text"),
    "empty target cell": (csv_case(GOOD_ROWS + "1,2,\n"), "data row 31 has an empty data.target=label cell"),
    "NaN target": (csv_case(REGRESSION_ROWS + "1,2,nan\n"), "data row 31 has data.target=label nan"),
    "infinite target": (csv_case(REGRESSION_ROWS + "1,2,-inf\n"), "data row 31 has data.target=label -inf"),
    "regression target beyond float32": (csv_case(REGRESSION_ROWS + "1,2,1e300\n", "model=linear"),
                                         "regression targets must be finite numbers within float32's range"),
    "feature beyond float32": (csv_case(GOOD_ROWS + "1e300,1,x\n"), "1e+300 is too large for float32"),
    "duplicate column names": (csv_case("a,a,label\n" + "".join(f"{i},{-i},{'x' if i % 2 else 'y'}\n"
                                                                  for i in range(30))),
                               "column 'a' appears 2 times in the header"),
    "only the target column": (csv_case("label\n" + "x\ny\n" * 15), "has no feature columns besides data.target"),
    "two rows": (csv_case("a,label\n1,x\n2,y\n"), "the test split would be empty; it needs at least 3 rows"),
    "too few rows for a large val split": (csv_case("a,label\n" + "1,x\n2,y\n" * 2, "data.val_size=0.6",
                                                    "data.test_size=0.25"), "too few for data.test_size=0.25"),
    "npz given as npy": (npy_case("npz"), "is a .npz archive (several arrays), not a .npy file"),
    "npz target": (npy_case(_features(), "npz"), "data.target="),
    "npy without rows": (npy_case(_features(empty=lambda X: X[:0])), "it needs at least one row and one feature"),
    "npy without columns": (npy_case(_features(empty=lambda X: X[:, :0])), "it needs at least one row and one feature"),
    # ---- run folders ----
    "++hydra.run.dir of an existing run": (into_an_existing_run("++hydra.run.dir={folder}"), "already holds a run"),
    "quoted hydra.run.dir of an existing run": (into_an_existing_run("hydra.run.dir='{folder}'"), "already holds a run"),
    "interpolated hydra.run.dir of an existing run": (into_an_existing_run("hydra.run.dir={root}/first"),
                                                      "already holds a run"),
    "a diverged run's folder": (into_a_diverged_run, "already holds a run"),
    "a folder with other files": (into_a_folder_with_files, "already holds files"),
    "a folder another process holds": (into_a_folder_in_use, "is in use by process"),
    "a run folder under /proc": (plain("hydra.run.dir=/proc/derivtrain-run"), "hydra.run.dir=/proc/derivtrain-run"),
    "resume a finished run in its own folder": (resume_a_finished_run_in_its_folder, "is a finished run"),
    "resume with another optimizer": (resume_with_another_optimizer, "optim.name was 'sgd' in the saved run"),
    "resume a bare tensor": (resume_a_bare_tensor, "it holds a Tensor, not a dict"),
}
if not torch.cuda.is_available():
    CASES["cuda without a GPU"] = (plain("trainer.device=cuda"), "no CUDA device")


def snapshot(folder) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_one_line(tmp_path, name):
    prepare, expected = CASES[name]
    args = prepare(tmp_path)
    if not any(a.lstrip("+").startswith("hydra.run.dir=") for a in args):
        args.append(f"hydra.run.dir={tmp_path / 'run'}")
    before = snapshot(tmp_path)
    proc = run_main(*args, cwd=tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("derivtrain: error: "), proc.stderr
    assert expected in lines[0], lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert snapshot(tmp_path) == before  # no run folder left behind, nothing that was there touched


def test_a_byte_order_mark_is_not_part_of_the_first_column_name(tmp_path):
    text = "label,a,b\n" + "".join(f"{'x' if i % 2 else 'y'},{i},{i % 3}\n" for i in range(30))
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    proc = run_main("data=csv", f"data.path={tmp_path / 'bom.csv'}", "data.target=label", "trainer.max_epochs=2",
                    "logger=none", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 0, proc.stderr
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)["spec"]["feature_names"] == ["a", "b"]


def test_a_failed_resume_without_a_folder_leaves_no_outputs_folder(tmp_path):
    proc = run_main(f"trainer.resume={tmp_path / 'nothing'}", cwd=tmp_path)
    assert proc.returncode == 2 and "no checkpoint at" in proc.stderr
    assert list(tmp_path.iterdir()) == []
