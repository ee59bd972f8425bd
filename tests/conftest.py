"""Options and fixtures shared by the grader's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite tests/integration/goldens/*.toml from what the grader now says",
    )


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT
