"""Pipeline.STAGE_INPUTS: the declared stages and inputs are what the stages' code reads."""

from __future__ import annotations

import ast
from pathlib import Path

from grader.grading import diagnostics
from grader.grading.pipeline import STAGE_INPUTS

GRADING = Path(__file__).resolve().parents[2] / "grader" / "grading"
CHAIN = ("stage_cache", "static_stages", "build_stages", "run_stages", "pipeline")
"""The modules of Pipeline's class chain, base first."""


def _methods(module: str, class_only: bool = True) -> dict[str, ast.FunctionDef]:
    tree = ast.parse((GRADING / f"{module}.py").read_text(encoding="utf-8"))
    bodies = (
        [n.body for n in tree.body if isinstance(n, ast.ClassDef)] if class_only else [tree.body]
    )
    return {n.name: n for body in bodies for n in body if isinstance(n, ast.FunctionDef)}


def _attrs(node: ast.AST, owner: str) -> set[str]:
    """Attributes read on the name ``owner`` (``self.x``, ``pipeline.x``) inside ``node``."""
    return {
        n.attr
        for n in ast.walk(node)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == owner
    }


def _diagnostics_reads(node: ast.AST, helpers: dict[str, ast.FunctionDef]) -> set[str]:
    """What the ``diagnostics`` functions a stage hands itself to read of the pipeline."""
    read: set[str] = set()
    for call in ast.walk(node):
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "diagnostics"
        ):
            name = call.func.attr
            read |= _attrs(helpers[name], "pipeline")
            if name == "timed_stop":  # getattr(pipeline, stage) for each stage of PRE_STOP
                read |= set(diagnostics.PRE_STOP)
    return read


def stage_reads() -> dict[str, set[str]]:
    """Stage -> the stages its property (and the private methods it calls) read."""
    methods: dict[str, ast.FunctionDef] = {}
    for module in CHAIN:
        methods.update(_methods(module))
    helpers = _methods("diagnostics", class_only=False)
    found = {}
    for stage in STAGE_INPUTS:
        seen: set[str] = set()
        todo, read = [stage], set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            body = methods[name]
            for attr in _attrs(body, "self") | _diagnostics_reads(body, helpers):
                if attr in STAGE_INPUTS and attr != stage:
                    read.add(attr)
                elif attr.startswith("_") and attr in methods:
                    todo.append(attr)
        found[stage] = read
    return found


def test_every_stage_the_pipeline_caches_is_declared() -> None:
    cached = set()
    for module in CHAIN:
        for node in ast.walk(ast.parse((GRADING / f"{module}.py").read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "_once"
                and isinstance(node.args[0], ast.Constant)
            ):
                cached.add(node.args[0].value)
    assert cached == set(STAGE_INPUTS) - {"container"}  # container: start, checked ready


def test_each_stage_declares_exactly_the_stages_it_reads() -> None:
    declared = {stage: set(inputs) for stage, inputs in STAGE_INPUTS.items()}
    assert stage_reads() == declared


def test_the_stages_form_a_graph_without_cycles() -> None:
    order: list[str] = []

    def visit(stage: str, path: tuple[str, ...]) -> None:
        assert stage not in path, f"cycle: {' -> '.join((*path, stage))}"
        for needed in STAGE_INPUTS[stage]:
            visit(needed, (*path, stage))
        if stage not in order:
            order.append(stage)

    for stage in STAGE_INPUTS:
        visit(stage, ())
    assert set(order) == set(STAGE_INPUTS)
