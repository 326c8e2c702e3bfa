"""Metrics computed in torch on the device (scikit-learn stays out of startup; tests compare)."""
import torch


@torch.no_grad()
def classification_metrics(scores: torch.Tensor, y: torch.Tensor, n_classes: int) -> dict:
    pred = (scores > 0).long() if scores.dim() == 1 else scores.argmax(dim=1)
    accuracy = (pred == y).float().mean()
    # macro F1: per-class F1 from a confusion matrix, averaged over classes present in y or pred
    confusion = torch.bincount(y * n_classes + pred, minlength=n_classes * n_classes).view(n_classes, n_classes)
    tp = confusion.diag().float()
    support, predicted = confusion.sum(1).float(), confusion.sum(0).float()
    denom = support + predicted
    f1 = torch.where(denom > 0, 2 * tp / denom.clamp_min(1), torch.zeros_like(tp))
    present = denom > 0
    return {"accuracy": accuracy.item(), "f1_macro": (f1[present].mean()).item()}


@torch.no_grad()
def regression_metrics(pred: torch.Tensor, y: torch.Tensor) -> dict:
    mse = torch.mean((pred - y) ** 2)
    variance = torch.mean((y - y.mean()) ** 2)
    r2 = 1 - mse / variance if variance > 0 else torch.tensor(float("nan"))
    return {"mse": mse.item(), "r2": float(r2)}


@torch.no_grad()
def evaluate(objective, split, targets: torch.Tensor, prefix: str, n_classes: int) -> dict:
    """Loss (the data loss, without the penalty) and task metrics on one split, keys `prefix/name`."""
    model = objective.model
    was_training = model.training
    model.eval()
    scores = model(split.X)
    model.train(was_training)
    metrics = {"loss": objective.loss(scores, targets).item()}
    if n_classes:
        metrics.update(classification_metrics(scores, split.y, n_classes))
    else:
        metrics.update(regression_metrics(scores, split.y))
    return {f"{prefix}/{k}": v for k, v in metrics.items()}
