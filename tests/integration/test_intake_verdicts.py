"""The same student work, given as a Moodle export zip, as a Classroom clone (lab in a
sub-folder) with its roster, or as a git URL at a deadline, gets the same verdicts as given
as a plain folder; the grades go back out as moodle-grades.csv and Classroom's result line."""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]
BIN = Path(sys.executable).parent
OK, BROKEN = "tp6-ok", "tp6-syntax-error"


def git(repo: Path, *args: str, date: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date,
           "GIT_AUTHOR_NAME": "S", "GIT_AUTHOR_EMAIL": "s@example.edu",
           "GIT_COMMITTER_NAME": "S", "GIT_COMMITTER_EMAIL": "s@example.edu"}  # fmt: skip
    subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True)


def student_repo(repo: Path, work: Path, sub: str, date: str) -> Path:
    """A repository whose one commit of ``date`` holds ``work`` in ``sub``."""
    repo.mkdir(parents=True)
    (repo / "README.md").write_text("# mes TP\n", encoding="utf-8")
    shutil.copytree(work, repo / sub, dirs_exist_ok=True)
    git(repo, "init", "-q", "-b", "main", date=date)
    git(repo, "add", "-A", date=date)
    git(repo, "commit", "-q", "-m", "TP6", date=date)
    return repo


def moodle_zip(tmp: Path, work: dict[str, Path]) -> Path:
    """The zip Moodle gives: each student's folder holding the zip they uploaded (macOS's)."""
    archive = tmp / "TP6-Docker-4242.zip"
    with zipfile.ZipFile(archive, "w") as export:
        for folder, files in work.items():
            inner = tmp / f"{folder}.zip"
            with zipfile.ZipFile(inner, "w") as zf:
                for f in sorted(files.iterdir()):
                    zf.write(f, f"rendu/{f.name}")
                    zf.writestr(f"__MACOSX/rendu/._{f.name}", b"\0\5\26\7")
                zf.writestr("rendu/.DS_Store", b"\0\0\0\1Bud1")
            export.write(inner, f"{folder}/rendu.zip")
    return archive


def statuses(out: Path, name: str) -> dict[str, str]:
    data = json.loads((out / name / "report.json").read_text(encoding="utf-8"))
    return {c["id"]: c["status"] for c in data["checks"]}


def report(out: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / name / "report.json").read_text(encoding="utf-8"))
    return data


def test_every_intake_gives_the_plain_folders_verdicts(repo_root: Path, tmp_path: Path) -> None:
    work = {name: repo_root / "submissions" / name for name in (OK, BROKEN)}
    plain = tmp_path / "plain"
    for name, folder in work.items():
        shutil.copytree(folder, plain / name)
    export = moodle_zip(
        tmp_path,
        {
            "Claire Martin_101_assignsubmission_file_": work[OK],
            "Élodie Dupré_102_assignsubmission_file_": work[BROKEN],
        },
    )
    clones = tmp_path / "student-repos"
    student_repo(clones / "tp6-alice", work[OK], "Réponses/TP6", "2026-11-10T10:00:00+00:00")
    student_repo(clones / "tp6-bob", work[BROKEN], "TP6", "2026-11-10T10:00:00+00:00")
    carol = student_repo(tmp_path / "origin" / "tp6-carol", work[OK], "Docker-app",
                         "2026-11-10T10:00:00+00:00")  # fmt: skip
    shutil.copy(work[BROKEN] / "Dockerfile", carol / "Docker-app" / "Dockerfile")
    git(carol, "commit", "-q", "-am", "too late", date="2026-11-20T10:00:00+00:00")
    dave = student_repo(tmp_path / "origin" / "tp6-dave", work[BROKEN], ".",
                        "2026-11-10T10:00:00+00:00")  # fmt: skip
    roster = tmp_path / "classroom_roster.csv"
    roster.write_text(
        "identifier,github_username,github_id,name\n"
        "alice@example.edu,alice,1,Alice Martin\nbob@example.edu,bob,2,Bob Durand\n"
        "carol@example.edu,carol,3,Carol Petit\ndave@example.edu,dave,4,Dave Roux\n",
        encoding="utf-8",
    )
    out, github_output = tmp_path / "out", tmp_path / "github_output"
    env = {**os.environ, "GITHUB_OUTPUT": str(github_output), "XDG_CACHE_HOME": str(tmp_path)}
    done = subprocess.run(
        [str(BIN / "grade"), str(plain), str(export), str(clones), f"file://{carol}",
         f"file://{dave}", "--lab", "tp6", "--lang", "en", "--roster", str(roster),
         "--deadline", "2026-11-15T00:00:00Z", "--output", str(out), "-j", "2"],
        capture_output=True, text=True, timeout=1200, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    expected = {OK: statuses(out, OK), BROKEN: statuses(out, BROKEN)}
    assert (
        expected[OK]["http.root_text"] == "passed"
        and expected[BROKEN]["build.succeeds"] == "failed"
    )
    same = {"Claire Martin_101": OK, "Élodie Dupré_102": BROKEN, "tp6-alice": OK,
            "tp6-bob": BROKEN, "tp6-carol": OK, "tp6-dave": BROKEN}  # fmt: skip
    for name, like in same.items():
        assert statuses(out, name) == expected[like], name

    claire, alice, carol_report = (
        report(out, n) for n in ("Claire Martin_101", "tp6-alice", "tp6-carol")
    )
    assert (claire["facts"]["student"], claire["origin"]["moodle_id"]) == ("Claire Martin", "101")
    assert (alice["facts"]["student"], alice["facts"]["email"]) == (
        "Alice Martin",
        "alice@example.edu",
    )
    assert alice["origin"]["graded_folder"] == "Réponses/TP6" and len(alice["origin"]["sha"]) == 40
    origin = carol_report["origin"]
    assert (origin["url"], origin["later_commits"], origin["graded_folder"]) == (
        f"file://{carol}",
        1,
        "Docker-app",
    )
    assert origin["commit_date"].startswith("2026-11-10T10:00:00")

    sheet = list(csv.DictReader((out / "moodle-grades.csv").read_text("utf-8").splitlines()))
    assert [(r["Identifier"], r["Full name"], r["Grade"]) for r in sheet] == [
        ("Participant 101", "Claire Martin", f"{report(out, OK)['score']:g}"),
        ("Participant 102", "Élodie Dupré", f"{report(out, BROKEN)['score']:g}"),
    ]
    (line,) = [ln for ln in github_output.read_text().splitlines() if ln.startswith("result=")]
    result = json.loads(base64.b64decode(line.removeprefix("result=")))
    by_name = {t["name"]: t for t in result["tests"]}
    for check_id, status in expected[BROKEN].items():
        test = by_name[f"tp6-dave: {check_id}"]
        assert test["status"] == {"passed": "pass", "error": "error"}.get(status, "fail")
    total = sum(report(out, p.parent.name)["score"] for p in out.glob("*/report.json"))
    assert sum(t["score"] for t in result["tests"]) == pytest.approx(total)


def test_repositories_that_cannot_be_graded_score_0_and_say_why(
    tmp_path: Path, repo_root: Path
) -> None:
    """No commit before the deadline, no repository, two candidate folders: nothing is built."""
    ok = repo_root / "submissions" / OK
    late = student_repo(tmp_path / "tp6-late", ok, "TP6", "2026-11-20T10:00:00+00:00")
    twice = student_repo(tmp_path / "tp6-twice", ok, "v1", "2026-11-10T10:00:00+00:00")
    shutil.copytree(ok, twice / "v2")
    git(twice, "add", "-A", date="2026-11-10T11:00:00+00:00")
    git(twice, "commit", "-q", "-m", "v2", date="2026-11-10T11:00:00+00:00")
    out = tmp_path / "out"
    done = subprocess.run(
        [str(BIN / "grade"), f"file://{late}", f"file://{tmp_path}/absent", f"file://{twice}",
         "--lab", "tp6", "--deadline", "2026-11-15T00:00:00+01:00", "--output", str(out)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    data = report(out, "tp6-late")
    assert data["score"] == 0 and _blocked_by_the_dockerfile(data)
    assert "aucun commit à la date limite (2026-11-15T00:00:00+01:00)" in data["notes"][0]
    absent = report(out, "absent")
    assert absent["score"] == 0 and {c["status"] for c in absent["checks"]} == {"error"}
    assert f"file://{tmp_path}/absent" in absent["checks"][0]["message"]
    both = report(out, "tp6-twice")
    assert both["score"] == 0 and _blocked_by_the_dockerfile(both)
    message = both["checks"][0]["feedback"]
    assert message["found"] == "dossiers avec un Dockerfile : v1, v2"
    assert 'path = "le/dossier/du/tp"' in message["fix"]
    assert not both["facts"].get("image_id")  # nothing was built


def _blocked_by_the_dockerfile(data: dict[str, Any]) -> bool:
    """The Dockerfile's check failed and every other check is not run, blocked by it."""
    statuses = {c["id"]: (c["status"], c.get("blocked_by", "")) for c in data["checks"]}
    others = {v for k, v in statuses.items() if k != "dockerfile.present"}
    return statuses["dockerfile.present"] == ("failed", "") and others == {
        ("not_run", "dockerfile.present")
    }


def test_an_executable_entrypoint_script_stays_executable_from_a_zip(
    tmp_path: Path, repo_root: Path
) -> None:
    """tp6-ok started by ./entrypoint.sh, which the Dockerfile never chmods: it runs only if
    the zip's Unix mode (0755, as zip on Linux or macOS writes it) is kept."""
    ok = repo_root / "submissions" / OK
    dockerfile = (ok / "Dockerfile").read_text(encoding="utf-8")
    dockerfile = dockerfile.replace(
        "COPY config.py .\n", "COPY config.py .\nCOPY entrypoint.sh .\n"
    )
    dockerfile = dockerfile.replace('ENTRYPOINT ["gunicorn"]', 'ENTRYPOINT ["./entrypoint.sh"]')
    files = {f.name: f.read_bytes() for f in ok.iterdir() if f.name != "Dockerfile"}
    files["Dockerfile"] = dockerfile.encode()
    archive = tmp_path / "tp6-entrypoint.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in sorted(files.items()):
            info = zipfile.ZipInfo(f"tp6/{name}", date_time=(2026, 11, 30, 18, 0, 0))
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            zf.writestr(info, data)
        script = zipfile.ZipInfo("tp6/entrypoint.sh", date_time=(2026, 11, 30, 18, 0, 0))
        script.create_system = 3
        script.external_attr = 0o100755 << 16
        zf.writestr(script, b'#!/bin/sh\nexec gunicorn "$@"\n')
    out = tmp_path / "out"
    done = subprocess.run(
        [str(BIN / "grade"), str(archive), "--lab", "tp6", "--output", str(out)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    found = statuses(out, "tp6-entrypoint")
    assert (found["run.starts"], found["http.root_text"]) == ("passed", "passed"), found
