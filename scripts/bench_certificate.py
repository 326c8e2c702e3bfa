"""What one certificate check costs, in epochs of the gradient loop that it checks.

    python scripts/bench_certificate.py [--rows 1250000] [--features 100] [--repeats 3]

For a linear SVM (hinge + L2, the kinked case: four barrier widths) on a synthetic table, full
batch and minibatch (4096 rows): the median time of one epoch of `optim=sgd` and of one
`certify` of its weights, and their ratio. The epochs step as the gradient loop does: minibatches
by hand (derivtrain/losses/linear_svm_rows.py) on one thread, the full batch through the fused
Function (derivtrain/losses/linear_svm.py). derivtrain/trainer/epoch_end.py's
FIRST_CHECK_IN_EPOCHS (the cost assumed before the first check is measured) comes from it; the
loop then budgets checks by their measured time (trainer/schedule.py: TimeShare).
"""
import argparse
import statistics
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_250_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from hydra import compose, initialize_config_dir

    from derivtrain.config import register_schemas
    from derivtrain.data import build_data
    from derivtrain.convex.certificate import certify
    from derivtrain.paths import config_dir
    from derivtrain.run import build_objective
    from derivtrain.threads import threads_for_rows

    register_schemas()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "model=svm", "data=synthetic", f"data.n_samples={args.rows}", f"data.n_features={args.features}"])
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    objective = build_objective(cfg, data)
    X = data.train.X
    targets = objective.loss.encode_targets(data.train.y, data.spec.n_outputs)
    optimizer = torch.optim.SGD(objective.model.parameters(), lr=0.01)
    args.rows = len(X)
    print(f"{args.rows} training rows x {args.features} float32, hinge + L2; medians of {args.repeats}")
    objective.use_full_batch(X, targets)
    for batch in (None, 4096):
        epochs, checks = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            with threads_for_rows(X, batch or args.rows):
                for a in range(0, args.rows, batch or args.rows):
                    optimizer.zero_grad(set_to_none=True)
                    if batch is None:
                        objective.full_batch().backward()
                    else:
                        objective.step_by_hand(X[a:a + batch], targets[a:a + batch])
                    optimizer.step()
            epochs.append(time.perf_counter() - start)
            start = time.perf_counter()
            certify(objective, X, targets)
            checks.append(time.perf_counter() - start)
        epoch, check = statistics.median(epochs), statistics.median(checks)
        print(f"batch {batch or 'full':>5}: epoch {epoch * 1e3:8.1f} ms, check {check * 1e3:8.1f} ms, "
              f"check = {check / epoch:.2f} epochs")


if __name__ == "__main__":
    main()
