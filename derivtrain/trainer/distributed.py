"""Data-parallel training on torch.distributed (torchrun): one process per device, one shared model.

Each rank holds only its own rows of every split (derivtrain/data/shards.py); every rank draws
the same per-epoch permutation of a split's positions and trains on the rows of each batch that
it holds (derivtrain/trainer/sharded_batches.py). (Out-of-core rows: every rank reads each chunk and
takes its contiguous part of every batch, derivtrain/trainer/chunked_batches.py.) A rank scales its
objective by its share of the batch (n_rank / n_batch) and the gradients are summed across ranks,
so the update equals one process stepping on the whole batch: sum_r (n_r / n) * mean_r(loss) =
mean(loss), and the penalty, added on every rank, sums back to itself. Only rank 0 writes logs,
TensorBoard and checkpoints.

Full-batch solvers (certified, Newton) and the certificate sum over rows with `all_sum`: one
all-reduce of a gradient, a Hessian block or a few numbers, never of rows. One process's
`all_sum` is the identity, so the same code runs there at no cost.
"""
import logging
import os
import sys

import torch
import torch.distributed as dist

# set once this process has joined a process group: its end skips the interpreter's teardown (end_process)
_joined_a_group = False


class SingleProcess:
    """The default: no communication at all (the step loop pays nothing for it)."""

    rank, world_size, is_main = 0, 1, True

    def sync_gradients(self, params) -> None:
        pass

    def global_loss(self, local_loss: torch.Tensor) -> torch.Tensor:
        return local_loss

    # sums over rows held by different ranks (identity here)
    def all_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    def all_min(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    def all_max(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    def all_gather(self, tensor: torch.Tensor) -> list:
        """Every rank's `tensor` (of the same shape on every rank), in rank order."""
        return [tensor]

    def gather_vectors(self, vector: torch.Tensor) -> list:
        """Every rank's 1-D `vector` (lengths may differ), in rank order."""
        return [vector]

    def close(self) -> None:
        pass


class DataParallel(SingleProcess):
    def __init__(self, backend: str, device: torch.device):
        global _joined_a_group
        if not dist.is_initialized():
            dist.init_process_group(backend=backend, device_id=device if device.type == "cuda" else None)
        _joined_a_group = True
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.is_main = self.rank == 0
        # nccl reduces tensors on the rank's GPU, gloo on the CPU (a CUDA tensor travels there and back)
        self.device = device if dist.get_backend() == "nccl" else torch.device("cpu")

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

    def _reduce(self, tensor: torch.Tensor, op) -> torch.Tensor:
        total = tensor.detach().to(self.device, copy=True)
        dist.all_reduce(total, op=op)
        return total.to(tensor.device)

    def all_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        return self._reduce(tensor, dist.ReduceOp.SUM)

    def all_min(self, tensor: torch.Tensor) -> torch.Tensor:
        return self._reduce(tensor, dist.ReduceOp.MIN)

    def all_max(self, tensor: torch.Tensor) -> torch.Tensor:
        return self._reduce(tensor, dist.ReduceOp.MAX)

    def all_gather(self, tensor: torch.Tensor) -> list:
        local = tensor.detach().to(self.device).contiguous()
        parts = [torch.empty_like(local) for _ in range(self.world_size)]
        dist.all_gather(parts, local)
        return [p.to(tensor.device) for p in parts]

    def gather_vectors(self, vector: torch.Tensor) -> list:
        lengths = [int(n) for n in self.all_gather(torch.tensor([len(vector)], device=vector.device))]
        padded = vector.new_zeros(max(lengths))
        padded[:len(vector)] = vector
        return [part[:n] for part, n in zip(self.all_gather(padded), lengths)]

    def close(self) -> None:
        if dist.is_initialized():
            # every rank past its last collective before any tears the group down (gloo's worker
            # threads otherwise may still hold a peer's connection: a rare abort at exit)
            dist.barrier()
            dist.destroy_process_group()


def end_process() -> None:
    """A torchrun worker whose run finished: exit 0 now, without the interpreter's teardown.

    Even after a barrier and destroy_process_group, a gloo rank now and then aborted in that teardown
    ("terminate called without an active exception", SIGABRT: a C++ worker thread still joinable when
    its owner is destroyed), seen once under load in CI after the run had written everything. torchrun
    then reports the whole job failed. Everything the run writes is closed by now; the logs and the
    standard streams are flushed here, and nothing else is left to tear down."""
    if not _joined_a_group:
        return
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


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
