"""Figures for TensorBoard: global importance as a bar chart, per-class heatmaps for pixel data.

matplotlib is imported here only, and only when a logger that stores figures asks for one.
Figures are built with matplotlib.figure.Figure, not pyplot: no global figure registry, no GUI
backend, nothing left open.
"""
import re

import numpy as np

_PIXEL = re.compile(r"pixel_(\d+)_(\d+)$")


def image_grid(feature_names) -> tuple | None:
    """(rows, cols) when the features are the pixels pixel_r_c of an image in row-major order."""
    cells = [_PIXEL.match(str(name)) for name in feature_names]
    if not cells or not all(cells):
        return None
    rc = [(int(m.group(1)), int(m.group(2))) for m in cells]
    rows, cols = max(r for r, _ in rc) + 1, max(c for _, c in rc) + 1
    expected = [(r, c) for r in range(rows) for c in range(cols)]
    return (rows, cols) if rc == expected else None


def importance_figure(method: str, table, top: int = 30):
    """Horizontal bars of mean |attribution|, the most important feature on top."""
    from matplotlib.figure import Figure

    order = np.argsort(table.rank)[:top]
    fig = Figure(figsize=(6, 0.25 * len(order) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(np.arange(len(order)), table.importance[order], color="tab:blue")
    ax.set_yticks(np.arange(len(order)), [table.features[i] for i in order], fontsize=7)
    ax.invert_yaxis()
    shown = f"top {len(order)} of {len(table.features)}" if len(order) < len(table.features) else "all features"
    ax.set_xlabel("mean |attribution| (standardized input)")
    ax.set_title(f"{method}: global importance ({shown})", fontsize=9)
    return fig


def class_heatmaps_figure(method: str, values: np.ndarray, targets: np.ndarray, class_names, grid):
    """One image per class: the mean signed attribution over the rows explained for that class.

    Red pixels raise the class score, blue ones lower it; one colour scale for all classes so
    their strengths compare.
    """
    from matplotlib.figure import Figure

    classes = [k for k in range(len(class_names)) if np.any(targets == k)]
    maps = [values[targets == k].mean(axis=0).reshape(grid) for k in classes]
    limit = max(float(np.abs(m).max()) for m in maps) or 1.0
    cols = min(5, len(maps))
    rows = -(-len(maps) // cols)
    fig = Figure(figsize=(2 * cols + 0.8, 2 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, k, m in zip(axes.flat, classes, maps):
        image = ax.imshow(m, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"class {class_names[k]} (n={int(np.sum(targets == k))})", fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.8)
    fig.suptitle(f"{method}: mean attribution per class", fontsize=9)
    return fig
