"""The learning rate the user did not choose (optim=auto, optim.lr=null), found by a short range test.

From the run's starting weights, each candidate rate (half-decades 1e-4 ... 1) takes PROBE_STEPS
steps of the run's own optimizer on the run's own batches (the whole batch, or the first
PROBE_STEPS minibatches of an epoch), and the objective is measured on the same rows after them.
The fastest descent within the probe is often too fast for the long run (Adam's steps at a rate
that wins ten steps oscillate for the next hundred), so the rate taken is the best candidate
divided by SAFETY. The weights, the optimizer and the shuffle generator are put back as they
were: the run then starts as if the rate had been given.
"""
import math

import torch

from derivtrain.errors import ConfigError
from derivtrain.trainer.sgd_rate import loss_curvature, scaled_rate

CANDIDATES = tuple(10 ** (e / 2) for e in range(-8, 1))  # 1e-4, 3.2e-4, ..., 1
PROBE_STEPS = 10
SAFETY = 3.0


def check_range_test(batch_size, n_train: int) -> None:
    """The probe draws its minibatches from one epoch: a batch larger than the rows is a mistake."""
    if batch_size is not None and batch_size > n_train:
        raise ConfigError(f"trainer.batch_size={batch_size} is larger than the {n_train} training rows, so the "
                          "learning-rate range test (optim=auto, optim.lr=null) has no minibatches to probe; set "
                          f"trainer.batch_size <= {n_train} (or null: full batch), or set optim.lr")


def default_lr(loop) -> tuple:
    """(rate, how it was found) where optim.lr is null: SGD's scaled to the rows (trainer/sgd_rate.py),
    the other optimizers' by the range test."""
    if loop.ctx.optim.name == "sgd":
        return scaled_rate(loop.model, loop.ctx.data.train.X, loop.batches.batch_size,
                           float(loop.ctx.optim.momentum), loop.distributed.all_sum,
                           loss_curvature(loop.ctx.objective, loop.model), loop.distributed.world_size == 1)
    return find_lr(loop), "found by a range test"


def find_lr(loop) -> float:
    """The rate the run trains with (the loop's model, optimizer and batches; nothing is kept)."""
    model, params, optimizer = loop.model, loop.params, loop.optimizer
    start = {k: v.detach().clone() for k, v in model.state_dict().items()}
    shuffle_state = loop.shuffle.get_state()
    batches = []
    for X, targets, weight, share in loop.batches.epoch():
        batches.append((X, targets, weight, share))
        if len(batches) == PROBE_STEPS:
            break
    loop.shuffle.set_state(shuffle_state)
    values = torch.tensor([_probe(loop, batches, lr) for lr in CANDIDATES], dtype=torch.float64)
    # several ranks: each measured its own rows; every rank must pick the same rate (their mean decides)
    values = loop.distributed.all_sum(values) / loop.distributed.world_size
    results = dict(zip(CANDIDATES, values.tolist()))
    model.load_state_dict(start)
    optimizer.state.clear()
    for p in params:
        p.grad = None
    finite = {lr: value for lr, value in results.items() if math.isfinite(value)}
    if not finite:
        raise ConfigError("the learning-rate range test found no rate with a finite objective (every candidate "
                          "from 1e-4 to 1 diverged); set optim.lr")
    best = min(finite, key=finite.get)
    return best / SAFETY


def _probe(loop, batches, lr: float) -> float:
    """The objective on the probe's rows after PROBE_STEPS steps at `lr` from the start."""
    for group in loop.optimizer.param_groups:
        group["lr"] = lr
    loop.optimizer.state.clear()
    start = {k: v.detach().clone() for k, v in loop.model.state_dict().items()}
    try:
        for i in range(PROBE_STEPS):
            X, targets, weight, share = batches[i % len(batches)]
            loop.optimizer.zero_grad(set_to_none=True)
            loop.loss_and_gradients(X, targets, share, weight).detach()
            loop.optimizer.step()
        with torch.no_grad():
            value = sum(loop.objective(X, t, w).item() for X, t, w, _ in batches) / len(batches)
    finally:
        loop.model.load_state_dict(start)
    return value
