"""torch.optim optimizers and LR schedules built from the `optim` config group. The optimizers run
without importing torch._dynamo (derivtrain/trainer/eager_optimizers.py) unless the model is compiled."""
import torch

from derivtrain.trainer.eager_optimizers import for_run
from derivtrain.trainer.sgd_rate import BASE_RATE


def _fast(cls, params, capturable: bool) -> dict:
    """fused=True (one kernel for the whole update, on the CPU as on a GPU) where this torch has it,
    else foreach=True (one kernel per operation over all tensors). Measured on the CPU, one thread:
    Adam on 100k parameters 168 us fused vs 647 foreach, on 31 parameters 80 vs 158; SGD with
    momentum 60 vs 128 and 54 vs 77. capturable: the update will be captured in a CUDA graph
    (trainer.cuda_graph): foreach, with Adam's step count kept on the device (the documented
    capturable path)."""
    import inspect

    accepted = inspect.signature(cls).parameters
    if capturable:
        return {"foreach": True, **({"capturable": True} if "capturable" in accepted else {})}
    devices = {p.device.type for p in params}
    if "fused" in accepted and devices in ({"cpu"}, {"cuda"}) and all(p.is_floating_point() for p in params):
        return {"fused": True}
    return {"foreach": True}


def _sgd(params, cfg, capturable: bool, compiled: bool) -> torch.optim.Optimizer:
    sgd = for_run(torch.optim.SGD, compiled)
    # lr=null (the default): a placeholder until the loop scales the rate to the rows (trainer/sgd_rate.py)
    lr = cfg.lr if cfg.lr is not None else BASE_RATE
    return sgd(params, lr=lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay,
               **_fast(torch.optim.SGD, params, capturable))


def _adam(params, cfg, capturable: bool, compiled: bool) -> torch.optim.Optimizer:
    stock = torch.optim.AdamW if cfg.name == "adamw" else torch.optim.Adam
    cls = for_run(stock, compiled)
    # optim=auto with lr=null: a placeholder until the range test sets the rate (trainer/lr_range.py)
    return cls(params, lr=cfg.lr if cfg.lr is not None else 1e-3, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay,
               **_fast(stock, params, capturable))


def _lbfgs(params, cfg, capturable: bool, compiled: bool) -> torch.optim.Optimizer:
    if cfg.weight_decay:
        from derivtrain.errors import ConfigError

        raise ConfigError("optim=lbfgs has no weight_decay; use regularizer=l2 regularizer.strength=...")
    lbfgs = for_run(torch.optim.LBFGS, compiled)
    return lbfgs(params, lr=cfg.lr, max_iter=cfg.max_iter, history_size=cfg.history_size,
                 line_search_fn=cfg.line_search)


# optim.name -> builder: the config's GRADIENT_OPTIMIZERS (derivtrain/config/schemas/optim.py), and
# auto, which runs Adam where no other solver suits the model
BUILDERS = {"sgd": _sgd, "adam": _adam, "adamw": _adam, "lbfgs": _lbfgs, "auto": _adam}


def build_optimizer(params, cfg, capturable: bool = False, compiled: bool = False) -> torch.optim.Optimizer:
    """compiled: the model is compiled (trainer.compile), so torch._dynamo is loaded anyway: torch's own
    optimizer classes, graph breaks and all."""
    params = list(params)
    if cfg.name not in BUILDERS:
        raise AssertionError(f"optim.name={cfg.name} passed validation but has no builder")
    return BUILDERS[cfg.name](params, cfg, capturable, compiled)


def build_scheduler(optimizer, cfg, max_epochs: int):
    """An epoch-level schedule, or None. Plateau watches the monitored validation metric."""
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_epochs)
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=cfg.gamma, patience=cfg.patience)
    return None
