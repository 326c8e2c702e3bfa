"""python -m derivtrain.export: a run's model as ONNX or TorchScript, raw features in, checked
against load_run on the run's own test rows."""
import json
import warnings

import numpy as np
import pytest
import torch

import derivtrain
from derivtrain.data.bundled import load_bundled
from derivtrain.export import export, main


def held_out_rows(run, data="breast_cancer"):
    """The raw features of the run's test split (split.npz indexes the bundled table)."""
    return load_bundled(data).X[np.load(run.path / "split.npz")["test"]]


@pytest.fixture(scope="module")
def logistic_run(tmp_path_factory):
    return derivtrain.train("model=logistic", "logger=none", run_dir=tmp_path_factory.mktemp("export") / "run")


def test_onnx_gives_load_runs_scores_and_probabilities(logistic_run, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    path = export(logistic_run.path, "onnx", tmp_path / "model.onnx")
    session = ort.InferenceSession(str(path))
    X, model = held_out_rows(logistic_run), logistic_run.model
    scores, proba = session.run(["decision_function", "predict_proba"], {"X": X.astype(np.float64)})
    assert np.abs(scores - model.decision_function(X)).max() <= 1e-4
    assert np.abs(proba - model.predict_proba(X)).max() <= 1e-4
    meta = {k: json.loads(v) for k, v in session.get_modelmeta().custom_metadata_map.items()}
    assert meta["classes"] == [0, 1] and meta["n_features"] == 30 and meta["outputs"] == ["decision_function",
                                                                                         "predict_proba"]


@pytest.mark.parametrize("overrides, data", [(["model=svm", "data=iris"], "iris"), (["model=gmm", "data=iris"], "iris"),
                                             (["model=mlp", "data=wine", "trainer.max_epochs=20"], "wine")])
def test_onnx_multiclass_density_and_mlp(tmp_path, overrides, data):
    ort = pytest.importorskip("onnxruntime")
    run = derivtrain.train(*overrides, "logger=none", run_dir=tmp_path / "run")
    session = ort.InferenceSession(str(export(run.path)))
    X = held_out_rows(run, data)
    outputs = session.run(None, {"X": X.astype(np.float64)})
    assert np.abs(outputs[0] - run.model.decision_function(X)).max() <= 1e-4
    if hasattr(run.model, "predict_proba"):
        assert np.abs(outputs[1] - run.model.predict_proba(X)).max() <= 1e-4
    else:
        assert len(outputs) == 1  # the SVM: scores only


def test_torchscript_loads_without_derivtrain_classes(logistic_run, tmp_path):
    path = export(logistic_run.path, "torchscript", tmp_path / "model.pt")
    extra = {"derivtrain.json": ""}
    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript loading (README: ONNX is the default)
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = torch.jit.load(str(path), _extra_files=extra)
    X = held_out_rows(logistic_run)
    scores, proba = loaded(torch.as_tensor(X, dtype=torch.float64))
    np.testing.assert_allclose(scores.detach().numpy(), logistic_run.model.decision_function(X), atol=1e-5)
    assert json.loads(extra["derivtrain.json"])["task"] == "classification"


def test_command_line(logistic_run, tmp_path, capsys):
    main(["--help"])
    assert "format=onnx" in capsys.readouterr().out
    out = tmp_path / "model.pt"
    main([f"run={logistic_run.path}", "format=torchscript", f"out={out}"])
    assert capsys.readouterr().out.strip() == str(out) and out.is_file()
    before = out.read_bytes()
    for args, message in [([f"run={logistic_run.path}", "format=torchscript", f"out={out}"], "already exists"),
                          ([f"run={logistic_run.path}", "format=onx"], "did you mean onnx"),
                          ([f"run={tmp_path / 'nothing'}"], "does not exist"),
                          (["format=onnx"], "run=<run folder> is required")]:
        with pytest.raises(SystemExit) as exited:
            main(args)
        assert exited.value.code == 2 and message in capsys.readouterr().err
    assert out.read_bytes() == before  # nothing overwritten


@pytest.mark.parametrize("where", ["/proc", "/sys", "read-only", "another user's"])
def test_an_out_folder_that_refuses_files_is_one_line_and_exit_2(logistic_run, tmp_path, capsys, monkeypatch,
                                                                 where):
    import errno
    import os

    folder = tmp_path if where in ("read-only", "another user's") else where
    if folder == tmp_path:  # as those folders do (the tests run as root, who may write anywhere)
        code = errno.EROFS if where == "read-only" else errno.EACCES
        real_open = os.open

        def refusing(path, flags, *args, **kwargs):
            inside = str(path).startswith(str(tmp_path)) or kwargs.get("dir_fd") is not None  # writes.Folder's
            if inside and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                raise OSError(code, os.strerror(code), str(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", refusing)
    with pytest.raises(SystemExit) as exited:
        main([f"run={logistic_run.path}", "format=torchscript", f"out={folder}/model.pt"])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"derivtrain.export: error: out={folder}/model.pt cannot be written: {folder} refuses")
    assert not [p for p in tmp_path.iterdir()]


def test_onnx_standardizes_a_raw_offset_column_in_float64(tmp_path):
    """A raw 3e7 + N(0, 1) column: float64 in, centred before it is rounded, so the scores are
    load_run's (cast to float32 first, the column would keep a handful of values)."""
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(0)
    signal = rng.normal(size=300)
    X = np.c_[3e7 + signal, rng.normal(size=(300, 2))]
    y = (signal + 0.3 * rng.normal(size=300) > 0).astype(int)
    np.savetxt(tmp_path / "t.csv", np.c_[X, y], delimiter=",", header="a,b,c,label", comments="", fmt="%.17g")
    run = derivtrain.train("data=csv", f"data.path={tmp_path / 't.csv'}", "data.target=label", "model=logistic",
                           "logger=none", run_dir=tmp_path / "run")
    session = ort.InferenceSession(str(export(run.path)))
    (scores, _) = session.run(None, {"X": X})
    reference = run.model.decision_function(X)
    assert np.abs(scores - reference).max() <= 1e-4 * (1 + np.abs(reference).max())
    rows = np.load(run.path / "split.npz")["train"]
    Z = (X - X[rows].mean(axis=0)) / X[rows].std(axis=0)  # float64 statistics of the training rows
    w, b = (p.detach().double().numpy() for p in (run.model.linear.weight, run.model.linear.bias))
    # the quantized column alone would move the scores by ~|w_0| * 2 / std: far above this
    assert np.abs(scores - (Z @ w.ravel() + b[0])).max() <= 1e-4 * (1 + np.abs(reference).max())
