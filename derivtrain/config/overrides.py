"""Command-line overrides that Hydra would answer with an internal error, said plainly first."""
import re

from derivtrain.config.schemas import GROUPS
from derivtrain.errors import ConfigError

_OPTION_NAME = r"[A-Za-z_][\w.-]*"


def check_overrides(args) -> None:
    """Group choices on the command line must be option names (`model=svm`, or a list of them):
    Hydra answers `model=0` or `model=[1,2]` with an internal error, so say it plainly first."""
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or key.lstrip("+~") not in GROUPS:
            continue
        for wrapper in ("[", "choice("):  # a list, or Optuna's categorical choice(a,b)
            if value.startswith(wrapper) and value.endswith(("]", ")")):
                value = value[len(wrapper):-1]
        names = value.split(",")
        if not all(re.fullmatch(_OPTION_NAME, n.strip()) for n in names):
            raise ConfigError(f"{arg}: a config group takes an option name, e.g. {key.lstrip('+~')}="
                              f"{'svm' if key.endswith('model') else 'default'}; "
                              f"`python -m derivtrain --help` lists the options")
