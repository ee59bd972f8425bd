"""Contracts between parts: check ids, built-in labs, who imports docker and requests, __all__."""

from __future__ import annotations

import ast
import tomllib
from collections import Counter
from pathlib import Path

import grader
from grader.labs.params import PARAMS

ROOT = Path(__file__).resolve().parents[2]
GRADER = ROOT / "grader"
CHECKS = ROOT / "checks"


def check_decorator_ids() -> list[str]:
    """Every id of a ``@check("<id>")`` decorator in checks/*.py, in order, repeats kept."""
    ids = []
    for path in sorted(CHECKS.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for deco in node.decorator_list:
                if (
                    isinstance(deco, ast.Call)
                    and isinstance(deco.func, ast.Name)
                    and deco.func.id == "check"
                ):
                    assert isinstance(deco.args[0], ast.Constant), f"{path.name}:{deco.lineno}"
                    ids.append(str(deco.args[0].value))
    return ids


def imported_roots(path: Path) -> set[str]:
    """Top-level package names a module imports (``import a.b`` and ``from a.b import c``)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def sources() -> list[Path]:
    return sorted(GRADER.rglob("*.py")) + sorted(CHECKS.glob("*.py"))


def importers(package: str) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in sources() if package in imported_roots(p)]


def test_rubric_check_ids_equal_params_ids() -> None:
    ids = check_decorator_ids()
    assert len(ids) == len(PARAMS) == 33
    assert set(ids) == set(PARAMS)


def test_each_check_id_is_decorated_once() -> None:
    repeated = {cid: n for cid, n in Counter(check_decorator_ids()).items() if n != 1}
    assert repeated == {}


def test_builtin_lab_check_ids_are_known() -> None:
    labs = sorted((GRADER / "labs").glob("*.toml"))
    assert labs
    for path in labs:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        unknown = set(data["checks"]) - set(PARAMS)
        assert unknown == set(), path.name


def test_import_scan_sees_both_import_forms(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import docker.errors\nfrom requests import Session\nfrom . import x\n")
    assert imported_roots(module) == {"docker", "requests"}


def test_only_engine_imports_docker() -> None:
    # one module of the engine package imports the SDK; its other parts use it through sdk
    assert importers("docker") == ["grader/engine/sdk.py"]


def imported_modules(path: Path) -> set[str]:
    """Full dotted names a module imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_only_probe_and_registry_make_http_requests() -> None:
    """probe.py (the app) and registry.py (the registry API) are the HTTP clients; the engine's
    sdk.py may only catch the exceptions the Docker SDK leaks from its transport (DESIGN's
    boundary table), nothing else from requests/urllib3; probe.py alone reaches into urllib3
    (its connections made inside a container's namespace)."""
    sdk = "grader/engine/sdk.py"
    assert importers("requests") == [sdk, "grader/stages/probe.py", "grader/stages/registry.py"]
    transport = {
        m for m in imported_modules(ROOT / sdk) if m.split(".")[0] in ("requests", "urllib3")
    }
    assert transport == {"requests.exceptions", "urllib3.exceptions"}
    assert importers("urllib3") == [sdk, "grader/stages/probe.py"]


def test_checks_import_neither_docker_nor_requests() -> None:
    for path in sorted(CHECKS.glob("*.py")):
        assert imported_roots(path) & {"docker", "requests", "urllib3"} == set(), path.name


def test_grader_all_names_exist() -> None:
    assert grader.__all__
    missing = [name for name in grader.__all__ if not hasattr(grader, name)]
    assert missing == []
    assert all(part.isdigit() for part in grader.__version__.split("."))
