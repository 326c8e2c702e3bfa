"""Data: load a table, split it, standardize on train only, move it to the device as tensors.

Batches are index slices of a per-epoch permutation (derivtrain.trainer.loop), never a DataLoader:
for in-memory tensors a DataLoader over a TensorDataset costs ~30x per step.

    in memory     derivtrain/data/in_memory.py   (dense tensors, or sparse CSR: data=svmlight/npz)
    out of core   derivtrain/data/out_of_core.py (data=npy data.out_of_core=true, or auto and too big)
    under ddp     derivtrain/data/shards.py      (each rank reads and keeps only its own rows)
"""
import inspect

import numpy as np
import torch
from hydra.utils import get_method

from derivtrain.data.in_memory import build_in_memory
from derivtrain.data.mapped import MappedNpy
from derivtrain.data.memory import reads_out_of_core
from derivtrain.data.out_of_core import build_out_of_core, split_ranges
from derivtrain.data.shards import OneProcess
from derivtrain.data.sizes import BYTES_PER_COLUMN, check_fits
from derivtrain.data.targets import AS_GIVEN, TargetPlan
from derivtrain.data.table import Data, DataSpec, Split, Table, check_features, check_split, check_targets
from derivtrain.errors import DataError, UserError

# keys every data config has that configure splitting and reading, not loading
_SPLIT_KEYS = ("_target_", "test_size", "val_size", "standardize", "chunk_rows", "out_of_core", "cv_folds", "fold")

__all__ = ["build_data", "load_table", "Data", "DataSpec", "Split", "Table"]


def load_table(data_cfg, comm=None) -> Table:
    """Call the config's loader with its own keys (everything but the split keys); a loader that
    reads sharded files takes `comm` too (the ranks: which files are this rank's)."""
    kwargs = {k: v for k, v in data_cfg.items() if k not in _SPLIT_KEYS}
    if "features" in kwargs and kwargs["features"] is not None:
        kwargs["features"] = list(kwargs["features"])
    loader = get_method(data_cfg._target_)
    if "comm" in inspect.signature(loader).parameters:
        kwargs["comm"] = comm or OneProcess()
    try:
        return loader(**kwargs)
    except UserError:
        raise
    except MemoryError:
        raise DataError(f"{_source(data_cfg)} does not fit in the memory available; use a smaller file "
                        "(or a machine with more memory)") from None
    except Exception as err:  # noqa: BLE001 - the reader boundary: see below
        # Whatever a reader raises on a file it cannot read (numpy's EOFError, zipfile's BadZipFile,
        # scipy's ValueError, an OverflowError from a C parser, ...) is bad input: one line, exit 2,
        # no run folder left, and derivtrain.train raises ConfigError. Listing the types each library
        # may raise would miss the next one. The chain keeps the cause for DERIVTRAIN_DEBUG=1.
        raise DataError(f"{_source(data_cfg)} cannot be read ({_reason(err)})") from err


def _source(data_cfg) -> str:
    path = data_cfg.get("path")
    return f"data.path={path}" if path is not None else f"the data of {data_cfg._target_}"


def _reason(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


def build_data(data_cfg, device: torch.device, seed: int, distributed=None, dtype=torch.float32,
               targets: TargetPlan = AS_GIVEN) -> Data:
    """The splits on the device. `distributed` (derivtrain/trainer/distributed.py): under data
    parallelism each rank gets only its own rows of each split. `dtype`: the features' (and
    regression targets') dtype once standardized in float64 (derivtrain/config/precision.py).
    `targets`: whether regression targets are centred and scaled first (derivtrain/data/targets.py;
    derivtrain/config/targets.py decides)."""
    comm = distributed if distributed is not None and distributed.world_size > 1 else OneProcess()
    table = load_table(data_cfg, comm)
    _check_targets(table)
    classification = table.task == "classification"
    if classification:
        classes, y = np.unique(table.y, return_inverse=True)
        classes = [c.item() if hasattr(c, "item") else c for c in classes]  # numpy scalars -> python
    else:
        classes, y = [], table.y.astype(np.float64)
    spec = DataSpec(task=table.task, n_features=table.X.shape[1], classes=classes,
                    feature_names=[str(n) for n in table.feature_names])
    check_targets(y, table.task)
    if isinstance(table.X, MappedNpy) and reads_out_of_core(data_cfg):  # never loaded whole
        (_, n_train), _, (test_start, n) = split_ranges(len(y), data_cfg.test_size, data_cfg.val_size)
        check_split({"train": n_train, "test": n - test_start}, n, data_cfg.test_size, data_cfg.val_size, False)
        return build_out_of_core(table.X, y, spec, data_cfg, device, targets)
    if isinstance(table.X, MappedNpy):  # read into memory: its rows as float32 tensors
        rows, columns = table.X.shape
        check_fits(rows * columns * 4 + columns * BYTES_PER_COLUMN, f"data.path={table.X.path} ({rows} x "
                   f"{columns}) read into memory (data.out_of_core={str(data_cfg.out_of_core).lower()})")
    if isinstance(table.X, np.ndarray):
        check_features(table.X, spec.feature_names)
    return build_in_memory(table, y, spec, data_cfg, device, seed, comm, dtype, targets)


def _check_targets(table: Table) -> None:
    held = table.held_rows[1] - table.held_rows[0] if table.held_rows is not None else len(table.y)
    if table.X.ndim != 2 or table.X.shape[0] != held:
        raise DataError(f"features must be a 2-D table with one target per row (got {table.X.shape} "
                        f"and {held} targets)")
    if table.X.shape[1] == 0:  # every source, sparse ones too: a model on no features learns nothing
        raise DataError(f"the data has no feature columns (shape {tuple(table.X.shape)}); give it at least one "
                        "besides the target")
    if table.task == "classification" and len(np.unique(table.y)) < 2:
        raise DataError("classification needs at least two classes in the target column")

