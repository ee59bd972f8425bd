"""grader/labs/spec.py: the built-in lab, strict validation of lab files, lab choice."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import LabFileError, UsageError
from grader.labs.params import TextParams, UserParams
from grader.labs.spec import LABS_DIR, builtin_labs, choose_lab, load_lab, load_lab_file

MINIMAL = """\
schema_version = 1
id = "t"
title = "Test lab"

[app]
port = 8000

[checks."dockerfile.present"]
points = 1
"""


def write_lab(tmp_path: Path, text: str, name: str = "lab.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def lab_error(tmp_path: Path, text: str) -> LabFileError:
    path = write_lab(tmp_path, text)
    with pytest.raises(LabFileError) as info:
        load_lab_file(path)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    return info.value


# -- the built-in lab ----------------------------------------------------------------------------


def test_tp6_loads_with_its_checks_points_port_and_lang() -> None:
    lab = load_lab("tp6")
    assert lab.id == "tp6"
    assert len(lab.checks) == 22  # 14 scored + 8 advice (issue 7)
    assert sum(c.points for c in lab.checks if c.mode == "scored") == 20
    assert sum(c.max_score for c in lab.checks) == 20
    assert lab.port == 8000
    assert lab.path == "/"
    assert lab.lang == "fr"
    assert lab.detect_files == ("app.py", "requirements.txt")
    assert lab.source == LABS_DIR / "tp6.toml"


def test_tp6_check_params_are_typed_instances() -> None:
    lab = load_lab("tp6")
    text = lab.check("http.root_text")
    assert text is not None
    assert text.params == TextParams(
        expected="Hello Docker!", match="contains", normalize_whitespace=True, case_sensitive=True
    )
    user = lab.check("image.user_non_root")
    assert user is not None
    assert user.params == UserParams(min_uid=1000)
    assert user.points == 2.0
    assert lab.check("no.such_check") is None


def test_tp6_limits_int_values_become_floats() -> None:
    limits = load_lab("tp6").limits
    assert limits.build_timeout_s == 300.0
    assert isinstance(limits.build_timeout_s, float)
    assert isinstance(limits.start_timeout_s, float)


def test_builtin_labs_lists_tp6_and_tp6bis() -> None:
    assert builtin_labs() == {"tp6": LABS_DIR / "tp6.toml", "tp6bis": LABS_DIR / "tp6bis.toml"}


def test_tp6bis_leaves_the_port_to_the_app() -> None:
    lab = load_lab("tp6bis")
    assert lab.port == 0 and lab.lang == "fr"
    assert [c.id for c in lab.checks][:2] == ["dockerfile.present", "dockerfile.stages"]
    assert sum(c.max_score for c in lab.checks) == 22


def test_choose_lab_auto_detects_tp6bis(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text("{}\n")
    lab = choose_lab(tmp_path, "auto")
    assert lab is not None and lab.id == "tp6bis"


# -- a valid custom lab ----------------------------------------------------------------------------


def test_minimal_lab_loads_with_defaults(tmp_path: Path) -> None:
    lab = load_lab_file(write_lab(tmp_path, MINIMAL))
    assert lab.id == "t"
    assert lab.lang == "fr"
    assert lab.port == 8000
    assert lab.detect_files == ()
    assert [c.id for c in lab.checks] == ["dockerfile.present"]
    assert lab.checks[0].mode == "scored"


def test_int_is_accepted_for_float_fields(tmp_path: Path) -> None:
    text = MINIMAL + "\n[limits]\nbuild_timeout_s = 12\nhttp_timeout_s = 2.5\n"
    lab = load_lab_file(write_lab(tmp_path, text))
    assert lab.limits.build_timeout_s == 12.0
    assert isinstance(lab.limits.build_timeout_s, float)
    assert lab.limits.http_timeout_s == 2.5
    assert isinstance(lab.checks[0].points, float)


def test_advice_mode_has_zero_max_score(tmp_path: Path) -> None:
    text = MINIMAL.replace("points = 1", 'points = 3\nmode = "advice"')
    check = load_lab_file(write_lab(tmp_path, text)).checks[0]
    assert check.points == 3.0
    assert check.max_score == 0.0


def test_load_lab_accepts_a_path_to_a_toml_file(tmp_path: Path) -> None:
    path = write_lab(tmp_path, MINIMAL, "custom.toml")
    lab = load_lab(str(path))
    assert lab.id == "t"
    assert lab.source == path


# -- strict errors, each naming its key path ------------------------------------------------------


def test_unknown_top_level_key(tmp_path: Path) -> None:
    err = lab_error(tmp_path, MINIMAL.replace('title = "Test lab"', 'title = "T"\ncolour = "red"'))
    assert err.key_path == "colour"
    assert "unknown key" in err.reason


def test_points_typo_in_a_check_table(tmp_path: Path) -> None:
    err = lab_error(tmp_path, MINIMAL.replace("points = 1", "pionts = 1"))
    assert err.key_path == 'checks."dockerfile.present".pionts'
    assert "unknown key" in err.reason
    assert "points" in err.reason  # the known keys are listed


def test_unknown_check_id(tmp_path: Path) -> None:
    err = lab_error(tmp_path, MINIMAL + '\n[checks."dockerfile.colour"]\npoints = 1\n')
    assert err.key_path == 'checks."dockerfile.colour"'


def test_negative_points(tmp_path: Path) -> None:
    err = lab_error(tmp_path, MINIMAL.replace("points = 1", "points = -1"))
    assert err.key_path == 'checks."dockerfile.present".points'


def test_missing_points(tmp_path: Path) -> None:
    text = MINIMAL + '\n[checks."run.starts"]\nmode = "scored"\n'
    err = lab_error(tmp_path, text)
    assert err.key_path == 'checks."run.starts".points'


def test_bool_is_not_a_number_of_points(tmp_path: Path) -> None:
    err = lab_error(tmp_path, MINIMAL.replace("points = 1", "points = true"))
    assert err.key_path == 'checks."dockerfile.present".points'


def test_bad_mode(tmp_path: Path) -> None:
    err = lab_error(tmp_path, MINIMAL.replace("points = 1", 'points = 1\nmode = "bonus"'))
    assert err.key_path == 'checks."dockerfile.present".mode'


def test_port_as_string(tmp_path: Path) -> None:
    err = lab_error(tmp_path, MINIMAL.replace("port = 8000", 'port = "8000"'))
    assert err.key_path == "app.port"
    assert "'8000'" in err.reason


def test_min_uid_as_string(tmp_path: Path) -> None:
    text = MINIMAL + '\n[checks."image.user_non_root"]\npoints = 2\nmin_uid = "x"\n'
    err = lab_error(tmp_path, text)
    assert err.key_path == 'checks."image.user_non_root".min_uid'


def test_unknown_schema_version(tmp_path: Path) -> None:
    err = lab_error(tmp_path, MINIMAL.replace("schema_version = 1", "schema_version = 2"))
    assert err.key_path == "schema_version"
    assert "2" in err.reason


def test_missing_schema_version(tmp_path: Path) -> None:
    err = lab_error(tmp_path, MINIMAL.replace("schema_version = 1\n", ""))
    assert err.key_path == "schema_version"


def test_unknown_param_key(tmp_path: Path) -> None:
    text = MINIMAL + '\n[checks."http.root_text"]\npoints = 2\nexpectd = "Hello"\n'
    err = lab_error(tmp_path, text)
    assert err.key_path == 'checks."http.root_text".expectd'
    assert "expected" in err.reason


def test_bad_match_literal(tmp_path: Path) -> None:
    text = MINIMAL + '\n[checks."http.root_text"]\npoints = 2\nmatch = "startswith"\n'
    err = lab_error(tmp_path, text)
    assert err.key_path == 'checks."http.root_text".match'


def test_list_param_with_wrong_item_type(tmp_path: Path) -> None:
    text = MINIMAL + '\n[checks."dockerfile.label_maintainer"]\npoints = 1\nplaceholders = [1]\n'
    err = lab_error(tmp_path, text)
    assert err.key_path == 'checks."dockerfile.label_maintainer".placeholders'


def test_unknown_limits_key(tmp_path: Path) -> None:
    err = lab_error(tmp_path, MINIMAL + "\n[limits]\nbuild_timeout = 5\n")
    assert err.key_path == "limits.build_timeout"


def test_unknown_lang(tmp_path: Path) -> None:
    err = lab_error(tmp_path, MINIMAL.replace('title = "Test lab"', 'title = "T"\nlang = "de"'))
    assert err.key_path == "lang"


def test_empty_id(tmp_path: Path) -> None:
    err = lab_error(tmp_path, MINIMAL.replace('id = "t"', 'id = ""'))
    assert err.key_path == "id"


def test_no_checks(tmp_path: Path) -> None:
    text = MINIMAL.split("[checks.")[0]
    err = lab_error(tmp_path, text)
    assert err.key_path == "checks"


def test_invalid_toml(tmp_path: Path) -> None:
    err = lab_error(tmp_path, MINIMAL + "\nthis is = = not toml\n")
    assert err.key_path == ""
    assert err.exit_code == 2


# -- choosing a lab -----------------------------------------------------------------------------


def test_load_lab_unknown_id_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="nope"):
        load_lab("nope")


def test_load_lab_missing_toml_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        load_lab(str(tmp_path / "absent.toml"))


def test_choose_lab_auto_detects_tp6(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("app = None\n")
    (tmp_path / "requirements.txt").write_text("flask\n")
    lab = choose_lab(tmp_path, "auto")
    assert lab is not None
    assert lab.id == "tp6"


def test_choose_lab_auto_on_an_empty_folder_cannot_tell(tmp_path: Path) -> None:
    assert choose_lab(tmp_path, "auto") is None


def test_choose_lab_by_reference(tmp_path: Path) -> None:
    path = write_lab(tmp_path, MINIMAL)
    lab = choose_lab(tmp_path, str(path))
    assert lab is not None
    assert lab.id == "t"
    with pytest.raises(UsageError):
        choose_lab(tmp_path, "nope")


@pytest.mark.parametrize(
    ("snippet", "key_path"),
    [
        ("[app]\nport = -1\n", "app.port"),
        ("[app]\nport = 70000\n", "app.port"),
        ('[app]\npath = "index"\n', "app.path"),
        ("[limits]\nbuild_timeout_s = 0\n", "limits.build_timeout_s"),
        ("[limits]\nstart_timeout_s = -5\n", "limits.start_timeout_s"),
        ("[limits]\nlog_limit_bytes = 10\n", "limits.log_limit_bytes"),
    ],
)
def test_numbers_out_of_range_are_refused(tmp_path: Path, snippet: str, key_path: str) -> None:
    lab = tmp_path / "lab.toml"
    lab.write_text(
        f'schema_version = 1\nid = "x"\ntitle = "x"\n{snippet}[checks."run.starts"]\npoints = 1\n',
        encoding="utf-8",
    )
    with pytest.raises(LabFileError) as info:
        load_lab_file(lab)
    assert info.value.key_path == key_path
