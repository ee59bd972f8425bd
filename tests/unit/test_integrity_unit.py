"""grader/intake/integrity.py: a disguised copy is flagged; independent work and given files
are not."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import LabFileError
from grader.intake.integrity import (
    Fingerprint,
    code_tokens,
    compute,
    dockerfile_tokens,
    fingerprint,
    similar_pairs,
)
from grader.labs.spec import load_lab, load_lab_file

ALICE_DOCKERFILE = """\
FROM python:3.11-slim AS base
LABEL maintainer="Alice Durand"
ARG APP_HOME=/srv/app
WORKDIR ${APP_HOME}
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt && pip install gevent==23.9.1
COPY app.py config.py worker.py ./
RUN groupadd -g 1500 web && useradd -u 1500 -g web -M web && chown -R web:web ${APP_HOME}
USER web
HEALTHCHECK --interval=30s CMD python -c "import urllib.request as u; u.urlopen('http://localhost:8000/')"
ENTRYPOINT ["gunicorn", "--worker-class", "gevent"]
CMD ["--config", "config.py", "app:app"]
"""

# Alice's Dockerfile, disguised: comments, blank lines, continuation lines, other names for
# the stage and the ARG, shell form instead of exec form, lower-case keywords.
BOB_COPY = """\
# my own Dockerfile
from python:3.11-slim as builder
label maintainer="Bob Martin"

arg HOME_DIR=/srv/app
workdir $HOME_DIR

# deps first
copy requirements.txt .
run pip install --no-cache-dir -r requirements.txt \\
    && pip install gevent==23.9.1
copy app.py config.py worker.py ./
run groupadd -g 1500 web && useradd -u 1500 -g web -M web && chown -R web:web $HOME_DIR
user web
healthcheck --interval=30s CMD python -c "import urllib.request as u; u.urlopen('http://localhost:8000/')"
entrypoint gunicorn --worker-class gevent
cmd --config config.py app:app
"""

# Written independently for the same lab.
CAROL_DOCKERFILE = """\
FROM python:3.12-alpine
LABEL maintainer="Carol Petit"
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /code
COPY requirements.txt /code/requirements.txt
RUN python -m pip install --upgrade pip && python -m pip install -r /code/requirements.txt
COPY . /code
RUN adduser -D -u 2000 carol
USER 2000
EXPOSE 8000
ENTRYPOINT ["gunicorn"]
CMD ["-c", "config.py", "app:app"]
"""

ALICE_WORKER = '''\
"""Background job that warms the cache."""
import time
import threading

CACHE = {}


def warm(keys, delay=0.5):
    # fill the cache one key at a time
    for key in keys:
        CACHE[key] = compute_value(key)
        time.sleep(delay)
    return len(CACHE)


def compute_value(key):
    total = 0
    for index, char in enumerate(key):
        total += (index + 1) * ord(char)
    return total % 9973


def start(keys):
    thread = threading.Thread(target=warm, args=(keys,), daemon=True)
    thread.start()
    return thread
'''

BOB_WORKER = """\
import time
import threading
STORE = {}
def fill(items, pause=1.0):
    for it in items:
        STORE[it] = value_of(it) ; time.sleep(pause)
    return len(STORE)
def value_of(it):
    acc = 0
    for i, c in enumerate(it):
        acc += (i + 2) * ord(c)
    return acc % 7919
def launch(items):
    t = threading.Thread(target=fill, args=(items,), daemon=True)
    t.start()
    return t
"""

CAROL_WORKER = '''\
import logging
from functools import lru_cache

log = logging.getLogger("warmup")


@lru_cache(maxsize=256)
def expensive(name: str) -> int:
    return sum(map(ord, name))


def warm_up(names: list[str]) -> dict[str, int]:
    """Compute every value once at start-up."""
    results = {name: expensive(name) for name in names}
    log.info("warmed %d names", len(results))
    return results
'''

GIVEN_APP = 'from flask import Flask\napp = Flask(__name__)\n@app.route("/")\ndef hello():\n    return "Hello Docker!"\n'  # noqa: E501
GIVEN = ("app.py", "config.py", "requirements.txt")


def submission(tmp_path: Path, name: str, dockerfile: str, worker: str | None = None) -> Path:
    root = tmp_path / name
    root.mkdir()
    (root / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    (root / "app.py").write_text(GIVEN_APP, encoding="utf-8")
    (root / "config.py").write_text('bind = "0.0.0.0:8000"\n', encoding="utf-8")
    (root / "requirements.txt").write_text("flask==2.2.2\ngunicorn==20.1.0\n", encoding="utf-8")
    if worker is not None:
        (root / "worker.py").write_text(worker, encoding="utf-8")
    return root


def prints(
    *roots: Path, given: tuple[str, ...] = GIVEN, template: str = ""
) -> dict[str, Fingerprint]:
    return {r.name: compute(r, given, template) for r in roots}


def test_a_renamed_reformatted_copy_is_flagged(tmp_path: Path) -> None:
    alice = submission(tmp_path, "alice", ALICE_DOCKERFILE, ALICE_WORKER)
    bob = submission(tmp_path, "bob", BOB_COPY, BOB_WORKER)
    pairs = similar_pairs(prints(alice, bob))
    assert {(p.a, p.b, p.part) for p in pairs} == {
        ("alice", "bob", "dockerfile"),
        ("alice", "bob", "files"),
    }
    assert all(p.similarity >= 0.7 for p in pairs)


def test_two_independent_solutions_are_not_flagged(tmp_path: Path) -> None:
    alice = submission(tmp_path, "alice", ALICE_DOCKERFILE, ALICE_WORKER)
    carol = submission(tmp_path, "carol", CAROL_DOCKERFILE, CAROL_WORKER)
    assert similar_pairs(prints(alice, carol)) == []


def test_in_a_class_only_the_copy_is_flagged(tmp_path: Path) -> None:
    roots = [
        submission(tmp_path, "alice", ALICE_DOCKERFILE, ALICE_WORKER),
        submission(tmp_path, "bob", BOB_COPY, BOB_WORKER),
        submission(tmp_path, "carol", CAROL_DOCKERFILE, CAROL_WORKER),
    ]
    pairs = similar_pairs(prints(*roots))
    assert {(p.a, p.b) for p in pairs} == {("alice", "bob")}


def test_the_labs_given_files_are_not_a_copy(tmp_path: Path) -> None:
    alice = submission(tmp_path, "alice", ALICE_DOCKERFILE)
    carol = submission(tmp_path, "carol", CAROL_DOCKERFILE)
    with_given = prints(alice, carol)
    assert with_given["alice"].files == frozenset()
    assert similar_pairs(with_given) == []
    # the same folders, when the lab declares no given files: the identical app.py shows
    without = prints(alice, carol, given=())
    assert with_given["alice"].files < without["alice"].files


def test_the_labs_dockerfile_template_is_not_a_copy(tmp_path: Path) -> None:
    template = load_lab("tp6").integrity.dockerfile_template
    assert "gunicorn" in template
    a = submission(tmp_path, "a", template.replace("<Nom> <Prénom>", "Ana Roux"))
    b = submission(tmp_path, "b", "# mine\n" + template.replace("<Nom> <Prénom>", "Ben Roy"))
    assert similar_pairs(prints(a, b)) != []  # without the template: the same Dockerfile
    assert similar_pairs(prints(a, b, template=template)) == []


def test_what_most_of_the_class_shares_is_the_labs_skeleton(tmp_path: Path) -> None:
    # four students start from the same skeleton and add their own lines
    skeleton = "FROM python:3.11-slim\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY . .\n"  # noqa: E501
    endings = [
        'RUN useradd -u 1001 u1\nUSER 1001\nENTRYPOINT ["gunicorn"]\nCMD ["app:app"]\n',
        'RUN adduser --disabled-password --uid 1200 web\nUSER web\nEXPOSE 8000\nENTRYPOINT ["gunicorn", "-b", "0.0.0.0:8000", "app:app"]\n',  # noqa: E501
        'USER nobody\nENTRYPOINT ["python", "-m", "gunicorn"]\nCMD ["--config", "config.py", "app:app"]\n',  # noqa: E501
        'ENV PORT=8000\nRUN groupadd -r g && useradd -r -g g -u 1500 s\nUSER s\nCMD ["gunicorn", "--bind", ":8000", "app:app"]\n',  # noqa: E501
    ]
    roots = [submission(tmp_path, f"s{i}", skeleton + end) for i, end in enumerate(endings)]
    assert similar_pairs(prints(*roots)) == []


def test_dockerfile_tokens_ignore_layout_case_quotes_and_declared_names() -> None:
    alice, bob = dockerfile_tokens(ALICE_DOCKERFILE), dockerfile_tokens(BOB_COPY)
    assert len(alice) == len(bob)
    assert [(a, b) for a, b in zip(alice, bob, strict=True) if a != b] == [
        ("alice", "bob"),
        ("durand", "martin"),
    ]  # only the maintainer's name differs
    assert alice[:4] == ["FROM", "python:3.11-slim", "as", "ID"]
    assert alice[-4:] == ["CMD", "--config", "config.py", "app:app"]


def test_code_tokens_rename_identifiers_and_literals_keep_keywords() -> None:
    a = code_tokens("def f(x):  # c\n    return x + 1\n", ".py")
    b = code_tokens("def   total(value):\n    return value+42", ".py")
    assert a == b == ["def", "ID", "(", "ID", ")", ":", "return", "ID", "+", "LIT"]
    assert code_tokens("const a = 'x'; // hi\n/* more */ let b = `y`;", ".js") == [
        "const", "ID", "=", "LIT", ";", "let", "ID", "=", "LIT", ";",
    ]  # fmt: skip


def test_fingerprint_round_trips_through_report_data(tmp_path: Path) -> None:
    alice = submission(tmp_path, "alice", ALICE_DOCKERFILE, ALICE_WORKER)
    data = fingerprint(alice, GIVEN)
    assert data["dockerfile"] and data["files"]
    assert Fingerprint.from_dict(data) == compute(alice, GIVEN)
    assert Fingerprint.from_dict({**data, "v": 0}) is None
    assert Fingerprint.from_dict(None) is None


def test_a_link_out_of_the_submission_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.py"
    secret.write_text(ALICE_WORKER, encoding="utf-8")
    root = submission(tmp_path, "mallory", CAROL_DOCKERFILE)
    (root / "worker.py").symlink_to(secret)
    assert compute(root, GIVEN).files == frozenset()


def test_lockfiles_and_identity_are_left_out(tmp_path: Path) -> None:
    root = submission(tmp_path, "dana", CAROL_DOCKERFILE)
    (root / "package-lock.json").write_text('{"lockfileVersion": 3}', encoding="utf-8")
    (root / "submission.toml").write_text('student = "Dana"\n', encoding="utf-8")
    assert compute(root, GIVEN).files == frozenset()


def test_the_integrity_table_of_a_lab_file_is_strict(tmp_path: Path) -> None:
    lab = tmp_path / "lab.toml"
    lab.write_text(
        'schema_version = 1\nid = "x"\ntitle = "X"\n[checks."dockerfile.present"]\npoints = 1\n'
        '[integrity]\ngiven_file = ["app.py"]\n',
        encoding="utf-8",
    )
    with pytest.raises(LabFileError, match="integrity.given_file"):
        load_lab_file(lab)
