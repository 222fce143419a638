"""check-config: every kind of error is reported with file, line and what is expected."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from oversight.cameras.fallbacks import HAAR_NOTE, HOG_NOTE
from oversight.cli import app
from oversight.config import ConfigError, parse_config
from oversight.config.models import DISABLE_ENV

GOOD = """\
site:
  name: Test square
  timezone: Europe/Paris
cameras:
  - id: square-north
    purpose: Emergency response on the market square
    streams:
      record: rtsp://127.0.0.1:8554/hi
      detect: rtsp://127.0.0.1:8554/lo
    detect: {fps: 5, width: 640, height: 360}
    rules:
      - id: fountain
        type: zone
        purpose: Detect people climbing into the fountain at night
        polygon: [[10, 10], [200, 10], [200, 200]]
        schedule: {days: [fri, sat], start: "22:00", end: "24:00"}
      - id: gate
        type: line
        purpose: Count people entering during events for crowd safety
        line: [[0, 100], [640, 100]]
        direction: a_to_b
"""


DETECT = "    detect: {fps: 5, width: 640, height: 360}"


def issues_of(text: str) -> list[tuple[int, str]]:
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "site.yaml")
    assert all(i.file == "site.yaml" for i in exc.value.issues)
    return [(i.line, i.message) for i in exc.value.issues]


def test_good_config_parses() -> None:
    cfg = parse_config(GOOD)
    cam = cfg.camera("square-north")
    assert cam.detect_url.endswith("/lo")
    assert [r.type for r in cam.rules] == ["zone", "line"]


@pytest.mark.parametrize(
    ("needle", "replacement", "line", "fragment"),
    [
        ("  timezone: Europe/Paris", "  timezone: Europe/Paris\n  colour: red", 4, "unknown key 'colour'"),
        ("{fps: 5,", "{fps: fast,", 10, "valid number"),
        ("direction: a_to_b", "direction: sideways", 21, "'a_to_b'"),
        ("[200, 10], [200, 200]]", "[900, 10], [200, 200]]", 15, "outside the 640x360 detect frame"),
        ("record: rtsp://127.0.0.1:8554/hi", "record: ftp://x/y", 8, "stream URL must be"),
        ("    purpose: Emergency response on the market square\n", "", 5, "missing required key 'purpose'"),
        ('start: "22:00"', 'start: "25:00"', 16, "between 00:00 and 24:00"),
        ("line: [[0, 100], [640, 100]]", "line: [[0, 100], [0, 100]]", 20, "two different points"),
        (DETECT, DETECT + "\n    record: {retention_days: 1e6}", 11, "less than or equal to 3650"),
        (DETECT, DETECT + "\n    record: {event_retention_days: .inf}", 11, "less than or equal to 3650"),
        ("type: zone", "type: dwell\n        seconds: 100000", 14, "less than or equal to 86400"),
        ("  timezone: Europe/Paris", "  timezone: UTC\n  storage_cap_gb: 1e300", 4, "less than or equal"),
    ],
)
def test_each_error_names_line_and_expectation(
    needle: str, replacement: str, line: int, fragment: str
) -> None:
    assert needle in GOOD
    found = issues_of(GOOD.replace(needle, replacement))
    assert any(ln == line and fragment in msg for ln, msg in found), found


def test_duplicate_camera_and_rule_ids() -> None:
    cam = GOOD.split("cameras:\n", 1)[1]
    text = GOOD + cam.replace("  - id: gate", "  - id: fountain")
    found = issues_of(text)
    assert any("duplicate camera id 'square-north'" in m and ln == 22 for ln, m in found), found
    assert any("duplicate rule id 'fountain'" in m for _, m in found), found


def test_every_error_is_reported_not_only_the_first() -> None:
    text = GOOD.replace("  timezone: Europe/Paris", "  timezone: 3\n  bogus: 1").replace(
        "{fps: 5,", "{fps: -1,"
    )
    found = issues_of(text)
    assert len(found) >= 3, found


def test_invalid_yaml_names_the_line() -> None:
    found = issues_of("site:\n  name: [unclosed\ncameras: []\n")
    assert found[0][1].startswith("invalid YAML")
    assert found[0][0] in (2, 3)


def test_onnx_detector_needs_an_existing_model(tmp_path: Path) -> None:
    text = GOOD.replace("{fps: 5,", "{detector: onnx, model_path: /nonexistent/model.onnx, fps: 5,")
    found = issues_of(text)
    assert any("model file not found" in m for _, m in found), found


def test_cli_exits_non_zero_and_prints_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "site.yaml"
    bad.write_text(GOOD.replace("direction: a_to_b", "direction: sideways"))
    result = CliRunner().invoke(app, ["check-config", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:21:" in result.output
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    result = CliRunner().invoke(app, ["check-config", str(good)])
    assert result.exit_code == 0, result.output
    huge = tmp_path / "huge.yaml"
    huge.write_text(GOOD.replace(DETECT, DETECT + "\n    record: {retention_days: 1e6}"))
    result = CliRunner().invoke(app, ["check-config", str(huge)])
    assert result.exit_code == 1 and f"{huge}:11:" in result.output and "retention_days" in result.output
    missing = CliRunner().invoke(app, ["check-config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "cannot read config" in missing.output


# ---------------------------------------------------------------- hostile YAML
HEAD = b"site:\n  name: Hostile\ncameras: []\n"
BOMB = b"a: &a [x, x, x, x, x, x, x, x, x, x]\n" + b"".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n".encode() for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("payload", "line", "fragment"),
    [
        pytest.param(HEAD + b"extra: " + b"7" * 5000 + b"\n", 4, "5000 digits", id="5000-digit-int"),
        pytest.param(HEAD + b"# caf\xe9\n", 4, "not UTF-8", id="invalid-utf8"),
        pytest.param(HEAD + b"? [a, b]\n: 1\n", 4, "not a list", id="list-as-key"),
        pytest.param(HEAD + b"deep: " + b"[" * 10000 + b"]" * 10000 + b"\n", 4, "nesting", id="deep"),
        pytest.param(
            b"deep:\n" + b"".join(b"  " * i + b"k:\n" for i in range(1, 5000)), 65, "nesting", id="deep-block"
        ),
        pytest.param(HEAD + BOMB, 4, "expands to more than", id="billion-laughs"),
        pytest.param(
            HEAD + b"a: &a [1]\n" + b"b: [" + b"*a, " * 200 + b"]\n", 5, "aliases", id="many-aliases"
        ),
        pytest.param(
            HEAD + b"x: !!python/object/apply:os.system [echo hi]\n", 4, "unsupported YAML tag", id="py-tag"
        ),
    ],
)
@pytest.mark.parametrize("command", ["check-config", "serve"])
def test_hostile_yaml_is_refused_with_file_and_line(
    tmp_path: Path, payload: bytes, line: int, fragment: str, command: str
) -> None:
    """Run in a subprocess with a timeout: a hang or a traceback fails the test."""
    import os
    import subprocess
    import sys

    bad = tmp_path / "site.yaml"
    bad.write_bytes(payload)
    args = [str(bad)] if command == "check-config" else ["--config", str(bad), "--port", "0"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "oversight", command, *args],
        capture_output=True,
        text=True,
        timeout=20,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert f"{bad}:{line}: " in proc.stderr, proc.stderr
    assert fragment in proc.stderr, proc.stderr
    assert not (tmp_path / "var").exists()  # serve refused before creating anything


def test_check_config_says_which_models_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(GOOD)
    monkeypatch.setenv(DISABLE_ENV, "1")  # as if oversight-models were not installed
    result = CliRunner().invoke(app, ["check-config", str(site)])
    assert result.exit_code == 0, result.output
    want = "square-north: objects: hog (built-in fallback); faces: haar (built-in fallback); DEGRADED: "
    assert want in result.output and HOG_NOTE in result.output and HAAR_NOTE in result.output


def test_check_config_says_which_rules_alert(tmp_path: Path) -> None:
    text = GOOD.replace(
        "        polygon: [[10, 10], [200, 10], [200, 200]]\n",
        "        polygon: [[10, 10], [200, 10], [200, 200]]\n        alert: true\n        priority: P1\n",
    )
    site = tmp_path / "site.yaml"
    site.write_text(text)
    result = CliRunner().invoke(app, ["check-config", str(site)])
    assert result.exit_code == 0, result.output
    want = "square-north: alerts from fountain (P1, sound siren); 1 rule(s) record events only"
    assert want in result.output
    site.write_text(GOOD)
    result = CliRunner().invoke(app, ["check-config", str(site)])
    assert "square-north: 2 rule(s), none alerting" in result.output
