"""optim=auto's batch size for the gradient loop when trainer.batch_size is null.

Full batch means one optimizer step per epoch. On a small table that is the right call (a step
is a few hundred microseconds, the whole curve is seen every epoch), but on a large one the
validation loss keeps improving by ~0.01 % an epoch for hundreds of epochs: the default MLP on
100,000 synthetic rows ran to the 1000-epoch cap, 22x slower than scikit-learn's MLPClassifier,
whose minibatches of 200 take 400 steps an epoch. So, under optim=auto, a model the gradient loop
trains because nothing certifies its optimum (the MLP, plugin models) gets minibatches of
AUTO_BATCH_SIZE rows once its training rows exceed AUTO_BATCH_ROWS.

Measured (OMP_NUM_THREADS=1 python scripts/bench_auto_batch.py, 2026-12-06, a 2-core machine
shared with other jobs): the default MLP on data=synthetic, CPU seconds of the whole run, the same
test accuracy in every row of a size (minibatches with early stopping's minibatch defaults,
derivtrain/trainer/stop_rules.py):

    training rows   full batch            minibatches of 512     of 1024           of 2048
    2,100           29 epochs, 0.42 s     12 epochs, 0.28 s      13 epochs, 0.28 s  14 epochs, 0.26 s
    2,800           70 epochs, 0.35 s     45 epochs, 0.39 s      27 epochs, 0.30 s  35 epochs, 0.32 s
    4,200           46 epochs, 0.61 s     13 epochs, 0.33 s      27 epochs, 0.34 s  30 epochs, 0.33 s
    70,000          1000 (the cap), 28.8 s 36 epochs, 2.91 s     32 epochs, 1.70 s  59 epochs, 2.02 s

Up to a few thousand rows every choice costs a few tenths of a second, and full batch keeps what
only it has (a deterministic path, the stationarity test), so the threshold is 4096 rows:
diabetes, digits and breast_cancer (at most 1,257 training rows) keep their full-batch results.
1024 rows: the cheapest on the large table, 17x less than full batch (fewer, larger steps than
512 cost less Python per row; 2048 needs twice the epochs).
A convex model is not affected (its certified solver is full batch by nature), nor is a run that
names an optimizer (optim=adam: full batch means full batch) or a batch size.
"""
from typing import Optional

AUTO_BATCH_ROWS = 4096  # training rows above which optim=auto's gradient loop takes minibatches
AUTO_BATCH_SIZE = 1024


def auto_batch_size(optim, trainer, objective, n_train: int, in_memory: bool = True
                    ) -> tuple[Optional[int], Optional[str]]:
    """(the batch size the gradient loop uses, one line saying why, or None when the user chose)."""
    if trainer.batch_size is not None:
        return int(trainer.batch_size), None
    # mixtures keep EM's full-batch statistics; rows read from disk come in chunks already
    if optim.name != "auto" or hasattr(objective.model, "m_step") or not in_memory:
        return None, None
    if n_train <= AUTO_BATCH_ROWS:
        return None, (f"optim=auto: full batch ({n_train} training rows <= {AUTO_BATCH_ROWS}; "
                      "trainer.batch_size=N for minibatches)")
    return AUTO_BATCH_SIZE, (f"optim=auto: minibatches of {AUTO_BATCH_SIZE} rows ({n_train} training rows > "
                             f"{AUTO_BATCH_ROWS}: one full-batch step per epoch would need hundreds of epochs; "
                             "trainer.batch_size=N to choose)")
