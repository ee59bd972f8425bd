"""The Jinja environment of the HTML reports: autoescaped templates, the catalogue as ``t``."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2

from grader.i18n import t

TEMPLATES = Path(__file__).parent / "templates"


@functools.cache
def environment() -> jinja2.Environment:
    """Templates from ``grader/report/templates``; every value escaped unless marked safe."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # everything the student controls is escaped, whatever the file name
        undefined=jinja2.StrictUndefined,  # a typo in a template fails the tests, not silently
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # compiled once per machine, not once per run (~0.1 s): jinja's own per-user cache
        # folder in the temporary directory, keyed by each template's source
        bytecode_cache=jinja2.FileSystemBytecodeCache(),
    )
    env.globals["t"] = t
    env.filters["num"] = lambda value: f"{value:g}"
    env.filters["mb"] = lambda size: f"{size / 1e6:.1f} MB"
    return env


def compile_all() -> None:
    """Compile every template now (the environment keeps them compiled)."""
    env = environment()
    for name in env.list_templates(extensions=["j2"]):
        env.get_template(name)


def render(name: str, **context: Any) -> str:
    """Render one template with ``context``."""
    return environment().get_template(name).render(**context)
