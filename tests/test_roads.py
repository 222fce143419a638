"""The road graph on its own: speeds as OpenStreetMap writes them, one-way streets, and the answer
for a unit no road leads from (None: the recommendation then falls back to a straight line)."""

from __future__ import annotations

import pytest

from oversight.maps.roads import RoadError, RoadNetwork, _speed_kmh


@pytest.mark.parametrize(
    ("tag", "kmh"),
    [
        ("50", 50.0),
        ("50 km/h", 50.0),
        ("30 mph", 30 * 1.609344),
        (None, 40.0),
        ("signals", 40.0),
        ("0", 40.0),
    ],
)
def test_maxspeed(tag: str | None, kmh: float) -> None:
    assert _speed_kmh(tag, 40.0) == pytest.approx(kmh)


def road(a: tuple[float, float], b: tuple[float, float], **props: str) -> dict:
    geom = {"type": "LineString", "coordinates": [[a[1], a[0]], [b[1], b[0]]]}
    return {"type": "Feature", "geometry": geom, "properties": props}


def test_one_way_street_and_an_island() -> None:
    net = RoadNetwork(
        {
            "type": "FeatureCollection",
            "features": [
                road((52.0, 5.0), (52.0, 5.01), oneway="yes", maxspeed="36"),  # 684 m eastwards only
                road((53.0, 5.0), (53.0, 5.01)),  # not connected to anything above
            ],
        }
    )
    east, west = (52.0, 5.01), (52.0, 5.0)
    to_east, island = net.travel_seconds(east, [west, (53.0, 5.0)])
    assert to_east == pytest.approx(684.4 / 10, rel=0.01) and island is None
    (to_west,) = net.travel_seconds(west, [east])
    assert to_west is None  # against the one-way street there is no way


def test_a_file_without_roads_says_so() -> None:
    with pytest.raises(RoadError, match="no LineString"):
        RoadNetwork({"type": "FeatureCollection", "features": []})
