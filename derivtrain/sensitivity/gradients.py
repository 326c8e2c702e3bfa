"""derivtrain's own input gradients: how the explained score moves when one input feature moves.

    saliency        |d s / d x|                       (Simonyan et al. 2014)
    grad_x_input    x * d s / d x                      (Shrikumar et al. 2016)
    smoothgrad      mean over x + noise of d s / d x   (Smilkov et al. 2017)
    jacobian        d s_k / d x_j for every output k   (torch.func.vmap over jacrev)

`forward` maps (n, d) inputs to (n,) scores or (n, K) scores, `target` picks one class per row
(None for one score per row). Rows must not interact (eval mode: no batch statistics, no dropout).
Then the gradient of the *summed* explained scores with respect to row i is row i's own gradient,
so one reverse pass per batch of rows gives every row's gradient. Captum's Saliency asks autograd
for the gradient of each output separately (torch.unbind); that is the difference in speed.
"""
import torch


def row_batches(n: int, batch_size: int):
    """Slices of at most batch_size rows, to bound the memory of one pass."""
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def explained_scores(scores: torch.Tensor, target) -> torch.Tensor:
    """(n,) scores stay; (n, K) scores -> the score of each row's target class."""
    if scores.dim() == 1:
        if target is not None:
            raise ValueError("this model gives one score per row: there is no target class to choose")
        return scores
    if target is None:
        raise ValueError(f"this model gives {scores.shape[1]} scores per row: choose a target class per row")
    return scores.gather(1, target.reshape(-1, 1)).squeeze(1)


def input_gradients(forward, X: torch.Tensor, target=None, batch_size: int = 16384) -> torch.Tensor:
    """d s / d x for each row: (n, d), same dtype and device as X."""
    target = _per_row(target, len(X), X.device)
    grads = []
    for rows in row_batches(len(X), batch_size):
        x = X[rows].detach().requires_grad_(True)
        with torch.enable_grad():
            scores = explained_scores(forward(x), None if target is None else target[rows])
            # inputs=x only: autograd skips the parameters' gradients, which nothing here needs
            (grad,) = torch.autograd.grad(scores.sum(), x)
        grads.append(grad)
    return torch.cat(grads)


def saliency(forward, X, target=None, batch_size: int = 16384) -> torch.Tensor:
    """|d s / d x|: how strongly the score reacts to each feature, whatever the direction."""
    return input_gradients(forward, X, target, batch_size).abs()


def grad_x_input(forward, X, target=None, batch_size: int = 16384) -> torch.Tensor:
    """x * d s / d x: the first-order share of each feature in s(x) - s(0).

    The input is standardized, so x = 0 is the training mean: for a linear model this is exactly
    integrated gradients from the mean baseline.
    """
    return X * input_gradients(forward, X, target, batch_size)


def smoothgrad(forward, X, target=None, noise_samples: int = 25, noise_stdev: float = 0.5, seed: int = 0,
               batch_size: int = 16384) -> torch.Tensor:
    """Mean gradient over inputs x + N(0, noise_stdev^2) (signed; its magnitude is the importance).

    Averaging over a neighbourhood removes the gradient's fast local fluctuations (ReLU kinks)
    that make raw saliency maps noisy. noise_stdev is in standard deviations of each feature.
    """
    generator = torch.Generator(device=X.device).manual_seed(int(seed))
    total = torch.zeros_like(X)
    for _ in range(noise_samples):
        noise = torch.randn(X.shape, generator=generator, device=X.device, dtype=X.dtype)
        total += input_gradients(forward, X + noise_stdev * noise, target, batch_size)
    return total / noise_samples


def jacobian(forward, X: torch.Tensor, batch_size: int = 16384) -> torch.Tensor:
    """(n, K, d): every output's gradient for every row (K = 1 for one score per row).

    jacrev differentiates one row's K outputs; vmap runs it over the rows as batched tensor
    operations, not a Python loop; chunk_size bounds memory like batch_size elsewhere.
    """
    def outputs_of_row(x):
        return forward(x.unsqueeze(0)).reshape(-1)

    return torch.func.vmap(torch.func.jacrev(outputs_of_row), chunk_size=batch_size)(X)


def _per_row(target, n: int, device):
    if target is None:
        return None
    return torch.as_tensor(target, device=device).long().expand(n)
