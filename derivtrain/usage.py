"""`--help` for the entry points: what to type, without Hydra's internal schema groups.

Hydra's own help lists every config group it can see, the `schema/*` groups that type-check the
options included; ours lists the groups a user picks from, plugins' options among them (derivtrain/cli.py:main_help).
"""
import sys

MAIN_USAGE = """\
usage: python -m derivtrain [group=option ...] [group.key=value ...]
       python -m derivtrain -m group=a,b group.key=x,y       a sweep: one job per combination

Trains the configured model, evaluates it, writes a run folder
(outputs/<date>/<time>-<model>-<data>: metrics.json, checkpoints/, TensorBoard events).

Config groups (* = default; a model brings its own loss and regularizer):
{groups}
Every key and its value: python -m derivtrain --cfg job [overrides]
Other commands: python -m derivtrain.gradcheck --help, python -m derivtrain.analyze --help,
                python -m derivtrain.plugins --help; Hydra's flags: python -m derivtrain --hydra-help
Exit codes: 0 success; 2 bad configuration or input; 130 interrupted; 1 anything else.
"""


def wants_help(argv) -> bool:
    return any(arg in ("-h", "--help") for arg in argv)


def print_help(text: str) -> int:
    print(text.rstrip("\n"))
    return 0


def module_help(module_name: str) -> str:
    """A module's docstring is its usage (derivtrain.gradcheck, derivtrain.analyze, derivtrain.plugins)."""
    return sys.modules[module_name].__doc__ or module_name
