"""What TensorBoard shows: "is it learning?" first, one-off numbers in tables, a short HPARAMS row.

- Time Series groups cards by a tag's first part and sorts them by tag (TensorBoard's
  compareTagNames: "/" before any letter, so `classification/...` precedes `classification.more/...`).
  The groups of a run of task `<task>`, in the order they open:
    `<task>/`         train and val loss and the task's metric (VAL_METRIC): `classification/train/loss`
    `<task>.more/`    every other train/val curve: `train/objective`, `train/optimality_gap`, `val/f1_macro`
    `<task>.solver/`  the fitter's internals: `lr`, `grad_norm`, `certified/complementarity`,
                      `newton/step_size`, `diagnostics/hessian_top_eigenvalue`, `em/log_likelihood/init_0`
    `<task>.weights/` weight and gradient histograms
    `<task>.path/`    a regularization path's curves, x = the point (strongest first): its metric,
                      non-zero count, gap and log10 strength; its figures are `path/coefficients`,
                      `path/validation`, `path/non_zeros` (derivtrain/path/pictures.py)
  After the group, the tag is metrics.json's name (the names in metrics.json never change). Runs of
  different tasks (losses ~0.05 against ~3000) never share a chart under `tensorboard --logdir outputs`.
- Custom Scalars ("<task>: is it learning?"): train and val loss with the objective, the task's
  metric, the optimality gap, the learning rate, the gradient norm, each only once the run has
  logged a curve it draws: a certified run gets no learning-rate chart.
- A number measured once (test metrics, analysis results) is never a one-point chart: it goes in
  a markdown table in the Text tab. TensorBoard reads an HPARAMS *metric* only from a scalar
  series, so the run's curves (val/* among them, their last value) are its metrics.
- HPARAMS: at most MAX_HPARAMS values: the choices of the groups that shape the model, the keys
  set on the command line (in a sweep these are the swept keys, as each job's overrides name
  them), a few keys that usually matter; no test/* (they would differ between every two runs and
  push the swept keys out of the five columns TensorBoard shows, which are those that differ
  between runs first, then by name; for one run: data, loss, model, optim, optim.lr).
  logger, analysis and diagnostics change no model: they count only when set.
- Figures (sensitivity/<method>/...) sort after the curves.
- The Text tab groups tags by their first part, in TensorBoard's tag order: `results` (the final
  numbers) first, then `results/analysis/...` (the sensitivity tables), then `run/config`
  ("results" < "run": the numbers open before the config a user already knows).
"""
import re

VAL_METRIC = {"classification": "accuracy", "regression": "r2", "density": "log_likelihood"}
MAX_HPARAMS = 20
GROUPS = ("data", "model", "loss", "regularizer", "optim", "trainer")  # shape the model; always in the row
KEY_SETTINGS = ("optim.lr", "trainer.max_epochs", "trainer.batch_size", "regularizer.strength", "trainer.seed")
SPLIT_ORDER = ("test", "val", "train")
RESULTS_TEXT = "results"
CONFIG_TEXT = "run/config"


def analysis_text(name: str) -> str:
    """The Text tab tag of an analysis table (`metrics` or a method's ranking): under `results`."""
    return f"{RESULTS_TEXT}/analysis/{name}"


def curve_tag(task: str, name: str) -> str:
    """The Time Series tag of the curve metrics.json (or a fitter) calls `name` ("" task: `name`)."""
    if not task:
        return name
    split, _, metric = name.partition("/")
    if split == "path":  # a regularization path's curves, one point per strength (derivtrain/path/pictures.py)
        return f"{task}.path/{metric}"
    if split not in ("train", "val"):
        return f"{task}.solver/{name}"
    if metric in ("loss", VAL_METRIC.get(task, "loss")):
        return f"{task}/{name}"
    return f"{task}.more/{name}"


def histogram_tag(task: str, name: str) -> str:
    return f"{task}.weights/{name}" if task else f"weights/{name}"


def layout(task: str, tags=None) -> dict:
    """The custom-scalars layout (SummaryWriter.add_custom_scalars) for a run of `task`: the charts
    that draw at least one of `tags` (None: all), each titled by what it draws. Layouts of several
    runs merge by category title, so runs of one task share these charts."""
    metric = VAL_METRIC.get(task, "loss")
    t = re.escape(task)
    charts = {
        "loss": [rf"^{t}/(train|val)/loss$", rf"^{t}\.more/train/objective$"],
        metric: [rf"^{t}/(train|val)/{metric}$"],
        "optimality gap (an upper bound, relative)": [rf"^{t}\.more/train/optimality_gap$"],
        "learning rate": [rf"^{t}\.solver/lr$"],
        "gradient norm": [rf"^{t}\.solver/grad_norm$"],
    }
    shown, tags = {}, _all_curves(task) if tags is None else tags
    for title, patterns in charts.items():
        drawn = [tag for tag in tags if any(re.match(r, tag) for r in patterns)]
        if drawn:
            shown[_titled(title, drawn, task)] = ["Multiline", patterns]
    return {f"{task}: is it learning?": shown}


def _all_curves(task: str) -> list:
    metric = VAL_METRIC.get(task, "loss")
    names = ("train/loss", "val/loss", "train/objective", f"train/{metric}", f"val/{metric}", "train/optimality_gap",
             "lr", "grad_norm")
    return [curve_tag(task, name) for name in names]


def _titled(title: str, drawn: list, task: str) -> str:
    """A loss or metric chart's title names the splits it draws ("accuracy: val" for a solver
    that validates but measures no training accuracy)."""
    if title in ("loss", VAL_METRIC.get(task, "loss")):
        splits = [split for split in ("train", "val") if any(tag.endswith(f"/{split}/{title}") for tag in drawn)]
        objective = " (and the training objective)" if any(tag.endswith("/train/objective") for tag in drawn) else ""
        title = f"{title}: {', '.join(splits) or 'training objective'}{objective if splits else ''}"
    return title


def hparams(cfg) -> dict:
    """The run's HPARAMS row: choices, command-line keys, key settings; plain values. Its metrics
    are the run's curves (TensorBoard reads them from the scalars)."""
    choices, keys = _command_line(cfg)
    row = dict(choices)
    for key in (*keys, *KEY_SETTINGS):
        if key not in row and (value := _select(cfg, key)) is not _ABSENT:
            row[key] = value
    return {k: _plain(v) for k, v in list(row.items())[:MAX_HPARAMS]}


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
