"""Data-parallel training on torch.distributed (torchrun): one process per device, one shared model.

Every rank holds the whole (in-memory) data set and draws the same per-epoch permutation; each
takes its contiguous shard of every batch (derivtrain.train.batches). A rank scales its objective by its share of the batch
(n_rank / n_batch) and the gradients are summed across ranks, so the update equals one process
stepping on the whole batch: sum_r (n_r / n) * mean_r(loss) = mean(loss), and the penalty, added
on every rank, sums back to itself. Only rank 0 writes logs, TensorBoard and checkpoints.
"""
import os

import torch
import torch.distributed as dist


class SingleProcess:
    """The default: no communication at all (the step loop pays nothing for it)."""

    rank, world_size, is_main = 0, 1, True

    def sync_gradients(self, params) -> None:
        pass

    def global_loss(self, local_loss: torch.Tensor) -> torch.Tensor:
        return local_loss

    def close(self) -> None:
        pass


class DataParallel(SingleProcess):
    def __init__(self, backend: str, device: torch.device):
        if not dist.is_initialized():
            dist.init_process_group(backend=backend, device_id=device if device.type == "cuda" else None)
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.is_main = self.rank == 0

    def broadcast_parameters(self, module: torch.nn.Module) -> None:
        """Rank 0's initial weights everywhere (same seed gives the same, but do not rely on it)."""
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)

    def sync_gradients(self, params) -> None:
        grads = [p.grad for p in params if p.grad is not None]
        flat = torch.cat([g.flatten() for g in grads])  # one all-reduce for the whole model
        dist.all_reduce(flat)
        chunks = flat.split([g.numel() for g in grads])
        torch._foreach_copy_(grads, [chunk.view_as(g) for chunk, g in zip(chunks, grads)])

    def global_loss(self, local_loss: torch.Tensor) -> torch.Tensor:
        total = local_loss.detach().clone()
        dist.all_reduce(total)
        return total

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def local_device(device: torch.device) -> torch.device:
    """cuda -> this rank's GPU (LOCAL_RANK); cpu stays cpu."""
    if device.type == "cuda" and launched_by_torchrun():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def make_distributed(trainer_cfg, device: torch.device):
    if trainer_cfg.strategy != "ddp" or not launched_by_torchrun():
        return SingleProcess()
    backend = trainer_cfg.backend if trainer_cfg.backend != "auto" else ("nccl" if device.type == "cuda" else "gloo")
    return DataParallel(backend, device)
