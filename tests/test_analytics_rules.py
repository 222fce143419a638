"""Every rule on synthetic tracks: these fail if the geometry, direction or timing logic breaks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oversight.analytics.geometry import point_in_polygon, segments_intersect, side_of_line
from oversight.analytics.rules import RuleEngine, schedule_active
from oversight.analytics.types import Track
from oversight.config.schema import CrowdRule, DwellRule, LineRule, Schedule, ZoneRule

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday
SQUARE = [(100.0, 100.0), (200.0, 100.0), (200.0, 200.0), (100.0, 200.0)]


def person(tid: int, foot: tuple[float, float], label: str = "person", conf: float = 0.9) -> Track:
    """A 20x60 box whose bottom-centre is ``foot``."""
    x, y = foot
    return Track(tid, label, (x - 10, y - 60, x + 10, y), conf)


def zone(**kw: object) -> ZoneRule:
    return ZoneRule.model_validate(
        {"id": "z", "type": "zone", "purpose": "test zone", "polygon": SQUARE, **kw}
    )


def test_geometry_primitives() -> None:
    assert point_in_polygon((150, 150), SQUARE)
    assert not point_in_polygon((250, 150), SQUARE)
    assert not point_in_polygon((150, 99), SQUARE)
    concave = [(0, 0), (100, 0), (100, 100), (50, 50), (0, 100)]
    assert point_in_polygon((20, 60), concave)
    assert not point_in_polygon((50, 80), concave)  # in the notch
    # walking from (0,0) to (10,0) (rightwards on screen), "up" on screen (y<0) is the left: side a (<0)
    assert side_of_line((5, -3), (0, 0), (10, 0)) < 0
    assert side_of_line((5, 3), (0, 0), (10, 0)) > 0
    assert segments_intersect((5, -3), (5, 3), (0, 0), (10, 0))
    assert not segments_intersect((15, -3), (15, 3), (0, 0), (10, 0))  # beyond the segment's end


def test_zone_inside_outside_and_classes() -> None:
    eng = RuleEngine([zone(classes=["person"])])
    conds = eng.evaluate(
        [person(1, (150, 150)), person(2, (300, 150)), person(3, (150, 150), label="car")], T0
    )
    assert [(c.rule_id, c.track_id, c.rule_type) for c in conds] == [("z", 1, "zone")]


def test_zone_uses_bottom_centre_not_box_centre() -> None:
    eng = RuleEngine([zone()])
    # box centre (150, 170) is inside but the feet at (150, 200+30) are below the zone
    t = Track(1, "person", (140, 110, 160, 230), 0.9)
    assert eng.evaluate([t], T0) == []
    t_in = Track(2, "person", (140, 60, 160, 190), 0.9)  # centre (150,125) inside, feet (150,190) inside
    assert [c.track_id for c in eng.evaluate([t_in], T0)] == [2]


def test_zone_schedule_in_site_timezone() -> None:
    # 18:00-23:00 on weekdays, Europe/Paris (UTC+1 in March before DST)
    rule = zone(schedule={"days": ["mon", "tue", "wed", "thu", "fri"], "start": "18:00", "end": "23:00"})
    eng = RuleEngine([rule], "Europe/Paris")
    t = [person(1, (150, 150))]
    assert eng.evaluate(t, T0.replace(hour=16, minute=59)) == []  # 17:59 Paris
    assert len(eng.evaluate(t, T0.replace(hour=17, minute=0))) == 1  # 18:00 Paris
    assert eng.evaluate(t, T0.replace(hour=22, minute=0)) == []  # 23:00 Paris: end is exclusive
    saturday = T0 + timedelta(days=5)
    assert eng.evaluate(t, saturday.replace(hour=18)) == []


def test_overnight_schedule_belongs_to_start_day() -> None:
    s = Schedule(days=["fri"], start="22:00", end="06:00")
    fri_23 = datetime(2026, 3, 6, 23, 0, tzinfo=UTC)
    assert schedule_active(s, fri_23, RuleEngine([]).tz)
    assert schedule_active(s, fri_23 + timedelta(hours=6), RuleEngine([]).tz)  # Sat 05:00
    assert not schedule_active(s, fri_23 + timedelta(hours=7, minutes=1), RuleEngine([]).tz)  # Sat 06:01
    assert not schedule_active(s, fri_23 - timedelta(days=1), RuleEngine([]).tz)  # Thu 23:00


def _walk(eng: RuleEngine, tid: int, xs: list[float], y: float = 150.0) -> list[str]:
    out = []
    for i, x in enumerate(xs):
        for c in eng.evaluate([person(tid, (x, y))], T0 + timedelta(seconds=i)):
            assert c.momentary
            out.append(c.data["direction"])
    return out


def line(direction: str) -> LineRule:
    # vertical line drawn top to bottom: walking downwards on screen, the left (side a) is x > 200
    return LineRule.model_validate(
        {
            "id": "l",
            "type": "line",
            "purpose": "count",
            "line": [(200, 0), (200, 300)],
            "direction": direction,
        }
    )


def test_line_crossing_directions_and_counts() -> None:
    eng = RuleEngine([line("any")])
    assert _walk(eng, 1, [250, 230, 210, 190, 170]) == ["a_to_b"]
    assert _walk(eng, 2, [150, 190, 260]) == ["b_to_a"]
    assert eng.counts["l"] == {"a_to_b": 1, "b_to_a": 1}
    assert _walk(eng, 3, [150, 180, 195]) == []  # approaches but never crosses


def test_line_direction_filter_still_counts_both() -> None:
    eng = RuleEngine([line("a_to_b")])
    assert _walk(eng, 1, [150, 250]) == []  # b_to_a: counted, no event
    assert _walk(eng, 2, [250, 150]) == ["a_to_b"]
    assert eng.counts["l"] == {"a_to_b": 1, "b_to_a": 1}
    eng2 = RuleEngine([line("b_to_a")])
    assert _walk(eng2, 1, [250, 150]) == []
    assert _walk(eng2, 2, [150, 250]) == ["b_to_a"]


def test_line_crossing_outside_the_segment_is_ignored() -> None:
    eng = RuleEngine([line("any")])
    assert _walk(eng, 1, [150, 250], y=400) == []  # passes the line's extension below its end
    assert eng.counts["l"] == {"a_to_b": 0, "b_to_a": 0}


def test_line_ignores_other_classes() -> None:
    eng = RuleEngine([line("any")])
    for i, x in enumerate([150, 250]):
        assert eng.evaluate([person(1, (x, 150), label="car")], T0 + timedelta(seconds=i)) == []


def dwell(seconds: float) -> DwellRule:
    return DwellRule.model_validate(
        {"id": "d", "type": "dwell", "purpose": "loiter", "polygon": SQUARE, "seconds": seconds}
    )


def test_dwell_over_and_under_threshold() -> None:
    eng = RuleEngine([dwell(10)])
    t = [person(1, (150, 150))]
    assert eng.evaluate(t, T0) == []
    assert eng.evaluate(t, T0 + timedelta(seconds=9.9)) == []
    conds = eng.evaluate(t, T0 + timedelta(seconds=10))
    assert [(c.rule_type, c.track_id) for c in conds] == [("dwell", 1)]
    assert conds[0].data["seconds"] == 10.0


def test_dwell_resets_when_leaving_the_zone() -> None:
    eng = RuleEngine([dwell(10)])
    eng.evaluate([person(1, (150, 150))], T0)
    eng.evaluate([person(1, (300, 150))], T0 + timedelta(seconds=5))  # stepped out
    eng.evaluate([person(1, (150, 150))], T0 + timedelta(seconds=6))  # back in: clock restarts
    assert eng.evaluate([person(1, (150, 150))], T0 + timedelta(seconds=12)) == []
    assert len(eng.evaluate([person(1, (150, 150))], T0 + timedelta(seconds=16))) == 1


def test_crowd_over_threshold() -> None:
    rule = CrowdRule.model_validate(
        {"id": "c", "type": "crowd", "purpose": "crowding", "polygon": SQUARE, "max_count": 2}
    )
    eng = RuleEngine([rule])
    two = [person(1, (120, 150)), person(2, (180, 150))]
    assert eng.evaluate(two, T0) == []
    outside = person(3, (300, 150))
    assert eng.evaluate([*two, outside], T0) == []
    three = [*two, person(4, (150, 180))]
    conds = eng.evaluate(three, T0)
    assert len(conds) == 1
    c = conds[0]
    assert (c.rule_type, c.label, c.track_id, c.data["count"]) == ("crowd", "crowd", None, 3)
    assert sorted(c.data["track_ids"]) == [1, 2, 4]


@pytest.mark.parametrize("hhmm", ["25:00", "12:60", "7pm"])
def test_bad_schedule_rejected(hhmm: str) -> None:
    with pytest.raises(ValueError):
        Schedule(start=hhmm)
