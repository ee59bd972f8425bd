"""grader/grading/known_breakages.py and known_breakages.toml: each pattern on a real log
excerpt, completeness."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from grader.dockerfile.parse import parse_text
from grader.facts import DockerfileFacts
from grader.grading.known_breakages import CATALOGUE, catalogue, diagnose, parse_catalogue

LOGS_DIR = Path(__file__).parent / "logs"
"""Real log excerpts, one per catalogue entry, named ``<entry id>.<build|run>.log``: the grader's
own runs of the bundled submissions (stand-in images), or the same programs run on this machine
(their paths as printed). Build excerpts keep the classic builder's ``Step`` lines around them."""
LOGS: dict[str, tuple[str, str]] = {
    path.name.split(".")[0]: (path.name.split(".")[1], path.read_text(encoding="utf-8"))
    for path in sorted(LOGS_DIR.glob("*.log"))
}

PIP_USER = parse_text(
    "FROM python:3.11-slim\nRUN pip install --user -r requirements.txt\nUSER 1000\n"
    'ENTRYPOINT ["python", "-m", "gunicorn"]\n',
    Path("Dockerfile"),
)


def _dockerfile_for(entry_id: str) -> DockerfileFacts | None:
    return PIP_USER if entry_id == "pip_user_then_user" else None


def test_every_catalogue_entry_has_a_real_excerpt_here() -> None:
    assert {b.id for b in catalogue()} == set(LOGS)


@pytest.mark.parametrize("entry_id", sorted(LOGS))
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_each_pattern_recognises_its_real_log(entry_id: str, lang: str) -> None:
    where, log = LOGS[entry_id]
    found = diagnose(log, where, lang, _dockerfile_for(entry_id))  # type: ignore[arg-type]
    assert [d.id for d in found] == [entry_id]
    entry = next(b for b in catalogue() if b.id == entry_id)
    assert found[0].cause == entry.cause[lang] and found[0].fix == entry.fix[lang]
    assert found[0].line and found[0].line in log


def test_the_two_languages_differ() -> None:
    for entry in catalogue():
        assert entry.cause["fr"] != entry.cause["en"], entry.id
        assert entry.fix["fr"] != entry.fix["en"], entry.id


def test_pip_user_needs_the_dockerfile_condition() -> None:
    _, log = LOGS["pip_user_then_user"]
    plain = parse_text("FROM python:3.11-slim\nRUN pip install -r r.txt\nUSER 1000\n", Path("D"))
    assert diagnose(log, "run", "en", plain) == ()
    assert diagnose(log, "run", "en", None) == ()
    before = parse_text(
        "FROM python:3.11-slim\nUSER 1000\nRUN pip install --user flask\n", Path("D")
    )
    assert diagnose(log, "run", "en", before) == ()
    exec_form = parse_text(
        'FROM python:3.11-slim\nRUN ["pip", "install", "--user", "gunicorn"]\nUSER 1000\n',
        Path("D"),
    )
    assert [d.id for d in diagnose(log, "run", "en", exec_form)] == ["pip_user_then_user"]


def test_a_log_is_only_read_where_the_entry_says() -> None:
    _, log = LOGS["copy_multiple_sources"]
    assert diagnose(log, "run", "en") == ()
    assert diagnose("all good\nlistening on 3000\n", "run", "en") == ()


def test_several_breakages_are_all_reported_in_catalogue_order() -> None:
    log = LOGS["collections_abc"][1] + LOGS["jinja2_markup"][1]
    assert [d.id for d in diagnose(log, "run", "fr")] == ["jinja2_markup", "collections_abc"]


def test_catalogue_file_entries_have_fr_and_en_cause_and_fix() -> None:
    data = tomllib.loads(CATALOGUE.read_text(encoding="utf-8"))
    assert data["schema_version"] == 1
    for entry in data["breakage"]:
        for key in ("cause", "fix"):
            assert set(entry[key]) == {"fr", "en"}, (entry["id"], key)
            assert all(text.strip() for text in entry[key].values()), (entry["id"], key)


def _entry(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "x",
        "logs": ["run"],
        "pattern": "boom",
        "cause": {"fr": "c", "en": "c"},
        "fix": {"fr": "f", "en": "f"},
    }
    base.update(changes)
    return base


@pytest.mark.parametrize(
    "bad",
    [
        _entry(cause={"en": "only english"}),
        _entry(fix={"fr": "f", "en": ""}),
        _entry(pattern="(unclosed"),
        _entry(logs=["stdout"]),
        _entry(paterne="typo"),
    ],
)
def test_a_bad_catalogue_entry_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        parse_catalogue({"breakage": [bad]})


def test_the_builders_colour_codes_are_not_in_the_line_shown() -> None:
    _, log = LOGS["busybox_adduser_on_debian"]
    assert "\x1b[91m" in log  # as the classic builder streams a step's error output
    (found,) = diagnose(log, "build", "en")
    assert found.line == "Option d is ambiguous (debug, disabled-login, disabled-password)"
