"""Regularization paths: one convex linear model solved at many strengths, each certified.

    grid.py       the strengths: given, or from the one that zeroes every weight down a few decades
    solve.py      the points, strongest first, each warm-started from the one before (PathPoint)
    smooth_path.py  a smooth loss with L2: Newton carried along the path, set up once
    folds.py      K-fold cross-validation along the path, in one process
    choose.py     the strength the validation metric picks (best mean, or the one-standard-error rule)
    table.py      path.csv: every point's strength, objective, gap, metric, non-zeros and weights
    pictures.py   TensorBoard figures: coefficient paths, metric vs strength, non-zeros vs strength
    phase.py      fit_path: the run's fit phase when regularizer.path is set (derivtrain/run.py)
"""
