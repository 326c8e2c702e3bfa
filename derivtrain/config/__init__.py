"""Configuration: the schemas of every config group, the one pre-flight check, the choice lists.

    schemas/      one module per group (data, model + loss + regularizer, optim, trainer + logger +
                  diagnostics, analysis, sweep): its dataclass schemas, its choice lists, its checks
    preflight.py  validate(cfg): the groups' checks in turn, then those that need the classes
    values.py     value checks across groups: interpolations, finiteness, seeds, numeric ranges
    signature.py  a `_target_` node checked against the signature of the code it names
    solver.py     the chosen solver suits the model, loss and penalty; which fitter optim picks
    overrides.py  command-line group choices that must be option names

Only omegaconf and Hydra's ConfigStore are imported here: the command line reads this package
before anything heavy loads. The names below are the package's public ones, as before the split.
"""
from derivtrain.choices import EM_INITS, MULTICLASS
from derivtrain.config.overrides import check_overrides
from derivtrain.config.preflight import validate
from derivtrain.config.schemas import GROUPS, SCHEMAS, register_schemas
from derivtrain.config.schemas.analysis import (AnalysisSchema, CompareSchema, IntegratedGradientsSchema,
                                                KernelShapSchema, NoiseTunnelSchema, SmoothGradSchema)
from derivtrain.config.schemas.data import (BlobsDataSchema, BundledDataSchema, CountsDataSchema, CsvDataSchema,
                                            DataSchema, NpyDataSchema, NpzDataSchema, SvmlightDataSchema,
                                            SyntheticDataSchema, TASKS, sparse_data)
from derivtrain.config.schemas.model import (ElasticNetSchema, GaussianMixtureSchema, GaussianModelSchema,
                                             HingeLossSchema, LinearModelSchema, LogisticModelSchema, LossSchema,
                                             MLPModelSchema, MulticlassHingeLossSchema, PoissonModelSchema,
                                             RegularizerSchema, SVMModelSchema)
from derivtrain.config.schemas.optim import (FULL_BATCH_OPTIMIZERS, GRADIENT_OPTIMIZERS, HESSIANS, OPTIMIZERS,
                                             PRECISIONS, SCHEDULES, AdamSchema, AutoSchema, CertifiedSchema,
                                             EMSchema, LBFGSSchema, NewtonSchema, OptimSchema, SGDSchema)
from derivtrain.config.schemas.sweep import SweepSchema
from derivtrain.config.schemas.trainer import (HESSIAN_METHODS, DiagnosticsSchema, EarlyStoppingSchema,
                                               LoggerSchema, TrainerSchema, check_device_name)

_SCHEMAS = SCHEMAS  # the name before the split

__all__ = ["GROUPS", "SCHEMAS", "check_device_name", "check_overrides", "register_schemas", "sparse_data",
           "validate", "EM_INITS", "MULTICLASS", "TASKS", "OPTIMIZERS", "GRADIENT_OPTIMIZERS",
           "FULL_BATCH_OPTIMIZERS", "PRECISIONS", "HESSIANS", "SCHEDULES", "HESSIAN_METHODS"]
