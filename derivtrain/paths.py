"""Where derivtrain's Hydra configs live, from a source checkout or from an installed wheel."""
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def config_dir() -> Path:
    """The `conf/` folder: inside the package in a wheel, beside it in a checkout."""
    for candidate in (_PACKAGE_DIR / "conf", _PACKAGE_DIR.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"derivtrain's conf/ folder is missing (looked in {_PACKAGE_DIR} and its parent)")
