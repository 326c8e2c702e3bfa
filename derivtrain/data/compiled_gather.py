"""Rows of a dense CPU tensor by index through the compiled gather (derivtrain/data/gather_kernels.py
says what it saves), where it applies: float32 or float64 rows, C-contiguous, and the loops already
built on this machine (a minibatch never waits for a build). Elsewhere None, and the caller takes
torch's index_select. The same numbers either way: a copy."""
from typing import Optional

import torch

from derivtrain.compiled import available, kernel

_EXPORT = {torch.float32: "gather_rows_f4", torch.float64: "gather_rows_f8"}


def compiled_rows(X: torch.Tensor, idx: torch.Tensor) -> Optional[torch.Tensor]:
    """X[idx] (a new tensor) for a permutation's indices idx (int64, within X's rows), or None."""
    if (X.device.type != "cpu" or X.layout != torch.strided or X.dim() != 2 or X.dtype not in _EXPORT
            or not X.is_contiguous() or X.requires_grad or idx.dtype != torch.int64 or not available(build=False)):
        return None
    out = torch.empty((len(idx), X.shape[1]), dtype=X.dtype)
    gather = kernel(_EXPORT[X.dtype], build=False)
    gather(X.numpy(), idx.contiguous().numpy(), out.numpy())
    return out
