"""A checkpoint, checked before anything in it is used: a run folder is data, never code.

`torch.load(weights_only=True)` (trainer/checkpoint.py) already refuses pickled objects. What it
lets through is plain data, and plain data can still name code: a config node
`{_target_: os.system, command: ...}` runs it when handed to hydra's instantiate. So nothing here
instantiates what the file names. The checkpoint records the option names its run chose
(`options`: model=svm, data=iris, ...); the code comes from derivtrain's and the installed plugins'
option files (derivtrain/registry.py), and a file whose config names other code, or hides another
`_target_` (or `_partial_`, an interpolation ...) anywhere, is refused in one line.
"""
from dataclasses import dataclass
from pathlib import Path

import torch

from derivtrain.data.table import DataSpec, generated_names
from derivtrain.errors import UserError
from derivtrain.models.base import FLOAT64_STATISTICS, TARGET_STATISTICS
from derivtrain.registry import CODE_GROUPS, option_target

TASKS = ("classification", "regression", "density")


@dataclass
class SavedRun:
    """A checked checkpoint: its raw state, its config (plain data, every named code checked),
    the option names and the data spec."""

    state: dict
    config: dict
    options: dict
    spec: DataSpec
    source: str


def read_saved_run(path) -> SavedRun:
    """load_checkpoint(path), then every check below; UserError naming the file and what is wrong."""
    from derivtrain.trainer.checkpoint import load_checkpoint

    _check_fits(path)
    state = load_checkpoint(path)
    source = str(path)
    check_state(state, source)
    options = state.get("options")
    if not isinstance(options, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in options.items()):
        raise UserError(f"{source} records no option names (model=..., data=...), so nothing in it can be rebuilt "
                        "safely; it was not written by this derivtrain: train the run again")
    config = state["config"]
    check_config(config, options, source)
    weights_held = sum(v.numel() for v in state["model"].values())
    saved = SavedRun(state, config, options, spec_of(state["spec"], source, weights_held), source)
    check_shapes(saved)
    return saved


def _check_fits(path) -> None:
    """torch.load reads every tensor of the file into memory (it checks each tensor's declared size
    against its record's bytes itself): the file, or a folder's last.pt, must fit in memory."""
    from derivtrain.data.sizes import check_fits

    path = Path(path)
    file = path / "checkpoints" / "last.pt" if path.is_dir() else path
    if file.is_file():
        check_fits(file.stat().st_size, f"the checkpoint {file}")


def check_state(state, source: str) -> None:
    """The keys every derivtrain checkpoint has, with the types they have."""
    if not isinstance(state, dict):
        raise UserError(f"{source} is not a derivtrain checkpoint: it holds a {type(state).__name__}, not a dict")
    model = state.get("model")
    if not isinstance(model, dict) or not model:
        raise UserError(f"{source} is not a derivtrain checkpoint: it holds no model weights ('model')")
    if not all(isinstance(k, str) and torch.is_tensor(v) for k, v in model.items()):
        raise UserError(f"{source}: its model weights ('model') must map names to tensors")
    if not isinstance(state.get("config"), dict):
        raise UserError(f"{source} is not a derivtrain checkpoint: it holds no run config ('config')")
    if not isinstance(state.get("spec"), dict):
        raise UserError(f"{source} is not a derivtrain checkpoint: it holds no data description ('spec')")
    for key in ("epoch", "step"):
        if key in state and not (isinstance(state[key], int) and state[key] >= 0):
            raise UserError(f"{source}: '{key}' must be a whole number >= 0, not {state[key]!r}")
    link = state.get("probability_link")
    if link is not None and link != "logistic":
        raise UserError(f"{source}: probability_link={link!r} is not one derivtrain writes (logistic or none)")


def spec_of(raw: dict, source: str, weights_held: int) -> DataSpec:
    fields = {"task", "n_features", "classes", "feature_names"}
    if set(raw) - fields or not {"task", "n_features"} <= set(raw):
        raise UserError(f"{source}: its data description ('spec') must have the keys {sorted(fields)}")
    ok = (raw["task"] in TASKS and isinstance(raw["n_features"], int) and raw["n_features"] >= 1
          and isinstance(raw.get("classes", []), list) and isinstance(raw.get("feature_names", []), list)
          and all(isinstance(c, (int, float, str, bool)) for c in raw.get("classes", []))
          and all(isinstance(n, str) for n in raw.get("feature_names", [])))
    if not ok:
        raise UserError(f"{source}: its data description ('spec') is not one derivtrain writes: {raw}")
    names = raw.get("feature_names")
    if not names:  # left out when generated (DataSpec.to_dict): made again, for as many weights as the file holds
        if raw["n_features"] > weights_held:
            raise UserError(f"{source}: its data description says n_features={raw['n_features']}, more than the "
                            f"{weights_held} numbers of its model weights")
        names = generated_names(raw["n_features"])
    return DataSpec(**{**raw, "feature_names": names})


def check_config(config: dict, options: dict, source: str) -> None:
    """Plain data only; the code of each code group is the code its recorded option names."""
    _check_plain(config, (), source)
    for group in CODE_GROUPS:
        node = config.get(group)
        if not isinstance(node, dict) or "_target_" not in node:
            continue
        if group not in options:
            raise UserError(f"{source} records no {group} option for its {group}._target_={node['_target_']!r}")
        expected = option_target(group, options[group], source)
        if node["_target_"] != expected:
            raise UserError(f"{source}: {group}._target_={node['_target_']!r} is not the code of "
                            f"{group}={options[group]} ({expected}); a run folder is data: only derivtrain's "
                            "options and installed plugins are rebuilt from it")


def _check_plain(value, path: tuple, source: str) -> None:
    where = ".".join(map(str, path)) or "config"
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise UserError(f"{source}: config key {key!r} under {where} is not a string")
            code_key = key == "_target_" and len(path) == 1 and path[0] in CODE_GROUPS
            if key.startswith("_") and not code_key:
                raise UserError(f"{source}: config key {where}.{key} is not plain data "
                                "(a run folder is data: it may name no code)")
            _check_plain(item, (*path, key), source)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, (*path, i), source)
    elif isinstance(value, str):
        if "${" in value:
            raise UserError(f"{source}: {where}={value!r} is an interpolation; a saved config holds values only")
    elif value is not None and not isinstance(value, (bool, int, float)):
        raise UserError(f"{source}: {where} holds a {type(value).__name__}, not a config value")


def trusted_config(saved: SavedRun):
    """The saved config as an OmegaConf node (safe: every check above passed)."""
    from omegaconf import OmegaConf

    return OmegaConf.create(saved.config)


def build_model(saved: SavedRun):
    """The model the checkpoint's options name, with its saved keys and weights, on the CPU."""
    make, what = _model_maker(saved)
    model = make()
    # the weights' own dtype (float64 for a linear model the certified solver fitted on the CPU):
    # loading them into float32 parameters would round what was certified
    weights = with_target_statistics(saved.state["model"])
    dtypes = {t.dtype for k, t in weights.items() if t.is_floating_point() and k not in FLOAT64_STATISTICS}
    if dtypes == {torch.float64}:
        model.to(torch.float64)
    load_weights(model, weights, what)
    return model


def check_shapes(saved: SavedRun) -> None:
    """The saved tensors' shapes against the model the saved config describes, before any model is
    built: a 284 KB checkpoint whose config says hidden_sizes=[30000,30000] would otherwise build
    3.8 GB of weights (10 s) to find they do not fit. The model is made on torch's meta device
    (shapes, no storage: well under a millisecond). A plugin model that cannot be made there is
    checked when it is built, as before."""
    make, what = _model_maker(saved)
    try:
        with torch.device("meta"):
            model = make()
    except UserError:
        raise
    except Exception:  # noqa: BLE001 - code that needs real tensors to build (a plugin's)
        return
    check_weights(model, with_target_statistics(saved.state["model"]), what)


def with_target_statistics(weights: dict) -> dict:
    """A checkpoint written before models kept their targets' mean and scale (derivtrain 0.2) was
    fitted on the targets as given: mean 0, scale 1, which is what it gets."""
    missing = [k for k in TARGET_STATISTICS if k not in weights]
    if not missing or "feature_mean" not in weights:
        return weights
    defaults = {"target_mean": torch.zeros((), dtype=torch.float64), "target_scale": torch.ones((), dtype=torch.float64)}
    return {**weights, **{k: defaults[k] for k in missing}}


def check_same_targets(weights: dict, data, source) -> None:
    """A resumed fit goes on in the units it started in: the checkpoint's target mean and scale must
    be what this data gives (a run saved before targets were scaled was fitted on them as given)."""
    saved = (float(weights["target_mean"]), float(weights["target_scale"]))
    if saved != (data.target_mean, data.target_scale):
        raise UserError(f"trainer.resume={source} was fitted on targets centred by {saved[0]:.6g} and scaled by "
                        f"{saved[1]:.6g}, this run's are {data.target_mean:.6g} and {data.target_scale:.6g} (a run "
                        "saved by an older derivtrain fitted its targets as given); start a new run instead")


def _model_maker(saved: SavedRun):
    """(a function that makes the model the checkpoint's options name with its saved keys, the
    words that name it in errors)."""
    from hydra.utils import get_object

    from derivtrain.config.signature import check_target

    node = dict(saved.config.get("model") or {})
    name = saved.options.get("model")
    if name is None:
        raise UserError(f"{saved.source} records no model option (model=...)")
    target = option_target("model", name, saved.source)
    node["_target_"] = target
    check_target(node, "model", supplied=("spec",))  # unknown or mistyped keys: a clear ConfigError
    kwargs = {k: v for k, v in node.items() if k != "_target_"}
    return (lambda: get_object(target)(spec=saved.spec, **kwargs)), f"{saved.source} (model={name})"


def load_weights(model, weights: dict, what: str) -> None:
    """model.load_state_dict, with a mismatch (other layers, other shapes) said in one line."""
    check_weights(model, weights, what)
    model.load_state_dict(weights)


def check_weights(model, weights: dict, what: str) -> None:
    """UserError unless `weights` has exactly the model's tensors, with their shapes."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise UserError(f"{what}: the saved weights do not fit this model (missing {missing[:3]}, "
                        f"unexpected {unexpected[:3]})")
    for key, tensor in expected.items():
        if tuple(weights[key].shape) != tuple(tensor.shape):
            raise UserError(f"{what}: the saved {key} has shape {tuple(weights[key].shape)}, this model's "
                            f"{tuple(tensor.shape)}")


def run_folder_of(path) -> Path | None:
    """The run folder a checkpoint path belongs to (a folder, or <run>/checkpoints/<file>.pt)."""
    path = Path(path)
    if path.is_dir():
        return path
    if path.parent.name == "checkpoints":
        return path.parent.parent
    return None
