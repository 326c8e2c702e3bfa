"""What TensorBoard shows: curves first, one-off numbers in tables, a short HPARAMS row per run.

- Every scalar is a curve, filed under the run's task: `classification/train/loss`,
  `regression/val/r2`; after the task, the tag is metrics.json's name. Runs of different tasks
  (losses ~0.05 against ~3000) then never share a chart under `tensorboard --logdir outputs`.
- A custom-scalars layout per task answers "is it learning?": train and val loss on one chart,
  the task's metric, the learning rate, the gradient norm.
- A number measured once (test metrics, analysis results) is never a one-point chart: it goes in
  a markdown table in the Text tab, and test/* in the run's HPARAMS row. TensorBoard reads an
  HPARAMS *metric* only from a scalar series, so test/* are values of the row (beside the
  hyper-parameters) rather than HPARAMS metrics; the val/* curves are its metrics.
- HPARAMS: at most MAX_HPARAMS values: the choices of the groups that shape the model, the keys
  set on the command line (in a sweep these are the swept keys, as each job's overrides name
  them), a few keys that usually matter, then test/*. TensorBoard shows the first five columns,
  those that differ between runs first, then by name: for one run, data, loss, model, optim,
  optim.lr (logger, analysis and diagnostics change no model: they count only when set).
- Figures (sensitivity/<method>/...) and histograms (<task>/weights/...) sort after the curves,
  so Time Series opens on the curves.
"""
import re

VAL_METRIC = {"classification": "accuracy", "regression": "r2", "density": "log_likelihood"}
MAX_HPARAMS = 20
GROUPS = ("data", "model", "loss", "regularizer", "optim", "trainer")  # shape the model; always in the row
KEY_SETTINGS = ("optim.lr", "trainer.max_epochs", "trainer.batch_size", "regularizer.strength", "trainer.seed")
SPLIT_ORDER = ("test", "val", "train")


def curve_tag(task: str, name: str) -> str:
    return f"{task}/{name}"


def layout(task: str) -> dict:
    """The custom-scalars layout (SummaryWriter.add_custom_scalars) for a run of `task`. Layouts
    of several runs merge by category title, so runs of one task share these charts."""
    metric = VAL_METRIC.get(task, "loss")
    t = re.escape(task)
    return {f"{task}: is it learning?": {
        "loss: train, val (and the training objective)": [
            "Multiline", [rf"^{t}/(train|val)/loss$", rf"^{t}/train/objective$"]],
        f"{metric}: train, val": ["Multiline", [rf"^{t}/(train|val)/{metric}$"]],
        "learning rate": ["Multiline", [rf"^{t}/lr$"]],
        "gradient norm": ["Multiline", [rf"^{t}/grad_norm$"]],
    }}


def hparams(cfg, metrics: dict) -> dict:
    """The run's HPARAMS row: choices, command-line keys, key settings, then test/*; plain values."""
    tests = {k: metrics[k] for k in sorted(metrics) if k.startswith("test/") and _is_number(metrics[k])}
    choices, keys = _command_line(cfg)
    row = dict(choices)
    for key in (*keys, *KEY_SETTINGS):
        if key not in row and (value := _select(cfg, key)) is not _ABSENT:
            row[key] = value
    kept = list(row.items())[:MAX_HPARAMS - len(tests)]
    return {k: _plain(v) for k, v in (*kept, *tests.items())}


def results_markdown(metrics: dict, skip_prefixes=("analysis/",)) -> str:
    """A markdown table of final numbers, test first (analysis/* have their own table)."""
    def order(key):
        split = key.split("/", 1)[0]
        return (SPLIT_ORDER.index(split) if split in SPLIT_ORDER else len(SPLIT_ORDER), key)

    rows = [f"| {k} | {_format(metrics[k])} |" for k in sorted(metrics, key=order) if not k.startswith(skip_prefixes)]
    return "| metric | value |\n|---|---|\n" + "\n".join(rows)


_ABSENT = object()


def _command_line(cfg) -> tuple:
    """({group: option}, [keys set on the command line]) from Hydra; outside Hydra (a run
    composed in Python) the options' own names stand in for the choices."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {g: _option_name(cfg[g]) for g in GROUPS if g in cfg}, []
    hydra_cfg = HydraConfig.get()
    chosen = {g: o for g, o in hydra_cfg.runtime.choices.items()
              if o is not None and not g.startswith(("hydra/", "schema/"))}
    keys = [o.split("=", 1)[0].lstrip("+~") for o in hydra_cfg.overrides.task]
    choices = {g: chosen[g] for g in GROUPS if g in chosen}
    choices.update({g: chosen[g] for g in keys if g in chosen})  # logger=none, analysis=..., plugins' groups
    return choices, [k for k in keys if k not in chosen]


def _option_name(node) -> str:
    if not hasattr(node, "get"):
        return str(node)
    return str(node.get("name") or str(node.get("_target_", "?")).rsplit(".", 1)[-1])


def _select(cfg, key: str):
    from omegaconf import OmegaConf

    return OmegaConf.select(cfg, key, default=_ABSENT)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _plain(value):
    """TensorBoard's HPARAMS holds numbers, strings and booleans."""
    if isinstance(value, bool) or _is_number(value):
        return value
    if value is None:
        return "null"
    return str(value)


def _format(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
