"""A fresh clone's pytest: the grader importable, and its plugin loaded, before any install.

``pytest checks/ --submission path/to/my-tp6 --lab tp6`` (or with no path) from a clone of the
grader works before ``pip install -e .``: this folder is put on ``sys.path`` and the plugin is
loaded from here. Once installed, the ``pytest11`` entry point has loaded it already, under the
same name, and listing it here changes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # pytest's default import mode did it; --import-mode=importlib not
    sys.path.insert(0, str(ROOT))

pytest_plugins = ["grader.plugin"]


def pytest_configure(config: pytest.Config) -> None:
    """``pytest --lab tp6`` with no path: the plugin's own hook that points pytest at the rubric
    runs before conftests are read, so when the plugin came from here, point it here."""
    from grader.labs.spec import rubric_dir

    asked = config.getoption("submission", None) or config.getoption("lab", None)
    if asked and config.args_source is pytest.Config.ArgsSource.TESTPATHS:
        config.args[:] = [str(rubric_dir())]
