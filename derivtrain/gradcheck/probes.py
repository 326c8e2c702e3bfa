"""What `python -m derivtrain.gradcheck` differentiates, built from a composed config.

Three probes, each in float64 on a few rows, at random points (a kink is hit with probability 0):
  the loss            d loss(scores, targets) / d scores, scores random
  the regularizer     d penalty(w) / d w, for tensors shaped like the model's weights
  model + loss        d objective(X, targets) / d parameters, X real training rows; and, where the
                      model is a LinearSVM, the fused full-batch objective the trainer uses
"""
import torch

from derivtrain.gradcheck.gradients import check_gradient, check_second_derivative
from derivtrain.losses import NoPenalty

ROWS = 12


def run_probes(cfg, choices: dict) -> list:
    from derivtrain.data import build_data
    from derivtrain.run import build_objective, seed_everything

    seed_everything(cfg.trainer.seed)
    data = build_data(cfg.data, torch.device("cpu"), seed=cfg.trainer.seed)
    objective = build_objective(cfg, data)
    model, loss, penalty = objective.model, objective.loss, objective.penalty
    model.double().eval()  # eval: no dropout noise between the finite-difference evaluations
    X = data.train.X[:ROWS].double()
    targets = loss.encode_targets(data.train.y[:ROWS], data.spec.n_outputs)
    if targets.is_floating_point():
        targets = targets.double()
    g = torch.Generator().manual_seed(cfg.trainer.seed)
    results = []

    name = f"loss={choices.get('loss', '?')}"
    shape = (ROWS,) if data.spec.n_outputs == 1 else (ROWS, data.spec.n_outputs)
    scores = (2 * torch.randn(shape, generator=g, dtype=torch.float64)).requires_grad_()
    loss_fn = lambda s: loss(s, targets)  # noqa: E731
    results.append(check_gradient(name, loss_fn, [scores]))
    results.append(check_second_derivative(name, loss_fn, [scores], loss.twice_differentiable))

    if not isinstance(penalty, NoPenalty):
        name = f"regularizer={choices.get('regularizer', '?')}"
        weights = [torch.randn(p.shape, generator=g, dtype=torch.float64).requires_grad_()
                   for p in model.penalized_parameters()]
        penalty_fn = lambda *w: penalty(w)  # noqa: E731
        results.append(check_gradient(name, penalty_fn, weights))
        results.append(check_second_derivative(name, penalty_fn, weights, penalty.twice_differentiable))

    name = f"model={choices.get('model', '?')} + loss + regularizer"
    params = [p for p in model.parameters() if p.requires_grad]
    composed = lambda *p: objective.composed(X, targets)  # noqa: E731 - reads the parameters in place
    results.append(check_gradient(name, composed, params))
    results.append(check_second_derivative(name, composed, params, objective.twice_differentiable))
    if objective.use_full_batch(X, targets):  # what full-batch training of a linear SVM runs
        name += " (fused full batch)"
        fused = lambda *p: objective.full_batch()  # noqa: E731
        results.append(check_gradient(name, fused, params))
        results.append(check_second_derivative(name, fused, params, False))
    return results
