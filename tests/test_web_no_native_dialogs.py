"""No page blocks on ``window.prompt``/``confirm``/``alert``: they stop the page's timers and
sockets (alerts, live video) while open, and carry no labels or validation. Dialogs come from
``web/static/lib/dialog.js``. This test reads every script the browser loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[1] / "src" / "oversight" / "web" / "static"
STRINGS = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|`(?:\\.|[^`\\])*`')
COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
NATIVE = re.compile(r"(?<![\w.$])(?:window\s*\.\s*)?(prompt|confirm|alert)\s*\(")


def _code(text: str) -> str:
    """The script without its string literals and comments (a toast may say "alert(s)")."""
    return COMMENTS.sub("", STRINGS.sub('""', text))


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ('const x = prompt("Id?");', ["prompt"]),
        ("if (window.confirm('sure?')) go();", ["confirm"]),
        ("alert (msg)", ["alert"]),
        ("toast(`${n} alert(s) acknowledged`); // no prompt() here", []),
        ("confirmDialog({}); promptDialog({}); x.alert(1)", []),
    ],
)
def test_the_reader_finds_native_dialogs(source: str, found: list[str]) -> None:
    assert NATIVE.findall(_code(source)) == found


def test_no_script_uses_a_native_dialog() -> None:
    scripts = sorted(STATIC.rglob("*.js"))
    assert len(scripts) > 10
    offenders = {
        str(p.relative_to(STATIC)): NATIVE.findall(_code(p.read_text(encoding="utf-8")))
        for p in scripts
        if NATIVE.search(_code(p.read_text(encoding="utf-8")))
    }
    assert offenders == {}
    assert "formDialog" in (STATIC / "lib" / "dialog.js").read_text()


def test_every_script_parses(tmp_path: Path) -> None:
    """A syntax error in one page module hides that page from every role (its menu entry vanishes)."""
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    bad = {}
    for p in sorted(STATIC.rglob("*.js")):
        copy = tmp_path / (p.stem + ".mjs")  # parsed as an ES module, as the browser loads it
        copy.write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
        r = subprocess.run([node, "--check", str(copy)], capture_output=True, text=True, timeout=30)
        if r.returncode:
            bad[str(p.relative_to(STATIC))] = r.stderr.strip().splitlines()[-1:]
    assert bad == {}
