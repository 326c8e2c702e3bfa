"""The path on the dashboard: three figures (x: log10 of the strength, strongest on the left as
the path runs) and a few curves, one point per strength.

    path/coefficients   each weight against log strength, labelled with its feature's name (the
                        textbook picture of L1 vs L2: lines reaching zero one by one, or shrinking
                        together); one panel per class when there are several outputs
    path/validation     the metric that chose the strength (fold mean +- one standard error under
                        CV), the chosen strength marked
    path/non_zeros      how many weights are non-zero (L1 and elastic net)

Figures are built only by a logger that keeps them (logger=none builds nothing, imports no
matplotlib).
"""
import math

from derivtrain.path.solve import non_zeros

_LABELLED = 12  # lines named per panel: the largest at the weakest strength (more would overlap)
_PANELS = 6  # classes drawn at most (path.csv has them all)


def draw_path(logger, points: list, choice, key: str, folds: int, names: list, outputs: list,
              sparse: bool = True) -> None:
    x = [math.log10(p.strength) for p in points]
    for i, p in enumerate(points):
        logger.log_scalars({f"path/{key.replace('/', '_')}": float(choice.mean[i]), "path/non_zeros": non_zeros(p),
                            "path/optimality_gap": p.gap, "path/log10_strength": x[i]}, i)
    logger.log_figure("path/coefficients", lambda: coefficient_figure(x, points, names, outputs))
    logger.log_figure("path/validation", lambda: validation_figure(x, choice, key, folds))
    if sparse:
        logger.log_figure("path/non_zeros", lambda: non_zero_figure(x, points))


def _figure(panels: int = 1):
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    figure = Figure(figsize=(7, 3.2 * panels), layout="constrained")
    return figure, [figure.add_subplot(panels, 1, i + 1) for i in range(panels)]


def coefficient_figure(x, points, names, outputs):
    rows = min(max(len(outputs), 1), _PANELS)
    figure, axes = _figure(rows)
    for r, ax in enumerate(axes):
        W = [p.weights[r, :-1].tolist() for p in points]
        last = W[-1]
        named = sorted(range(len(last)), key=lambda j: -abs(last[j]))[:_LABELLED]
        for j in range(len(last)):
            ax.plot(x, [w[j] for w in W], linewidth=1.2 if j in named else 0.6)
            if j in named:
                ax.annotate(str(names[j]), (x[-1], last[j]), fontsize=7, xytext=(3, 0), textcoords="offset points")
        ax.axhline(0.0, color="grey", linewidth=0.5)
        ax.invert_xaxis()
        ax.set_xlabel("log10 strength")
        ax.set_ylabel("weight" + (f" (class {outputs[r]})" if outputs else ""))
    axes[0].set_title("coefficient path")
    return figure


def validation_figure(x, choice, key, folds):
    figure, (ax,) = _figure()
    ax.errorbar(x, choice.mean, yerr=choice.se if folds else None, marker=".", capsize=2)
    ax.axvline(x[choice.index], color="red", linestyle="--", label=f"chosen: {10 ** x[choice.index]:.3g}")
    ax.invert_xaxis()
    ax.set_xlabel("log10 strength")
    ax.set_ylabel(f"{key} ({folds}-fold mean)" if folds else key)
    ax.legend()
    return figure


def non_zero_figure(x, points):
    figure, (ax,) = _figure()
    ax.step(x, [non_zeros(p) for p in points], where="mid")
    ax.invert_xaxis()
    ax.set_xlabel("log10 strength")
    ax.set_ylabel("non-zero weights")
    return figure
