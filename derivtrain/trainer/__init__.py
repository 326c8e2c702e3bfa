"""Training: the fitters (gradient loop, certified solver, Newton, EM), their contract, checkpoints.

The package is `trainer` (as conf/trainer): `derivtrain.train(*overrides, run_dir=None)`, the
command line's run from Python, is a plain function (derivtrain/training_api.py) that a package
of the same name would hide. Nothing is imported here: `import derivtrain.trainer.loop` stays cheap.
"""
