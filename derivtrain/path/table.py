"""path.csv: one row per point of the path, strongest first.

    strength, objective, optimality_gap, converged, iterations, <metric>[, <metric>_se], non_zeros,
    then the weights: one column per feature (`<class>:<feature>` for several outputs) and the bias

<metric> is what chose the strength: the validation split's (val_accuracy, ...) or, under
data.cv_folds, the folds' mean (cv_accuracy, ...) with its standard error.
"""
import csv
import io

from derivtrain.path.solve import non_zeros


def path_csv(points: list, choice, metric: str, folds: int, feature_names: list, outputs: list) -> str:
    """The file's text. `outputs`: one label per row of W (classes for several outputs, else [])."""
    name = metric.split("/", 1)[-1]
    score = f"cv_{name}" if folds else f"val_{name}"
    header = ["strength", "objective", "optimality_gap", "converged", "iterations", score]
    header += [f"{score}_se"] if folds else []
    header += ["non_zeros"] + weight_columns(feature_names, outputs)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for p, point in enumerate(points):
        row = [repr(point.strength), repr(point.objective), repr(point.gap), str(point.converged).lower(),
               point.iterations, repr(float(choice.mean[p]))]
        row += [repr(float(choice.se[p]))] if folds else []
        row += [non_zeros(point)] + [repr(v) for v in point.weights.reshape(-1).tolist()]
        writer.writerow(row)
    return out.getvalue()


def weight_columns(feature_names: list, outputs: list) -> list:
    """A column per weight in [W | b]'s row-major order (a CSV cell that a spreadsheet would read as a
    formula, a name starting with = + - @, gets a leading apostrophe)."""
    names = [_cell(n) for n in feature_names] + ["bias"]
    if len(outputs) <= 1:
        return names
    return [f"{_cell(str(k))}:{n}" for k in outputs for n in names]


def _cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
