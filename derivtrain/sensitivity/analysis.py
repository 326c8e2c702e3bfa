"""The `analysis` step of a run: explain the test split, write attributions/, return metrics.

    analysis = make_analysis(cfg.analysis, model, data.spec)    # before training: checks
    metrics.update(analysis(model, data.test, run_dir / "attributions", logger, root=run_dir))

attributions/ holds <method>.npz per method (per-row attributions, inputs, targets, ...) and
importance.csv (one row per method and feature). The metrics are analysis/* keys for metrics.json.
"""
import time
from pathlib import Path

import numpy as np
import torch

from derivtrain.config.schemas.analysis import TARGETS, methods_of
from derivtrain.errors import ConfigError, choice_error
from derivtrain.logging import log
from derivtrain.logging.dashboard import analysis_text, results_markdown
from derivtrain.sensitivity.explained import ClassScores
from derivtrain.writes import Folder

# a completeness gap above this fraction of the explained score change is worth a warning
_LARGE_GAP = 1e-2


def make_analysis(cfg, model, spec):
    """The analysis the config asks for, checked against the data and the untrained model now,
    so that a mistake stops the run before training rather than after it."""
    methods = methods_of(cfg)
    if not methods:
        return NoAnalysis()
    check_against_data(cfg, spec)
    check_integration(cfg, model)
    if "deeplift" in methods or ("noise_tunnel" in methods and cfg.base == "deeplift"):
        from derivtrain.sensitivity.deeplift_check import check_deeplift

        check_deeplift(ClassScores(model), spec.n_features, model.feature_mean.device, cfg.seed)
    return Analysis(cfg, methods, spec)


def check_integration(cfg, model) -> None:
    """analysis.integration=exact_piecewise needs a piecewise-linear model (checked before training)."""
    if "integrated_gradients" not in methods_of(cfg) or "integration" not in cfg:
        return
    from derivtrain.sensitivity.integrated_gradients import resolve_integration

    try:
        resolve_integration(model, cfg.integration, key="analysis.integration")
    except ValueError as error:
        raise ConfigError(str(error)) from None


def check_against_data(cfg, spec) -> None:
    """Checks that need the data: the class label a target names, the baseline's length."""
    target = cfg.target
    if spec.task == "regression" and target != "predicted":
        raise ConfigError(f"analysis.target={target}: a regression model has one output; use analysis.target=predicted")
    if target not in TARGETS and spec.task == "classification":
        if str(target) not in map(str, spec.classes):
            raise choice_error("analysis.target", target, TARGETS + tuple(map(str, spec.classes)))
    if not isinstance(cfg.baseline, str) and len(cfg.baseline) != spec.n_features:
        raise ConfigError(f"analysis.baseline has {len(cfg.baseline)} values but the data has {spec.n_features} "
                          f"features ({', '.join(spec.feature_names[:5])}{', ...' if spec.n_features > 5 else ''})")


class NoAnalysis:
    """analysis=none: nothing imported, nothing written."""

    def __call__(self, model, split, out_dir, logger, root=None) -> dict:
        return {}


class Analysis:
    def __init__(self, cfg, methods: list, spec):
        self.cfg, self.methods, self.spec = cfg, methods, spec
        self.baseline = cfg.baseline if isinstance(cfg.baseline, str) else [float(v) for v in cfg.baseline]

    def __call__(self, model, split, out_dir, logger, root=None) -> dict:
        """Writes into `out_dir`, made under `root` (default: itself) without following a link."""
        from derivtrain.sensitivity.importance import Importance, rank_agreement, write_importance_csv
        from derivtrain.sensitivity.methods import attribute, options_of
        from derivtrain.sensitivity.sanity import compare_maps, randomized_copy

        cfg, out_dir = self.cfg, Path(out_dir)
        n = len(split) if cfg.max_samples is None else min(len(split), cfg.max_samples)
        X, y = split.X[:n], split.y[:n]  # the test split is shuffled: its first rows are a random sample
        with Folder.at(out_dir, root) as out:
            randomized = randomized_copy(model, cfg.seed) if cfg.sanity_check else None
            metrics, tables = {"analysis/n_samples": n}, {}
            for method in self.methods:
                options = {k: cfg[k] for k in options_of(method) if k in cfg}
                start = time.perf_counter()
                result = attribute(model, X, method, target=cfg.target, y=y, baseline=self.baseline, **options)
                seconds = time.perf_counter() - start
                values = result.values.cpu().double().numpy()
                tables[method] = table = Importance.of(values, self.spec.feature_names)
                metrics.update(self._delta_metrics(model, X, result))
                extra = {}
                if randomized is not None:
                    again = attribute(randomized, X, method, target=result.targets if result.targets is not None
                                      else "predicted", y=y, baseline=self.baseline, **options)
                    sanity = compare_maps(values, again.values.cpu().double().numpy(), cfg.sanity_threshold)
                    metrics[f"analysis/sanity/{method}/rank_corr"] = sanity.rank_correlation
                    metrics[f"analysis/sanity/{method}/flagged"] = sanity.flagged
                    extra["random_model_attributions"] = sanity.random_values.astype(np.float32)
                    if sanity.flagged:
                        log.warning("sanity check: %s barely changes when the model's weights are randomized "
                                    "(rank correlation %.2f >= %.2f): its map reflects the input more than the model",
                                    method, sanity.rank_correlation, cfg.sanity_threshold)
                with out.replacing(f"{method}.npz", "wb") as f:
                    self._save(f, result, X, y, extra)
                log.info("analysis %s: %d rows in %.2f s; most important: %s", method, n, seconds,
                         ", ".join(table.top(5)))
                self._log_figures(logger, method, table, values, result.targets)
            with out.replacing("importance.csv") as f:
                write_importance_csv(f, tables)
        if len(tables) > 1:
            metrics.update({f"analysis/rank_agreement/{k}": v for k, v in rank_agreement(tables).items()})
        # numbers measured once: a table in the Text tab, not one-point charts
        logger.log_text(analysis_text("metrics"), results_markdown(metrics, skip_prefixes=()))
        return metrics

    def _delta_metrics(self, model, X, result) -> dict:
        """analysis/ig_max_abs_delta (or deeplift_...): the worst completeness gap over the rows."""
        if result.delta is None:
            return {}
        worst = result.delta.abs().max().item()
        name = {"integrated_gradients": "ig", "deeplift": "deeplift"}[result.method]
        with torch.no_grad():
            forward = ClassScores(model).eval()
            change = (forward(X) - forward(result.baseline))
            change = change if result.targets is None else change.gather(1, result.targets[:, None]).squeeze(1)
        if worst > _LARGE_GAP * max(change.abs().max().item(), 1e-12):
            remedy = ("raise analysis.n_steps for a closer integral" if name == "ig" else
                      "the model has nonlinearities DeepLift's rules do not cover")
            log.warning("analysis %s: attributions miss s(x) - s(baseline) by up to %.3g; %s",
                        result.method, worst, remedy)
        return {f"analysis/{name}_max_abs_delta": worst}

    def _save(self, file, result, X, y, extra) -> None:
        arrays = dict(attributions=result.values.cpu().float().numpy(), inputs=X.cpu().float().numpy(),
                      labels=y.cpu().numpy(), feature_names=np.asarray(self.spec.feature_names),
                      space=np.asarray("standardized"), **extra)
        if result.targets is not None:
            arrays["targets"] = result.targets.cpu().numpy()
        if result.delta is not None:
            arrays["delta"] = result.delta.cpu().float().numpy()
        if result.baseline is not None:
            arrays["baseline"] = result.baseline.reshape(-1).cpu().float().numpy()
        np.savez(file, **arrays)

    def _log_figures(self, logger, method, table, values, targets) -> None:
        import derivtrain.sensitivity.figures as figures

        # sensitivity/...: after the task's curves in TensorBoard's Time Series (logging/dashboard.py)
        logger.log_figure(f"sensitivity/{method}/importance", lambda: figures.importance_figure(method, table))
        grid = figures.image_grid(self.spec.feature_names)
        if grid is not None and targets is not None:
            names = [str(c) for c in self.spec.classes]
            logger.log_figure(f"sensitivity/{method}/class_heatmaps", lambda: figures.class_heatmaps_figure(
                method, values, targets.cpu().numpy(), names, grid))
        rows = "\n".join(f"| {int(table.rank[i])} | {table.features[i]} | {table.importance[i]:.4g} | "
                         f"{table.signed_mean[i]:.4g} |" for i in np.argsort(table.rank)[:20])
        logger.log_text(analysis_text(method), "| rank | feature | importance | signed mean |\n|---|---|---|---|\n" + rows)
