"""trainer.cuda_graph=true: the whole training step (forward, backward, clipping, optimizer update)
captured once as a CUDA graph and replayed for every batch of the same size.

Why: a minibatch step of a small model on a GPU is bound by the CPU launching its ~40 kernels
one by one (scripts/bench_scale.py --device cuda measured ~1 ms per step on an H200 either way,
derivtrain or a hand loop); a replay launches them together.

How (the rules of torch.cuda.graphs): a few eager warm-up steps run on a side stream first; the
graph then reads each batch from fixed input buffers (the batch is copied in) and writes the
gradients and the loss to fixed tensors; a batch of another shape (an epoch's shorter last
batch) runs eagerly on those same gradient tensors; the learning rate is baked into the graph,
so when a schedule changes it the step is captured again. These are real training steps: the
warm-up and the capture step train on their batches, so results match eager training.
"""
import torch


class GraphedStep:
    WARMUP_STEPS = 3

    def __init__(self, loss_and_gradients, params, optimizer, batch_rows: int, clip_norm=None,
                 inputs_persist: bool = False):
        """loss_and_gradients(X, targets) -> loss: forward and backward, gradients assigned or
        accumulated into p.grad (the step zeroes them before). batch_rows: the rows of a full-size
        batch, the shape that is captured. inputs_persist: X is the same tensor every step (full
        batch), so the graph reads it in place instead of from a copy."""
        self.loss_and_gradients, self.params, self.optimizer = loss_and_gradients, params, optimizer
        self.batch_rows, self.clip_norm, self.inputs_persist = batch_rows, clip_norm, inputs_persist
        self.graph = None
        self.warmup_left = self.WARMUP_STEPS
        self._side_stream = torch.cuda.Stream()

    def _lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def _update(self, X, targets) -> torch.Tensor:
        loss = self.loss_and_gradients(X, targets)
        if self.clip_norm:
            torch.nn.utils.clip_grad_norm_(self.params, self.clip_norm, foreach=True)
        self.optimizer.step()
        # detached: a loss kept by the caller would keep this step's autograd graph alive, and
        # its gradient-accumulation nodes, tied to this step's stream, would break a later capture
        return loss.detach()

    def _eager(self, X, targets) -> torch.Tensor:
        """One uncaptured step (a warm-up, or a short batch), on a side stream: torch.cuda.graphs
        asks warm-up steps to run off the default stream, and later eager steps do the same."""
        self._side_stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self._side_stream):
            # after capture the gradients must stay the graph's tensors: zero them, never drop them
            self.optimizer.zero_grad(set_to_none=self.graph is None)
            loss = self._update(X, targets)
        torch.cuda.current_stream().wait_stream(self._side_stream)
        return loss

    def _capture(self, X, targets) -> torch.Tensor:
        self.static_X = X if self.inputs_persist else X.clone()
        self.static_targets = targets if self.inputs_persist else targets.clone()
        self.optimizer.zero_grad(set_to_none=True)  # backward allocates them from the graph's pool
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.static_loss = self._update(self.static_X, self.static_targets)
        self.captured_lrs = self._lrs()
        self.graph.replay()  # capturing ran nothing: this batch's step happens now
        return self.static_loss

    def __call__(self, X: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if X.shape[0] != self.batch_rows:
            return self._eager(X, targets)  # an epoch's shorter last batch
        if self.graph is None:
            if self.warmup_left:
                self.warmup_left -= 1
                return self._eager(X, targets)
            return self._capture(X, targets)
        if self._lrs() != self.captured_lrs:
            return self._capture(X, targets)  # a schedule moved the learning rate
        if X is not self.static_X:
            self.static_X.copy_(X)
            self.static_targets.copy_(targets)
        self.graph.replay()
        return self.static_loss
