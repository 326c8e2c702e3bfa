"""A smooth loss's first and second derivatives in score space, from its own backward pass.

For scores z (n, K) of the training rows and row weights c: the weighted gradient
G = d(sum_i c_i l(z_i))/dz by autograd through the loss (its hand-written or torch's backward),
and the curvature D by differentiating that backward again: (n, K) when the scores do not
interact (binary, one-vs-rest, regression: one double-backward pass), (n, K, K) when they do
(one pass per column). A datafit may give them in closed form instead, `score_derivatives(z, y)`
-> (values, gradient, curvature) per row, unweighted: the softmax does (its K double-backward
passes were a sixth of a digits fit). theta = G / c is the row's dual point.
"""
from dataclasses import dataclass

import torch


@dataclass
class SmoothPart:
    value: float  # sum_i c_i l(z_i)
    G: torch.Tensor  # (n, K), weighted
    D: torch.Tensor  # (n, K) or (n, K, K), weighted
    theta: torch.Tensor  # (n, K), unweighted: the dual point


def smooth_part(loss, z: torch.Tensor, y, c: torch.Tensor) -> SmoothPart:
    closed_form = getattr(loss, "score_derivatives", None)
    if closed_form is not None:
        values, theta, D = closed_form(z, y)
        weights = c[:, None]
        D = D * (weights[:, :, None] if D.dim() == 3 else weights)
        return SmoothPart((c * values).sum().item(), theta * weights, D, theta)
    leaf = z.detach().requires_grad_(True)
    with torch.enable_grad():
        value = (c * loss.values(leaf, y)).sum()
        (G,) = torch.autograd.grad(value, leaf, create_graph=True)
        if loss.coupled:
            columns = []
            for k in range(z.shape[1]):
                unit = torch.zeros_like(G)
                unit[:, k] = 1.0
                columns.append(torch.autograd.grad(G, leaf, grad_outputs=unit, retain_graph=True)[0])
            D = torch.stack(columns, dim=2)
        elif G.requires_grad:
            (D,) = torch.autograd.grad(G, leaf, grad_outputs=torch.ones_like(G))
        else:  # linear in the scores where it is evaluated
            D = torch.zeros_like(G)
    G = G.detach()
    return SmoothPart(value.item(), G, D.detach(), G / c[:, None].clamp_min(torch.finfo(G.dtype).tiny))
