"""python -m derivtrain.export run=<run folder> format=onnx|torchscript out=<file>

The trained model of a run folder as one self-contained graph for serving without derivtrain:
its input is raw features (float64, shape (n_samples, n_features)); the standardization fitted on
the training rows is part of the graph, computed in float64 before the features are rounded to the
weights' float32, so callers do exactly what they do with load_run's model.

    outputs           what it is                                        load_run(...) equivalent
    decision_function scores: one per row (binary, regression) or       model.decision_function(X)
                      one per class; density models: log p(x)
    predict_proba     class probabilities (models trained with           model.predict_proba(X)
                      cross-entropy); density models: responsibilities

The file also says what the outputs mean (ONNX metadata_props / a TorchScript extra file
`derivtrain.json`): the classes in score order, the feature names, the task. ONNX needs the
`onnx` package (pip install 'derivtrain[export]'); onnxruntime runs the file anywhere.
"""
import errno
import json
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from derivtrain.errors import ConfigError, UserError, choice_error, did_you_mean
from derivtrain.writes import Folder

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
KEYS = ("run", "format", "out")
OPSET = 17

USAGE = __doc__.split("\n\nThe file also says")[0] + """

  run=<folder>     a run folder (or its checkpoints/last.pt)
  format=onnx      onnx (default) | torchscript
  out=<file>       where to write; default <run folder>/model.onnx (model.pt); an existing file is never overwritten
"""


class RawFeatureModel(nn.Module):
    """A trained model with its standardization in front: raw features in, the estimator API's
    numbers out (decision_function, and predict_proba where the model has it)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.dtype = model.weight_dtype
        self.density = hasattr(model, "log_joint")
        self.probabilities = self.density or (model.probability_link is not None and bool(model.classes_))
        # a mixture's parameter-only terms, computed here once: the graph holds their values (and
        # not the ops that build them from unconstrained parameters, some of which ONNX lacks)
        self.terms = None
        if hasattr(model, "density_terms"):
            with torch.no_grad():
                self.terms = tuple(t.detach() for t in model.density_terms())

    def forward(self, X: torch.Tensor):
        # raw float64 features centred in float64, then rounded: a raw 3e7 + N(0, 1) column cast to
        # float32 first would reach the model quantized (and its scores not even linear in it)
        Z = ((X.to(torch.float64) - self.model.feature_mean) / self.model.feature_scale).to(self.dtype)
        if self.density:
            joint = self.model.log_joint(Z) if self.terms is None else self.model.log_joint(Z, self.terms)
            return (torch.logsumexp(joint, dim=0) + self.model.log_det_jacobian(),
                    torch.softmax(joint, dim=0).T)
        scores = self.model(Z)
        if not self.probabilities:  # a regression model's scores in the data's units, float64
            return self.model.in_target_units(scores)
        if scores.dim() == 1:
            p1 = torch.sigmoid(scores)
            return scores, torch.stack([1 - p1, p1], dim=1)
        return scores, torch.softmax(scores, dim=1)

    def output_names(self) -> list:
        return ["decision_function", "predict_proba"] if self.probabilities else ["decision_function"]

    def description(self) -> dict:
        spec = self.model.spec
        return {"derivtrain_version": _version(), "task": spec.task, "classes": list(self.model.classes_),
                "feature_names": list(spec.feature_names), "n_features": spec.n_features,
                "input": "X: raw features, float64, (n_samples, n_features)", "outputs": self.output_names()}


def export(run, format: str = "onnx", out=None) -> Path:
    """Write the run's model as `format` to `out` (default: beside the checkpoint); returns the path."""
    from derivtrain.api import load_run

    if format not in FORMATS:
        raise choice_error("format", format, FORMATS)
    run = Path(run)
    if not run.exists():
        raise UserError(f"run={run} does not exist; give a run folder (it holds checkpoints/last.pt)")
    folder = run if run.is_dir() else run.parent.parent
    out = Path(out) if out is not None else folder / f"model{FORMATS[format]}"
    if out.exists() or out.is_symlink():
        raise UserError(f"out={out} already exists; pick a new file name (nothing is overwritten)")
    if not out.parent.is_dir():
        raise UserError(f"out={out}: the folder {out.parent} does not exist; create it or pick another")
    wrapper = RawFeatureModel(load_run(run).float()).eval()
    example = torch.zeros(2, wrapper.model.spec.n_features, dtype=torch.float64)
    write = _write_onnx if format == "onnx" else _write_torchscript
    # the exporters write to a path: a private temporary folder (mode 0700, new), whose file is then
    # copied into `out`'s folder as a new file and renamed (a failed export leaves no partial file,
    # a link planted at `out` is refused: derivtrain/writes.py)
    with tempfile.TemporaryDirectory(prefix="derivtrain-export-") as private:
        tmp = Path(private) / out.name
        write(wrapper, example, tmp)
        with Folder(out.parent) as folder, folder.replacing(out.name, "wb") as f, open(tmp, "rb") as written:
            shutil.copyfileobj(written, f)
    return out


def _write_onnx(wrapper: RawFeatureModel, example: torch.Tensor, path: Path) -> None:
    try:
        import onnx
    except ImportError:
        raise UserError("format=onnx needs the onnx package: pip install 'derivtrain[export]' "
                        "(or format=torchscript)") from None
    names = wrapper.output_names()
    rows = {0: "n_samples"}
    with warnings.catch_warnings(), torch.no_grad():
        # torch's TorchScript-based exporter: exports these models exactly and needs no extra
        # package (the torch.export-based one needs onnxscript); torch calls it deprecated
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (example,), str(path), dynamo=False, input_names=["X"], output_names=names,
                          dynamic_axes={"X": rows, **{n: rows for n in names}}, opset_version=OPSET)
    proto = onnx.load(str(path))
    for key, value in wrapper.description().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def _write_torchscript(wrapper: RawFeatureModel, example: torch.Tensor, path: Path) -> None:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch calls TorchScript deprecated; the format is what was asked for
        traced = torch.jit.trace(wrapper, example, check_trace=False)
    traced.save(str(path), _extra_files={"derivtrain.json": json.dumps(wrapper.description())})


def _version() -> str:
    from derivtrain import __version__

    return __version__


def parse(args) -> dict:
    """`key=value` arguments -> export()'s keyword arguments."""
    options = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or key not in KEYS:
            raise ConfigError(f"{arg}: not an export setting; {did_you_mean(key, KEYS, 'settings')} "
                              "(python -m derivtrain.export --help)")
        options[key] = value
    if "run" not in options:
        raise ConfigError("run=<run folder> is required: the folder a training run wrote "
                          "(python -m derivtrain.export --help)")
    return options


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help", "help") for a in argv):
        print(USAGE)
        return
    options = {}
    try:
        options = parse(argv)
        path = export(**options)
    except UserError as exc:
        print(f"derivtrain.export: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:  # a folder that refuses the file: read-only, /proc, another user's
        print(f"derivtrain.export: error: {_os_error(exc, options.get('out'))}", file=sys.stderr)
        sys.exit(1 if exc.errno in (errno.ENOSPC, errno.EDQUOT) else 2)
    print(path)


def _os_error(exc: OSError, out) -> str:
    """One line for an OSError: the file and the system's reason, and what to do when it is `out`'s."""
    if out is not None and exc.filename and Path(exc.filename).parent == Path(out).parent:
        return (f"out={out} cannot be written: {Path(out).parent} refuses new files ({exc.strerror or exc}); "
                "pick a folder you can write to")
    return f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)


if __name__ == "__main__":
    main()
