"""Training: the fitters (gradient loop, certified solver, Newton, EM), their contract, checkpoints.

This package is also the function `derivtrain.train(*overrides, run_dir=None)` (defined in
derivtrain/training_api.py): the command line's run from Python. Why a callable package: once
anything imports a submodule (derivtrain.train.loop, as every run does), Python binds the name
`train` in the derivtrain package to this package, hiding any function of that name there. So
the package itself is made callable: calling it calls training_api.train. Nothing else is
imported here: `import derivtrain.train.loop` stays as cheap as before.
"""
import sys
import types


class _TrainPackage(types.ModuleType):
    def __call__(self, *overrides, run_dir=None):
        """derivtrain.train("model=svm", ..., run_dir=None) -> Run: see derivtrain/training_api.py."""
        from derivtrain.training_api import train

        return train(*overrides, run_dir=run_dir)


sys.modules[__name__].__class__ = _TrainPackage
