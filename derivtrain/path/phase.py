"""fit_path: the fit phase of a run with regularizer.path (derivtrain/run.py calls it instead of
the fitter optim names).

    strengths   the grid (derivtrain/path/grid.py)
    folds       under data.cv_folds=K: each fold's path, scored on its validation rows
    path        the path on the run's training rows (train+val under CV), its points certified
    choose      the strength by the validation metric (regularizer.path_rule: min or 1se)
    finish      the model at the chosen point: the run's checkpoint, metrics, test once (report)

path.csv and the TensorBoard pictures hold every point; metrics.json adds path/strength (the
chosen one), path/points, path/not_converged and path/score (the metric that chose it).
"""
from derivtrain.logging import log
from derivtrain.path.choose import choose
from derivtrain.path.folds import cross_validate
from derivtrain.path.grid import l1_ratio, path_strengths, strength_unit
from derivtrain.path.pictures import draw_path
from derivtrain.path.solve import set_point, solve_path
from derivtrain.path.table import path_csv
from derivtrain.sweep.selection import direction, monitored_key
from derivtrain.trainer.fitting import FitResult, finish
from derivtrain.writes import write_text


def fit_path(ctx, cfg, run_dir=None):
    """Solve, choose, finish (see the module docstring); run_dir=None writes no path.csv."""
    unit = strength_unit(ctx.objective, float(cfg.regularizer.strength))  # before any point moves it
    strengths = path_strengths(cfg.regularizer, ctx.objective, ctx.data, unit)
    monitor, mode = _monitor(cfg)
    key_of = _key_reader(monitor)
    folds = int(cfg.data.get("cv_folds") or 0)
    scores = None
    if folds:
        scores, key, _ = cross_validate(ctx, strengths, folds, cfg.trainer.seed, key_of, unit=unit)
    points = solve_path(ctx, strengths, unit)
    if not folds:
        key = key_of(points[0].metrics)
        scores = [[p.metrics[key] for p in points]]
    choice = choose(scores, direction(key, mode) == "max", cfg.regularizer.path_rule)
    _say_not_converged(points)
    if run_dir is not None:
        write_text(run_dir, "path.csv", path_csv(points, choice, key, folds, ctx.data.spec.feature_names,
                                                 _outputs(ctx)))
    draw_path(ctx.logger, points, choice, key, folds, ctx.data.spec.feature_names, _outputs(ctx),
              sparse=l1_ratio(ctx.objective.penalty, ctx.model.linear.weight.shape) > 0)
    return finish_at(ctx, points, choice, key)


def finish_at(ctx, points: list, choice, key: str):
    """The model at the chosen point, finished as any fit is (checkpoint, train metrics, certificate)."""
    chosen = points[choice.index]
    ctx.objective.penalty.strength = chosen.fitted if chosen.fitted is not None else chosen.strength
    set_point(ctx.model.linear, chosen)
    result = FitResult(epochs=sum(p.iterations for p in points), steps=sum(p.iterations for p in points),
                       converged=chosen.converged, certificate=chosen.certificate, tol=chosen.tol,
                       stopped_by="certificate" if chosen.converged else "iteration_cap")
    result = finish(ctx, result, state=dict(fitted_by="path", converged=chosen.converged))
    result.metrics.update({"path/strength": chosen.strength, "path/points": len(points),
                           "path/not_converged": sum(not p.converged for p in points),
                           "path/score": float(choice.mean[choice.index])})
    return result


def _monitor(cfg) -> tuple:
    sweep = cfg.get("sweep")
    return (sweep.monitor, sweep.mode) if sweep is not None else ("auto", "auto")


def _key_reader(monitor: str):
    def key_of(metrics: dict) -> str:
        key = monitored_key(monitor, metrics)
        if key is None:  # check_monitor_available ruled this out before training
            raise KeyError(f"the path's metric {monitor} is not among {sorted(metrics)}")
        return key
    return key_of


def _outputs(ctx) -> list:
    """A label per row of W: the classes when there is a row per class, else none."""
    classes = ctx.data.spec.classes
    return list(classes) if ctx.model.linear.out_features == len(classes) > 1 else []


def _say_not_converged(points: list) -> None:
    missed = [p for p in points if not p.converged]
    if missed:
        worst = max(p.gap for p in missed)
        log.warning("path: %d of %d points did not reach optim.tol (the largest gap %.2g; path.csv marks them "
                    "converged=false); raise trainer.max_epochs for them", len(missed), len(points), worst)
