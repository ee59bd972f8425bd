"""A fresh clone's pytest: the grader importable, and its plugin loaded, before any install.

``pytest checks/ --submission path/to/my-tp6 --lab tp6`` (or with no path) from a clone of the
grader works before ``pip install -e .``: this folder is put on ``sys.path`` and the plugin is
registered from here. Once installed, the ``pytest11`` entry point has registered it already,
under the same name, and this changes nothing. Not ``pytest_plugins``: a student's
``pytest --lab tp6`` with an editable install reads this file as a conftest of the rubric's
folder, below their own rootdir, where pytest refuses ``pytest_plugins``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # pytest's default import mode did it; --import-mode=importlib not
    sys.path.insert(0, str(ROOT))

PLUGIN = "grader.plugin"


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Register the plugin when no entry point did (pytest then adds its options too)."""
    if pluginmanager.get_plugin(PLUGIN) is None:
        import grader.plugin

        pluginmanager.register(grader.plugin, PLUGIN)


def pytest_configure(config: pytest.Config) -> None:
    """``pytest --lab tp6`` with no path: the plugin's own hook that points pytest at the rubric
    runs before conftests are read, so when the plugin came from here, point it here."""
    from grader.labs.spec import rubric_dir

    asked = config.getoption("submission", None) or config.getoption("lab", None)
    if asked and config.args_source is pytest.Config.ArgsSource.TESTPATHS:
        config.args[:] = [str(rubric_dir())]
