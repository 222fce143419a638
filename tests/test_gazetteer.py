"""The offline address lookup as a table: what a dispatcher types in Spanish, and what it finds.

The gazetteer is the demo's (Jujuy street names on a generated grid, ``maps.grid``) plus a landmark,
so every expected place is computed from the same grid the map draws."""

from __future__ import annotations

import pytest

from oversight.demo.site import DEMO_CENTER, DEMO_STREETS
from oversight.maps.gazetteer import Gazetteer, fold
from oversight.maps.grid import grid_gazetteer
from oversight.maps.tiles import street_grid

CENTER = DEMO_CENTER
EW, NS = DEMO_STREETS
BLOCK_LAT = 110.0 / 111_320.0
BLOCK_LON = BLOCK_LAT / 0.912


@pytest.fixture(scope="module")
def gz() -> Gazetteer:
    data = grid_gazetteer(street_grid(*CENTER, names=(EW, NS)), 6)
    plaza = {"type": "Point", "coordinates": [CENTER[1] + 0.0005, CENTER[0] + 0.0005]}
    data["features"].append({"type": "Feature", "geometry": plaza, "properties": {"name": "Plaza Belgrano"}})
    return Gazetteer(data)


def corner(ew: int, ns: int) -> tuple[float, float]:
    """The crossing of east-west street ``ew`` and north-south street ``ns`` (indexes from south/west);
    number N of a street lies N/100 - 1 blocks from its south or west end (100 numbers a block)."""
    return CENTER[0] + (ew - 3) * BLOCK_LAT, CENTER[1] + (ns - 3) * BLOCK_LON


@pytest.mark.parametrize(
    ("typed", "kind", "text", "near", "approximate"),
    [
        ("Belgrano 450", "address", "Belgrano 450", corner(3, 3.5), False),
        ("belgrano 450", "address", "Belgrano 450", corner(3, 3.5), False),
        ("Calle Belgrano 450", "address", "Belgrano 450", corner(3, 3.5), False),
        ("Belgrano N° 450", "address", "Belgrano 450", corner(3, 3.5), False),
        ("Belgrano nro. 450", "address", "Belgrano 450", corner(3, 3.5), False),
        ("Belgrano al 450", "address", "Belgrano 450", corner(3, 3.5), False),
        ("Guemes 120", "address", "Güemes 120", corner(0, 0.2), False),  # no diaeresis typed
        ("SAN MARTIN 301", "address", "San Martín 301", corner(4, 2.01), False),
        ("Belgrano 455", "address", "Belgrano 455", corner(3, 3.55), True),  # between 451 and 461
        ("Av. Senador Pérez 250", "address", "Avenida Senador Pérez 250", corner(1.5, 3), False),
        ("Avda Senador Perez 250", "address", "Avenida Senador Pérez 250", corner(1.5, 3), False),
        ("Avenida Senador Pérez 250", "address", "Avenida Senador Pérez 250", corner(1.5, 3), False),
        ("Senador Pérez 250", "address", "Avenida Senador Pérez 250", corner(1.5, 3), False),  # kind left out
        ("Sen. Pérez 250", "address", "Avenida Senador Pérez 250", corner(1.5, 3), False),
        ("Belgrano y Lamadrid", None, None, None, None),  # parallel streets never cross: nothing
        ("Belgrano y Gorriti", "intersection", "Belgrano y Gorriti", corner(3, 2), False),
        ("Belgrano e Independencia", None, None, None, None),  # parallel too
        ("Gorriti esq. Belgrano", "intersection", "Gorriti y Belgrano", corner(3, 2), False),
        (
            "Av. Senador Pérez y Belgrano",
            "intersection",
            "Avenida Senador Pérez y Belgrano",
            corner(3, 3),
            False,
        ),
        (
            "Lamadrid & Ramírez de Velasco",
            "intersection",
            "Lamadrid y Ramírez de Velasco",
            corner(2, 6),
            False,
        ),
        ("Belgrno 200", "address", "Belgrano 200", corner(3, 1), False),  # a typo still finds it
        ("Lavalle", "street", "Lavalle", corner(3, 4), True),  # no number: the street's middle
        ("plaza belgrano", "place", "Plaza Belgrano", (CENTER[0] + 0.0005, CENTER[1] + 0.0005), False),
        ("Mitre 450", None, None, None, None),  # no such street: a clear empty answer
        ("Belgrano 9999", None, None, None, None),  # no such number on the street
        ("", None, None, None, None),
    ],
)
def test_typed_addresses(
    gz: Gazetteer,
    typed: str,
    kind: str | None,
    text: str | None,
    near: tuple[float, float] | None,
    approximate: bool | None,
) -> None:
    found = gz.search(typed)
    if kind is None:
        assert found == [], found
        return
    assert near is not None
    best = found[0]
    assert (best.kind, best.text, best.approximate) == (kind, text, approximate), found
    # within 12 m (house points sit 8 m off the centre line)
    assert abs(best.lat - near[0]) * 111_320 < 12 and abs(best.lon - near[1]) * 111_320 * 0.912 < 12, best


def test_folding_is_accent_and_case_insensitive() -> None:
    assert fold("Av. GÜEMES Nº 1.200") == fold("av guemes n 1 200")


def test_an_address_on_a_building_outline_is_found_at_its_centre() -> None:
    ring = [[5.0, 52.0], [5.0002, 52.0], [5.0002, 52.0002], [5.0, 52.0002], [5.0, 52.0]]
    props = {"addr:street": "Avenida Güemes", "addr:housenumber": "1200"}
    feat = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": props}
    (c,) = Gazetteer({"type": "FeatureCollection", "features": [feat]}).search("av guemes 1200")
    assert (c.kind, c.text, round(c.lat, 4), round(c.lon, 4)) == (
        "address",
        "Avenida Güemes 1200",
        52.0001,
        5.0001,
    )
