"""README's plugin walk-throughs run as written: their files written out from the fenced blocks after a
marker, their commands executed in order.

`pip install -e PKG` becomes an install into a private folder (`site`), so the tests leave the
environment as they found it. `python -m derivtrain ...` and `python -m derivtrain.plugins` run in
this process with that folder first on the path (tests/conftest.py:run_main), as they would with it on
PYTHONPATH, without importing torch again each time; `python -m pytest ...` runs in a subprocess (a
pytest inside this one would share its plugins and fixtures).
"""
import os
import re
import subprocess
import sys

from tests.conftest import Completed, run_main


def write_files(section: str, marker: str, folder) -> int:
    """Write every fenced block that follows `<!-- {marker}: PATH -->` to folder/PATH; how many."""
    files = re.findall(rf"<!-- {marker}: (\S+) -->\n```\w*\n(.*?)```", section, flags=re.S)
    for rel, text in files:
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return len(files)


def commands(section: str, fence: str) -> list:
    """The lines of the section's ```{fence} blocks, in order."""
    blocks = re.findall(rf"```{fence}\n(.*?)```", section, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def run(command: str, folder, extra=()) -> Completed:
    """One walk-through command, run from `folder` (its packages installed under folder/site); `extra`
    overrides follow a derivtrain run's own."""
    site = folder / "site"
    args = command.split()
    if args[:3] == ["pip", "install", "-e"]:
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                               "--target", str(site), str(folder / args[3])], capture_output=True, text=True)
        return Completed(proc.returncode, proc.stdout, proc.stderr)
    assert args[:2] == ["python", "-m"], command
    if args[2] == "pytest":
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
        proc = subprocess.run([sys.executable, *args[1:]], capture_output=True, text=True, cwd=folder, env=env)
        return Completed(proc.returncode, proc.stdout, proc.stderr)
    extra = list(extra) if args[2] == "derivtrain" else []
    return run_main(*args[3:], *extra, module=args[2], cwd=folder, path=[site])
