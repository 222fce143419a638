"""Saving from the web keeps the YAML file's comments and layout (``config.roundtrip``), and the
loader's hostile-input limits still guard the file it reads back."""

from __future__ import annotations

from typing import Any

import pytest

from oversight.config.loader import parse_config
from oversight.config.roundtrip import render_preserving
from oversight.config.schema import SiteConfig

SITE = """\
# Plaza site: reviewed by the council on 2026-03-01
site:
  name: Plaza  # the name shown in reports
  timezone: America/Guayaquil

cameras:
  # the north gate camera, mounted on the lamp post
  - id: gate
    purpose: entrance safety
    streams:
      record: rtsp://10.0.0.5/stream1   # main stream
    record:
      retention_days: 7   # the bylaw's limit
    rules:
      - id: walkway  # people crossing the lawn
        type: zone
        purpose: keep the walkway clear
        polygon: [[10, 10], [200, 10], [200, 200]]
      - id: benches
        type: crowd
        purpose: crowding on the benches
        max_count: 8
        polygon: [[300, 100], [400, 100], [400, 300]]
  - id: square
    purpose: public safety
    streams: {record: "rtsp://10.0.0.6/s"}
"""


def _edit(text: str, change: Any) -> str:
    cfg = parse_config(text)
    data = cfg.model_dump(mode="json")
    change(data)
    return render_preserving(text, SiteConfig.model_validate(data), "site.yaml")


def _retention(d: dict[str, Any]) -> None:
    d["cameras"][0]["record"]["retention_days"] = 14


def _drag(d: dict[str, Any]) -> None:
    d["cameras"][0]["rules"][0]["polygon"][1] = [220, 30]


def _drop_first_rule(d: dict[str, Any]) -> None:
    d["cameras"][0]["rules"].pop(0)


def _add_rule(d: dict[str, Any]) -> None:
    line = {"id": "door", "type": "line", "purpose": "count the door", "line": [[0, 0], [50.0, 60.0]]}
    d["cameras"][1]["rules"] = [line]


def _rename(d: dict[str, Any]) -> None:
    d["site"]["name"] = "Plaza Grande"


EVERY_COMMENT = [
    "# Plaza site: reviewed by the council on 2026-03-01",
    "# the name shown in reports",
    "# the north gate camera, mounted on the lamp post",
    "# main stream",
    "# the bylaw's limit",
]


@pytest.mark.parametrize(
    ("change", "expect_in", "expect_out"),
    [
        (_retention, ["retention_days: 14  # the bylaw's limit", "# people crossing the lawn"], []),
        (_drag, ["polygon: [[10, 10], [220, 30], [200, 200]]", "# people crossing the lawn"], []),
        (_drop_first_rule, ["- id: benches"], ["walkway", "# people crossing the lawn"]),
        (_add_rule, ["- id: door", "line: [[0, 0], [50, 60]]"], []),
        (_rename, ["name: Plaza Grande"], []),
    ],
)
def test_an_edit_keeps_comments_and_layout(change: Any, expect_in: list[str], expect_out: list[str]) -> None:
    out = _edit(SITE, change)
    for comment in EVERY_COMMENT:
        assert comment in out
    for text in expect_in:
        assert text in out
    for text in expect_out:
        assert text not in out
    assert 'streams: {record: "rtsp://10.0.0.6/s"}' in out  # flow style and quotes untouched
    # the result is what the model says, read back by the strict loader
    after = SiteConfig.model_validate(parse_config(SITE).model_dump(mode="json"))
    data = after.model_dump(mode="json")
    change(data)
    assert parse_config(out).model_dump(mode="json") == SiteConfig.model_validate(data).model_dump(
        mode="json"
    )


# the same site as PyYAML and many editors write it: sequences flush with their key
FLUSH = """\
# Plaza site: reviewed by the council on 2026-03-01
site:
  name: Plaza  # the name shown in reports
cameras:
# the north gate camera, mounted on the lamp post
- id: gate
  purpose: entrance safety
  streams:
    record: rtsp://10.0.0.5/stream1   # main stream
  record:
    retention_days: 7   # the bylaw's limit
  rules:
  - id: walkway  # people crossing the lawn
    type: zone
    purpose: keep the walkway clear
    polygon: [[10, 10], [200, 10], [200, 200]]
"""


@pytest.mark.parametrize("text", [SITE, FLUSH], ids=["offset-sequences", "flush-sequences"])
def test_no_change_is_byte_for_byte(text: str) -> None:
    parse_config(text)  # both spellings are valid configs
    assert _edit(text, lambda d: None) == text


def test_an_edit_keeps_the_file_s_own_indentation() -> None:
    out = _edit(FLUSH, _retention)
    changed = [a for a in out.splitlines() if a not in FLUSH.splitlines()]
    assert changed == ["    retention_days: 14  # the bylaw's limit"]
    assert "\n- id: gate\n" in out and "\n  - id: walkway  # people crossing the lawn\n" in out


HOSTILE = "a: &a [x, x]\n" + "".join(f"b{i}: &b{i} [*{'a' if i == 0 else f'b{i - 1}'}]\n" for i in range(150))


def test_a_file_the_loader_refuses_is_not_read_by_ruamel() -> None:
    """More aliases than the loader allows: never expanded, the file is rewritten from the model."""
    cfg = parse_config(SITE)
    out = render_preserving(HOSTILE, cfg, "site.yaml")
    assert "&b" not in out and "# " not in out
    assert parse_config(out).model_dump() == cfg.model_dump()


@pytest.mark.parametrize(
    ("camera_id", "expected"),
    [
        ("north gate", "use only letters, digits, '-' and '_' (no spaces), got 'north gate'"),
        ("gate/1", "use only letters, digits, '-' and '_' (no spaces), got 'gate/1'"),
    ],
)
def test_check_config_says_what_an_id_may_hold(camera_id: str, expected: str) -> None:
    """The same words in ``check-config`` and the Configure page: no regular expressions."""
    from oversight.config.loader import ConfigError

    with pytest.raises(ConfigError) as err:
        parse_config(SITE.replace("- id: gate", f"- id: {camera_id}"))
    assert [i.message for i in err.value.issues] == [expected]
    assert "pattern" not in str(err.value)
