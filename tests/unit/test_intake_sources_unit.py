"""Intake with real material: zips with Unix modes and macOS noise, a Moodle export (folder and
zip, a zip inside the export zip, non-ASCII names), lab-folder discovery, a Classroom roster."""

from __future__ import annotations

import contextlib
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from grader.intake import moodle
from grader.intake.discover import discover, is_repository
from grader.intake.sources import IntakeOptions, Source, arrive, open_class
from grader.intake.zips import extract_zip
from grader.labs.spec import load_lab

ROOT = Path(__file__).resolve().parents[2]
TP6_OK = ROOT / "submissions" / "tp6-ok"
TP6, TP6BIS = load_lab("tp6"), load_lab("tp6bis")


def unix_entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2026, 11, 30, 18, 0, 0))
    info.create_system = 3  # what Linux's and macOS's zip write
    info.external_attr = (stat.S_IFREG | mode) << 16
    return info


def zip_folder(folder: Path, archive: Path, top: str = "", macos: bool = False) -> Path:
    """A zip of ``folder``'s files, under ``top/`` when given, with macOS noise if asked."""
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.writestr(unix_entry(f"{top}{f.name}", 0o644), f.read_bytes())
            if macos:
                zf.writestr(unix_entry(f"__MACOSX/{top}._{f.name}", 0o644), b"\0\5\26\7fork")
        if macos:
            zf.writestr(unix_entry(f"{top}.DS_Store", 0o644), b"\0\0\0\1Bud1")
    return archive


def test_zip_keeps_the_unix_permission_bits_but_never_setuid(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(unix_entry("entrypoint.sh", 0o755), b"#!/bin/sh\nexec gunicorn app:app\n")
        zf.writestr(unix_entry("app.py", 0o644), b"")
        zf.writestr(unix_entry("evil", 0o4755 | 0o2000 | 0o1000), b"")
        zf.writestr("made-on-windows.txt", b"")  # no Unix mode: the default one
    dest = tmp_path / "out"
    dest.mkdir()
    root = extract_zip(archive, dest, 10_000)
    assert stat.S_IMODE((root / "entrypoint.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((root / "app.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((root / "evil").stat().st_mode) == 0o755  # setuid/setgid/sticky dropped
    assert (root / "made-on-windows.txt").is_file()


def test_a_macos_zip_leaves_its_noise_out_and_yields_its_top_folder(tmp_path: Path) -> None:
    archive = zip_folder(TP6_OK, tmp_path / "rendu.zip", "rendu/", macos=True)
    dest = tmp_path / "out"
    dest.mkdir()
    root = extract_zip(archive, dest, 1_000_000)
    assert root == dest / "rendu"
    assert sorted(p.name for p in root.iterdir()) == sorted(p.name for p in TP6_OK.iterdir())
    assert not (dest / "__MACOSX").exists()


def test_moodle_folder_names() -> None:
    claire = moodle.parse_folder("Claire Martin_101_assignsubmission_file_")
    assert claire is not None and (claire.name, claire.moodle_id) == ("Claire Martin", "101")
    assert claire.identifier == "Participant 101" and claire.short == "Claire Martin_101"
    blind = moodle.parse_folder("Participant_2045_assignsubmission_file_")
    assert blind is not None and (blind.name, blind.short) == ("Participant 2045",) * 2
    accented = moodle.parse_folder("Élodie Dupré-Nguyễn_7_assignsubmission_file_")
    assert accented is not None and accented.name == "Élodie Dupré-Nguyễn"
    assert moodle.parse_folder("tp6-ok") is None
    assert moodle.parse_folder("Claire Martin_101_assignsubmission_onlinetext_") is None


def moodle_export(tmp_path: Path) -> Path:
    """A Moodle export: loose files, a zip with a top folder, a macOS zip without one."""
    export = tmp_path / "export"
    shutil.copytree(TP6_OK, export / "Claire Martin_101_assignsubmission_file_")
    (b := export / "Élodie Dupré_102_assignsubmission_file_").mkdir(parents=True)
    zip_folder(TP6_OK, b / "tp6.zip", "tp6/")
    (c := export / "Participant_103_assignsubmission_file_").mkdir()
    zip_folder(TP6_OK, c / "Archive.zip", macos=True)
    (c / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return export


def arrived_files(source: Source) -> list[str]:
    with arrive(source, IntakeOptions()) as arrival:
        return sorted(str(p.relative_to(arrival.folder)) for p in arrival.folder.rglob("*"))


@pytest.mark.parametrize("as_zip", [False, True])
def test_a_moodle_export_folder_or_zip_gives_one_source_per_student(
    tmp_path: Path, as_zip: bool
) -> None:
    export = moodle_export(tmp_path)
    if as_zip:  # the zip Moodle gives: the students' zips inside it
        archive = tmp_path / "TP6-Docker-12345.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for f in sorted(export.rglob("*")):
                if f.is_file():
                    zf.write(f, f.relative_to(export).as_posix())
        export = archive
    with contextlib.ExitStack() as stack:
        sources = open_class([export], IntakeOptions(), stack)
        assert [(s.name, s.identity.student, s.identity.moodle_id) for s in sources] == [
            ("Claire Martin_101", "Claire Martin", "101"),
            ("Participant 103", "Participant 103", "103"),
            ("Élodie Dupré_102", "Élodie Dupré", "102"),
        ]
        expected = sorted(p.name for p in TP6_OK.iterdir())
        for source in sources:  # loose files, a zip with a top folder, a macOS zip
            assert arrived_files(source) == expected, source.name


def test_a_moodle_export_made_without_folders_is_regrouped(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    for f in TP6_OK.iterdir():  # Claire's loose files, Hugo's zip
        shutil.copy(f, export / f"Claire Martin_101_assignsubmission_file_{f.name}")
    zip_folder(TP6_OK, export / "Hugo Bernard_103_assignsubmission_file_tp6.zip", "tp6/")
    with contextlib.ExitStack() as stack:
        sources = open_class([export], IntakeOptions(), stack)
        assert [(s.name, s.identity.moodle_id) for s in sources] == [
            ("Claire Martin_101", "101"),
            ("Hugo Bernard_103", "103"),
        ]
        expected = sorted(p.name for p in TP6_OK.iterdir())
        assert [arrived_files(s) for s in sources] == [expected, expected]


def test_the_lab_folder_of_a_repository_is_found_by_files_then_name_then_depth(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(TP6_OK, repo / "Réponses" / "TP6")
    (repo / "Réponses" / "TP5").mkdir()
    (repo / "Réponses" / "TP5" / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (repo / "README.md").write_text("# mes TP\n")
    assert is_repository(repo, [TP6])
    found = discover(repo, [TP6])
    assert (found.rel, found.others) == ("Réponses/TP6", ("Réponses/TP5",))
    # the same files in two folders: the name matching the lab decides (TP6_bis for tp6bis)
    shutil.copytree(TP6_OK, repo / "TP6_bis")
    (repo / "TP6_bis" / "package.json").write_text("{}")
    assert discover(repo, [TP6BIS]).rel == "TP6_bis"
    assert discover(repo, [TP6]).rel == "Réponses/TP6"


def test_an_ambiguous_repository_grades_nothing_until_submission_toml_chooses(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(TP6_OK, repo / "v1")
    shutil.copytree(TP6_OK, repo / "v2")
    found = discover(repo, [TP6])
    assert found.folder is None and found.others == ("v1", "v2")
    (repo / "submission.toml").write_text('path = "v2"\n')
    assert discover(repo, [TP6]).folder == repo / "v2"
    (repo / "submission.toml").write_text('path = "../../etc"\n')
    outside = discover(repo, [TP6])
    assert outside.folder is None and outside.declared == "../../etc"


def test_a_class_folder_is_not_taken_for_a_repository(tmp_path: Path) -> None:
    shutil.copytree(TP6_OK, tmp_path / "klass" / "alice")
    (tmp_path / "klass" / "bob" / "TP6").mkdir(parents=True)
    assert not is_repository(tmp_path / "klass")
    assert not is_repository(TP6_OK)
    assert not is_repository(ROOT / "submissions")
    # every student put the lab in a sub-folder: several labs, several students
    shutil.copytree(TP6_OK, tmp_path / "class2" / "alice" / "TP6")
    shutil.copytree(TP6_OK, tmp_path / "class2" / "bob" / "rendu" / "docker")
    assert is_repository(tmp_path / "class2")  # without the lab, nothing tells
    assert not is_repository(tmp_path / "class2", [TP6])
    with contextlib.ExitStack() as stack:
        sources = open_class([tmp_path / "class2"], IntakeOptions(), stack, [TP6])
    assert [s.name for s in sources] == ["alice", "bob"]


def test_a_roster_names_classroom_folders(tmp_path: Path) -> None:
    shutil.copytree(TP6_OK, tmp_path / "klass" / "tp6-alice-b")
    shutil.copytree(TP6_OK, tmp_path / "klass" / "tp6-bob")
    shutil.copytree(TP6_OK, tmp_path / "klass" / "tp6-nobody")
    roster = tmp_path / "classroom_roster.csv"
    roster.write_text(
        '"identifier","github_username","github_id","name"\n'
        '"alice@example.edu","alice-b","101","Alice Bérénice"\n'
        '"bob@example.edu","bob","102","Bob Martin"\n'
        '"carol@example.edu","","",""\n',
        encoding="utf-8",
    )
    with contextlib.ExitStack() as stack:
        sources = open_class([tmp_path / "klass"], IntakeOptions(roster=roster), stack)
    found = [(s.name, s.identity.student, s.identity.email) for s in sources]
    assert found == [
        ("tp6-alice-b", "Alice Bérénice", "alice@example.edu"),
        ("tp6-bob", "Bob Martin", "bob@example.edu"),
        ("tp6-nobody", "", ""),
    ]


def test_a_repos_file_gives_urls_names_and_emails(tmp_path: Path) -> None:
    repos = tmp_path / "repos.csv"
    repos.write_text(
        "url,student,email\n"
        "# one URL a line, or url,student,email\n"
        "https://github.com/org/tp6-alice.git,Alice Martin,alice@example.edu\n"
        "\n"
        "git@github.com:org/tp6-bob.git\n"
        'https://gitlab.example.edu/org/tp6-alice,"Durand, Alice",\n',
        encoding="utf-8",
    )
    with contextlib.ExitStack() as stack:
        sources = open_class([], IntakeOptions(repos=repos), stack)
    found = [(s.name, s.identity.url, s.identity.student, s.identity.email) for s in sources]
    assert found == [
        ("tp6-alice", "https://github.com/org/tp6-alice.git", "Alice Martin", "alice@example.edu"),
        ("tp6-bob", "git@github.com:org/tp6-bob.git", "", ""),
        ("tp6-alice-2", "https://gitlab.example.edu/org/tp6-alice", "Durand, Alice", ""),
    ]
    assert all(s.path is None and s.identity.kind == "git" for s in sources)


def test_a_folder_named_dockerfile_at_the_root_is_the_student_s_mistake(tmp_path: Path) -> None:
    """The root's own ``Dockerfile`` is a folder (holding a Dockerfile): that folder is not the
    lab's folder to find, the root is graded (and fails ``dockerfile.present``)."""
    (tmp_path / "app.py").write_text("")
    (tmp_path / "Dockerfile").mkdir()
    (tmp_path / "Dockerfile" / "Dockerfile").write_text("FROM python:3.11-slim\n")
    assert discover(tmp_path, [load_lab("tp6")]).folder == tmp_path
