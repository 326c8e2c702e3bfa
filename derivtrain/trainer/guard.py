"""Divergence guard: a non-finite loss or gradient stops training (or skips that step).

trainer.on_nonfinite=stop (default) raises TrainingDiverged naming the step and the first
parameter whose gradient (or value) is not finite; the last good checkpoint stays on disk.
trainer.on_nonfinite=skip_step drops such updates and counts them.
Checking every step needs the loss on the host: free on the CPU (no asynchronous device), one
sync per step on a GPU. So on a GPU the stop mode looks at the logging interval only, where the
loop syncs anyway; skip_step has to look every step.
"""
import math

import torch


class TrainingDiverged(Exception):
    """Training produced NaN or Inf; the message says where, which checkpoint is kept, what to change."""

    def __init__(self, what: str, advice: str = "", kept: str = "the last good checkpoint is kept"):
        super().__init__(f"{what}. {kept[0].upper() + kept[1:]}; {advice}" if advice else what)
        self.what, self.advice = what, advice

    def keeping(self, kept: str) -> "TrainingDiverged":
        """The same error, saying which checkpoint the run folder kept."""
        return TrainingDiverged(self.what, self.advice, kept)


class NonFiniteGuard:
    def __init__(self, mode: str, model: torch.nn.Module, device: torch.device):
        self.skip = mode == "skip_step"
        self.every_step = self.skip or device.type == "cpu"
        self.named = list(model.named_parameters())
        self.skipped = 0
        # the last step whose loss was seen finite: the weights before it are good, so checkpoints of
        # steps >= it may hold weights whose loss is not (loop.py discards them when training diverges)
        self.last_finite = 0

    def step_ok(self, loss: torch.Tensor, params, step: int) -> bool:
        """After backward: True to apply the update. Raises in stop mode on a non-finite loss."""
        if not self.every_step:
            return True
        if not self.skip:
            value = loss.item()  # ~0.2 us on the CPU; torch.isfinite(loss).item() costs ~4 us
            if not math.isfinite(value):
                raise self.diverged(step, f"the loss is {value}")
            self.last_finite = step
            return True
        grads = [p.grad for p in params if p.grad is not None]
        finite = torch.isfinite(loss) & torch.isfinite(torch.stack(torch._foreach_norm(grads))).all()
        if finite.item():
            self.last_finite = step
            return True
        self.skipped += 1
        return False

    def check_logged(self, loss_value: float, grad_norm_value: float, step: int) -> None:
        """At the logging interval (values already on the host)."""
        if self.skip:
            return
        if not math.isfinite(loss_value):
            raise self.diverged(step, f"the loss is {loss_value}")
        if not math.isfinite(grad_norm_value):
            raise self.diverged(step, "the gradient is not finite")
        self.last_finite = max(self.last_finite, step)

    def all_skipped(self, steps: int) -> TrainingDiverged:
        return TrainingDiverged(f"every one of the {steps} steps had a non-finite loss or gradient and was skipped "
                                "(trainer.on_nonfinite=skip_step): nothing was trained; check the data for huge "
                                "values, lower optim.lr or set trainer.gradient_clip_norm")

    def diverged(self, step: int, what: str) -> TrainingDiverged:
        return TrainingDiverged(f"training diverged at step {step}: {what}; {self._culprit()}",
                                "lower optim.lr or set trainer.gradient_clip_norm "
                                "(trainer.on_nonfinite=skip_step skips such steps)")

    def _culprit(self) -> str:
        """The first parameter with a non-finite gradient, else value, else the largest one."""
        for name, p in self.named:
            if p.grad is not None and not torch.isfinite(p.grad).all():
                return f"first non-finite gradient: {name}"
        for name, p in self.named:
            if not torch.isfinite(p).all():
                return f"first non-finite parameter: {name}"
        # finite weights so large that the scores overflow
        name, p = max(self.named, key=lambda item: item[1].detach().abs().max().item())
        return f"largest parameter: {name} (max |value| {p.detach().abs().max().item():.3g})"
