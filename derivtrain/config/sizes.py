"""Size keys, bounded before anything of that size is built.

A size key (rows, columns, units, components, steps) sizes something the run allocates, and a
typo or a hostile override can ask for any amount: `data.n_features=1000000000000` asked torch
for 4 PB, `model.hidden_sizes=[30000,30000]` for 3.6 GB of weights before a single check. So
every size key is capped, and what the sizes known before any data is read will allocate (a
generated table, per-column vectors, an MLP's weights with their gradient and Adam's two
moments, a mixture's covariances, a dense Hessian) is compared with the memory available now:
one ConfigError naming the keys, the estimate and what is available.
"""
from omegaconf import OmegaConf

from derivtrain.errors import ConfigError

# Counts of rows, columns, units, steps: beyond 2**31 - 1 they overflow the 32-bit indices of
# scipy's CSR matrices and the svmlight reader, and no run held in memory gets near it.
SIZE_CAP = 2**31 - 1
SIZE_KEYS = ("data.n_samples", "data.n_features", "data.n_classes", "data.n_informative", "data.centers",
             "data.chunk_rows", "model.hidden_sizes", "model.n_components", "optim.max_dense", "optim.history_size",
             "trainer.batch_size", "trainer.keep_checkpoints", "diagnostics.hessian_iterations",
             "diagnostics.hessian_max_samples", "analysis.max_samples", "analysis.batch_size", "analysis.n_steps",
             "analysis.n_samples", "analysis.noise_samples")
# a generated table: float32 rows, the temporaries that build them and the splits' float32 copies
# (data=counts draws float64: 20 bytes a cell covers both)
BYTES_PER_CELL = 20
# an MLP weight in float32, its gradient and Adam's two moments
BYTES_PER_WEIGHT = 16


def check_sizes(cfg) -> None:
    """Every size key within SIZE_CAP, then the allocations they imply within the memory available."""
    for key in SIZE_KEYS:
        value = OmegaConf.select(cfg, key, default=None)
        values = list(value) if OmegaConf.is_list(value) else [value]
        for item in values:
            if isinstance(item, int) and not isinstance(item, bool) and item > SIZE_CAP:
                shown = list(value) if OmegaConf.is_list(value) else value
                raise ConfigError(f"{key}={shown} is larger than {SIZE_CAP} (2**31 - 1), the most any size here "
                                  "takes; lower it")
    check_memory(cfg)


def check_memory(cfg) -> None:
    from derivtrain.data.memory import available_memory  # lazy: the data package imports torch
    from derivtrain.data.sizes import human

    parts = planned_bytes(cfg)
    total = sum(n for _, n in parts)
    available = available_memory()
    if available is None or total <= available:
        return
    named = [(what, n) for what, n in sorted(parts, key=lambda p: -p[1]) if n >= total / 100]  # the large ones
    if len(named) == 1:
        asked = f"{named[0][0]} needs"
    else:
        asked = ", ".join(f"{what} ({human(n)})" for what, n in named) + " together need"
    raise ConfigError(f"{asked} about {human(total)} of memory, but {human(available)} is available; "
                      "lower " + ("it" if len(named) == 1 else "them"))


def planned_bytes(cfg) -> list:
    """[(what, bytes)] the run allocates for sizes the config alone gives (columns known only from
    a file count as one: the file's own check, derivtrain/data/sizes.py, covers them)."""
    from derivtrain.data.sizes import BYTES_PER_COLUMN

    d, m, o = cfg.data, cfg.model, cfg.optim
    n, columns = _size(d.get("n_samples")), _size(d.get("n_features"))
    parts = []
    if n and columns:
        parts.append((f"data.n_samples={n} x data.n_features={columns}", n * columns * BYTES_PER_CELL))
    if columns:
        parts.append((f"data.n_features={columns}", columns * BYTES_PER_COLUMN))
    hidden = m.get("hidden_sizes")
    if OmegaConf.is_list(hidden) and all(_size(h) for h in hidden):
        widths = [columns or 1, *(int(h) for h in hidden), max(_size(d.get("n_classes")) or 1, 1)]
        weights = sum(a * b + b for a, b in zip(widths, widths[1:]))
        parts.append((f"model.hidden_sizes={list(hidden)}", weights * BYTES_PER_WEIGHT))
    components = _size(m.get("n_components"))
    if components:  # a covariance, its inverse and factor per component: d x d ("full"), else d numbers
        per = (columns or 1) ** 2 if m.get("covariance_type", "full") == "full" else columns or 1
        what = f"model.n_components={components}" + (f" with data.n_features={columns}" if columns else "")
        parts.append((what, components * per * 8 * 3))
    dense = _size(o.get("max_dense"))
    if dense:  # the Hessian and its Cholesky factor, in float64
        parts.append((f"optim.max_dense={dense}", dense * dense * 8 * 2))
    return parts


def _size(value) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
