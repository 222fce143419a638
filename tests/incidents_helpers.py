"""Shared fixtures data for the incidents tests: a town square with cameras and units."""

from __future__ import annotations

from oversight.config.schema import SiteConfig

# A small town square around (52.0, 5.0); 0.001 deg latitude is about 111 m.
BASE = {"lat": 52.0, "lon": 5.0}


def site(**incidents: object) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "cameras": [
                {
                    "id": "north",
                    "purpose": "square safety",
                    "streams": {"record": "/dev/null"},
                    "location": {"lat": 52.004, "lon": 5.0, "address": "North gate"},
                },
                {
                    "id": "gate",
                    "purpose": "square safety",
                    "streams": {"record": "/dev/null"},
                    "location": {"lat": 52.0005, "lon": 5.0, "address": "Main gate"},
                },
                {
                    "id": "south",
                    "purpose": "square safety",
                    "streams": {"record": "/dev/null"},
                    "location": {"lat": 51.998, "lon": 5.0},
                },
                {"id": "noloc", "purpose": "square safety", "streams": {"record": "/dev/null"}},
            ],
            "incidents": {
                "bounds": {"min_lat": 51.9, "max_lat": 52.1, "min_lon": 4.9, "max_lon": 5.1},
                "units": [
                    {"id": "P-far", "type": "police", "station": "north", "lat": 52.02, "lon": 5.0},
                    {"id": "P-near", "type": "police", "station": "central", "lat": 52.0045, "lon": 5.0},
                    {"id": "P-off", "type": "police", "station": "central", "lat": 52.0003, "lon": 5.0},
                    {"id": "M-close", "type": "medical", "station": "central", "lat": 52.0001, "lon": 5.0},
                    {"id": "F-1", "type": "fire", "station": "central", "lat": 52.01, "lon": 5.0},
                ],
                **incidents,
            },
        }
    )
