"""SGD's learning rate where optim.lr is null (optim=sgd's default): scaled to the rows.

A minibatch step of SGD on a linear model's mean loss moves a row's own score by lr |l'| ||x||^2 / B
(B rows a batch), and momentum beta carries each step on to 1 / (1 - beta) times that. Standardized
dense rows have mean ||x||^2 = d, their number of columns; sparse rows (scaled, not centred) at least
that. At 100,000 tf-idf columns and B = 4096 the fixed rate 0.1 moved a row's own score by ~24 a
step, momentum included, and 5 epochs reached test accuracy 0.747 against LinearSVC's 0.764
(scripts/cli_scale_sparse.py); rates 0.003-0.01 reached 0.763. The rate taken,

    min(0.1, (1 - beta) B / mean ||x||^2),

moves a mean row's score by at most 1 a step (here 0.0041). Rows with no more columns than a batch
has rows (B >= d: every dense default, and any full batch of more rows than columns) keep 0.1, the
rate the default was before. Other models than a linear one keep 0.1 too: their first layer's
scale is not the only one. The mean is taken over the first SAMPLE_ROWS training rows (in the split's
random order; summed over ranks), a pass over at most 65,536 rows.
"""
import torch

from derivtrain.data.mapped import rows_in_memory
from derivtrain.trainer.precision_floor import row_squares

BASE_RATE = 0.1
SAMPLE_ROWS = 1 << 16


def scaled_rate(model, X: torch.Tensor, batch_size: int, momentum: float, all_sum) -> tuple:
    """(rate, how): the rate for optim=sgd with optim.lr=null, and how the log says it was chosen."""
    from derivtrain.models.base import LinearModel

    if not isinstance(model, LinearModel) or type(model).forward is not LinearModel.forward:
        return BASE_RATE, "SGD's rate for a model that is not linear"
    squares = row_squares(rows_in_memory(X, SAMPLE_ROWS))  # the first rows (a view; out of core: read)
    totals = all_sum(torch.stack([squares.sum(), squares.new_tensor(float(len(squares)))]))
    mean_square = (totals[0] / totals[1].clamp_min(1.0)).item()
    scaled = (1.0 - momentum) * batch_size / max(mean_square, torch.finfo(torch.float64).tiny)
    how = f"scaled to the rows (mean squared norm {mean_square:.3g}, batches of {batch_size}, momentum {momentum:g})"
    return min(BASE_RATE, scaled), how
