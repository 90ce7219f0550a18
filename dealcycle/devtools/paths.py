"""Where the checkout is, for the tools that live in ``.dealcycle/`` beside the sources."""

from __future__ import annotations

import os
from pathlib import Path

#: What the scripts in ``scripts/`` install into, relative to the repository root.
STATE_DIRNAME = ".dealcycle"


def default_repo_root() -> Path:
    """The checkout this package was installed from, or the working directory.

    An editable install (``scripts/bootstrap``) imports this file from the checkout, so its
    grandparent holds ``pyproject.toml``. A regular install (the Docker image) lives in
    site-packages, where there is no ``.dealcycle/``; the working directory is then the best
    guess, and the lookups that use it simply find nothing there.
    """
    candidate = Path(__file__).resolve().parents[2]
    if (candidate / "pyproject.toml").is_file():
        return candidate
    return Path.cwd()


def is_executable_file(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
