"""MkDocs hook: the lab-file reference, generated from the code at every ``mkdocs build``.

A page that holds one of the markers below gets it replaced by tables drawn from the grader
itself (``grader.labs.params.PARAMS``, ``grader.labs.spec``'s dataclasses, the built-in lab files),
so the reference cannot drift from what the loader accepts:

- ``<!-- reference:labs -->``: each built-in lab's checks, points and mode;
- ``<!-- reference:tables -->``: the lab file's tables other than checks (``[limits]``...);
- ``<!-- reference:checks -->``: every check id, what it does and its parameters;
- ``<!-- include:CHANGELOG.md -->``: the repository's changelog, less its title.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import typing
from pathlib import Path
from typing import Any

from grader.labs import spec as lab_module
from grader.labs.params import PARAMS
from grader.labs.spec import builtin_labs, load_lab_file


def _cell(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text.replace("|", "\\|").replace("\n", " ") or " "


def _field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings (the string literal under each field), read from the source."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for node, after in zip(body, body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def _default(f: dataclasses.Field[Any]) -> object:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def labs_table() -> str:
    out = []
    for lab_id, path in builtin_labs().items():
        lab = load_lab_file(path)
        total = sum(c.max_score for c in lab.checks)
        out.append(f"### `{lab_id}`: {lab.title} ({total:g} points)\n")
        out.append("| check id | points | mode |\n|---|---:|---|")
        for c in lab.checks:
            anchor = c.id.replace(".", "")  # MkDocs' heading id of "### `<id>`"
            out.append(f"| [`{c.id}`](#{anchor}) | {c.points:g} | {c.mode} |")
        out.append("")
    return "\n".join(out)


def tables_table() -> str:
    out = []
    for table, cls in (("limits", lab_module.Limits), ("integrity", lab_module.Integrity)):
        docs = _field_docs(cls)
        out.append(f"### `[{table}]`\n\n{' '.join((cls.__doc__ or '').split())}\n")
        out.append("| key | default | meaning |\n|---|---|---|")
        for f in dataclasses.fields(cls):
            out.append(f"| `{f.name}` | `{_cell(_default(f))}` | {_cell(docs.get(f.name, ''))} |")
        out.append("")
    return "\n".join(out)


def checks_table() -> str:
    used: dict[str, list[str]] = {}
    for lab_id, path in builtin_labs().items():
        for c in load_lab_file(path).checks:
            used.setdefault(c.id, []).append(f"{lab_id} ({c.points:g}, {c.mode})")
    out = []
    for check_id, cls in sorted(PARAMS.items()):
        out.append(f"### `{check_id}`\n\n{' '.join((cls.__doc__ or '').split())}\n")
        out.append(f"Used by: {', '.join(used.get(check_id, [])) or 'no built-in lab'}.\n")
        fields = dataclasses.fields(cls)
        if fields:
            hints = typing.get_type_hints(cls)
            out.append("| parameter | type | default | meaning |\n|---|---|---|---|")
            for f in fields:
                hint = getattr(hints[f.name], "__name__", str(hints[f.name]))
                out.append(
                    f"| `{f.name}` | `{_cell(str(hint))}` | `{_cell(_default(f))}` "
                    f"| {_cell(f.metadata.get('help', ''))} |"
                )
            out.append("")
    return "\n".join(out)


MARKERS = {
    "<!-- reference:labs -->": labs_table,
    "<!-- reference:tables -->": tables_table,
    "<!-- reference:checks -->": checks_table,
}


ROOT = Path(__file__).resolve().parents[2]


def changelog() -> str:
    lines = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines)


MARKERS["<!-- include:CHANGELOG.md -->"] = changelog


def on_page_markdown(markdown: str, **_: Any) -> str:
    for marker, make in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown
