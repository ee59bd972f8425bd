"""grader/i18n.py and messages/{fr,en}.toml: same keys, same placeholders, every outcome covered."""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader import i18n
from grader.facts.results import Feedback
from grader.i18n import FIELDS, LANGS, catalogue, feedback, placeholders, t
from grader.labs.params import PARAMS

ROOT = Path(__file__).resolve().parents[2]
CHECKS = sorted((ROOT / "checks").glob("*.py"))
MESSAGES = ROOT / "grader" / "messages"


def flatten(node: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    out: dict[tuple[str, ...], str] = {}
    for key, value in node.items():
        if isinstance(value, dict):
            out.update(flatten(value, (*prefix, key)))
        else:
            out[(*prefix, key)] = value
    return out


def load(lang: str) -> dict[tuple[str, ...], str]:
    with (MESSAGES / f"{lang}.toml").open("rb") as handle:
        return flatten(tomllib.load(handle))


def _check_id(func: ast.FunctionDef) -> str | None:
    for deco in func.decorator_list:
        if (
            isinstance(deco, ast.Call)
            and isinstance(deco.func, ast.Name)
            and deco.func.id == "check"
            and deco.args
            and isinstance(deco.args[0], ast.Constant)
        ):
            return str(deco.args[0].value)
    return None


def _grade_calls(func: ast.FunctionDef, where_prefix: str) -> list[tuple[str, str, frozenset[str]]]:
    """(file:line, outcome, keyword names) of the grade.fail/grade.note calls in a function."""
    found = []
    for call in ast.walk(func):
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr in ("fail", "note")
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "grade"
        ):
            continue
        where = f"{where_prefix}:{call.lineno}"
        assert all(k.arg is not None for k in call.keywords), f"{where}: **kwargs"
        if call.args:
            first = call.args[0]
            assert isinstance(first, ast.Constant), f"{where}: outcome not a literal"
            outcome = str(first.value)
        else:
            assert call.func.attr == "fail", f"{where}: note() needs an outcome"
            outcome = "failed"
        names = frozenset(str(k.arg) for k in call.keywords) - {"evidence"}
        found.append((where, outcome, names))
    return found


def rubric_calls() -> list[tuple[str, str, str, frozenset[str]]]:
    """(file:line, check id, outcome, keyword names) of every grade.fail/grade.note call,
    including those in a module's helper functions that a check calls."""
    found = []
    for path in CHECKS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        funcs = [f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)]
        helpers = {f.name: f for f in funcs if _check_id(f) is None}
        for func in funcs:
            check_id = _check_id(func)
            if check_id is None:
                continue
            called = {
                c.func.id
                for c in ast.walk(func)
                if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
            }
            for body in [func, *(helpers[n] for n in sorted(called) if n in helpers)]:
                for where, outcome, names in _grade_calls(body, path.name):
                    found.append((where, check_id, outcome, names))
    return found


def verdict_keys() -> set[str]:
    """Every ``not_run.*`` / ``error.*`` key literal in verdicts.py and batch.py."""
    keys = set()
    for name in ("grading/verdicts.py", "classrun/batch.py", "grading/session.py"):
        tree = ast.parse((ROOT / "grader" / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                head, _, rest = node.value.partition(".")
                if head in ("not_run", "error") and rest and rest.isidentifier():
                    keys.add(node.value)
    return keys


def fb_calls() -> list[tuple[str, frozenset[str]]]:
    """(key, keyword names) of every ``_fb("<key>", ...)`` call in verdicts.py."""
    tree = ast.parse((ROOT / "grader" / "grading" / "verdicts.py").read_text(encoding="utf-8"))
    calls = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "_fb"
            and isinstance(node.args[0], ast.Constant)
        ):
            calls.append((str(node.args[0].value), frozenset(str(k.arg) for k in node.keywords)))
    return calls


# -- the two catalogues agree ----------------------------------------------------------------


def test_fr_and_en_have_the_same_keys() -> None:
    fr, en = load("fr"), load("en")
    assert sorted(set(fr) - set(en)) == []
    assert sorted(set(en) - set(fr)) == []


def test_fr_and_en_have_the_same_placeholders_per_key() -> None:
    fr, en = load("fr"), load("en")
    differ = {
        ".".join(k): (placeholders(fr[k]), placeholders(en[k]))
        for k in fr.keys() & en.keys()
        if placeholders(fr[k]) != placeholders(en[k])
    }
    assert differ == {}


def test_every_template_is_a_string() -> None:
    for lang in LANGS:
        assert all(isinstance(v, str) for v in load(lang).values()), lang


# -- every message the code asks for exists --------------------------------------------------


def test_the_rubric_has_fail_and_note_calls() -> None:
    calls = rubric_calls()
    assert {c[1] for c in calls} == set(PARAMS)
    assert ("dockerfile.present", "other_name") in {(c[1], c[2]) for c in calls}


@pytest.mark.parametrize("lang", LANGS)
def test_every_rubric_outcome_has_all_fields(lang: str) -> None:
    messages = load(lang)
    missing = [
        f"{where} {cid}:{outcome}.{field}"
        for where, cid, outcome, _ in rubric_calls()
        for field in FIELDS
        if (cid, outcome, field) not in messages
    ]
    assert missing == []


@pytest.mark.parametrize("lang", LANGS)
def test_rubric_calls_fill_every_placeholder(lang: str) -> None:
    messages = load(lang)
    unfilled = {}
    for where, cid, outcome, names in rubric_calls():
        for field in FIELDS:
            needed = placeholders(messages.get((cid, outcome, field), ""))
            if needed - names:
                unfilled[f"{where} {cid}:{outcome}.{field}"] = sorted(needed - names)
    assert unfilled == {}


def test_verdict_keys_are_found() -> None:
    keys = verdict_keys()
    assert {"not_run.no_dockerfile", "not_run.never_ready_loopback", "error.engine"} <= keys
    assert "error.internal" in keys


@pytest.mark.parametrize("lang", LANGS)
def test_every_verdict_key_has_all_fields(lang: str) -> None:
    messages = load(lang)
    missing = [
        f"{key}.{field}"
        for key in sorted(verdict_keys())
        for field in FIELDS
        if (*key.split("."), field) not in messages
    ]
    assert missing == []


@pytest.mark.parametrize("lang", LANGS)
def test_verdict_calls_fill_every_placeholder(lang: str) -> None:
    messages = load(lang)
    unfilled = {}
    for key, names in fb_calls():
        for field in FIELDS:
            needed = placeholders(messages.get((*key.split("."), field), ""))
            if needed - names:
                unfilled[f"{key}.{field}"] = sorted(needed - names)
    assert unfilled == {}


# -- t() and feedback() --------------------------------------------------------------------------


def test_t_fills_parameters() -> None:
    assert t("not_run.probe_failed.summary", "en", url="http://x/", cause="reset") == (
        "Not run: the request to http://x/ failed (reset)."
    )
    assert t("http.root_status:failed.summary", "fr", status=500) == (
        "La page répond avec le statut 500."
    )


def test_t_leaves_unknown_placeholders_visible() -> None:
    assert t("not_run.probe_failed.summary", "en", url="http://x/") == (
        "Not run: the request to http://x/ failed ({cause})."
    )


def test_t_does_not_format_parameter_values() -> None:
    out = t("http.root_text:failed.found", "en", body="{cause} {0}")
    assert out == '"{cause} {0}"'


def test_t_of_a_missing_key_is_the_key() -> None:
    assert t("no.such.key", "fr") == "no.such.key"


def test_t_of_an_unknown_language_is_english() -> None:
    assert t("report.score", "de") == "Score"
    assert t("report.score", "fr") == "Note"


@pytest.fixture
def tiny_catalogues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Catalogues where fr lacks one key that en has."""
    (tmp_path / "en.toml").write_text(
        '[greeting]\nhello = "Hello {name}"\nbye = "Bye {name}"\n', encoding="utf-8"
    )
    (tmp_path / "fr.toml").write_text('[greeting]\nhello = "Bonjour {name}"\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "MESSAGES_DIR", tmp_path)
    catalogue.cache_clear()
    yield
    catalogue.cache_clear()


@pytest.mark.usefixtures("tiny_catalogues")
def test_t_falls_back_to_english_for_a_missing_french_key() -> None:
    assert t("greeting.hello", "fr", name="Ada") == "Bonjour Ada"
    assert t("greeting.bye", "fr", name="Ada") == "Bye Ada"


def test_feedback_builds_the_four_parts_and_evidence() -> None:
    fb = feedback("http.root_text", "failed", "en", "<body/>", text="Hello", body="Bye")
    assert fb == Feedback(
        summary="The page does not show the expected text.",
        expected='a page containing "Hello"',
        found='"Bye"',
        fix='Make the route return "Hello" exactly as the lab writes it.',
        evidence="<body/>",
    )


def test_feedback_in_french() -> None:
    fb = feedback("dockerfile.present", "other_name", "fr", name="dockerfile")
    assert fb.summary == "Dockerfile trouvé sous le nom dockerfile."
    assert fb.found == "dockerfile"
    assert fb.evidence == ""


def test_feedback_of_an_unknown_outcome_is_empty_not_the_key() -> None:
    fb = feedback("http.root_text", "no_such_outcome", "en")
    assert fb == Feedback(summary="", expected="", found="", fix="")
