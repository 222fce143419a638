"""Offline address lookup: a typed address ("Av. Belgrano 450", "Belgrano y Lamadrid") to places.

The city supplies one GeoJSON file (``site.gazetteer``, docs/map.md): address points carrying
``addr:street``/``addr:housenumber`` (as OpenStreetMap exports them) or ``street``/``number``,
named points (landmarks), and named street LineStrings whose crossings are the intersections.
Matching is accent- and case-insensitive and knows the Spanish street words and abbreviations, so
"avda guemes" finds "Avenida Güemes". No network is ever used.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape

# abbreviations as dispatchers type them -> the word they stand for
ABBREVIATIONS = {
    "av": "avenida", "avda": "avenida", "avd": "avenida", "avenue": "avenida",
    "bv": "boulevard", "bvd": "boulevard", "blvd": "boulevard", "bulevar": "boulevard",
    "pje": "pasaje", "psje": "pasaje", "diag": "diagonal", "cno": "camino",
    "gral": "general", "pte": "presidente", "dr": "doctor", "cnel": "coronel", "tte": "teniente",
    "sen": "senador", "sdor": "senador", "sta": "santa", "sto": "santo", "gob": "gobernador",
}  # fmt: skip
STREET_WORDS = {"calle", "avenida", "boulevard", "pasaje", "diagonal", "camino", "street", "road"}
JOINERS = {"y", "e", "esq", "esquina", "and", "&", "/"}  # "Belgrano y Lamadrid", "Belgrano esq. Otero"
NUMBER_WORDS = {"n", "no", "nro", "num", "numero", "#", "al"}  # "Belgrano N° 450", "Belgrano al 400"
MAX_INTERPOLATE = 200  # numbers between two known points this far apart are placed between them


def fold(text: str) -> str:
    """Lower case, no accents, punctuation as spaces: 'Av. Güemes Nº 12' -> 'av guemes n 12'."""
    text = unicodedata.normalize("NFKD", text.replace("º", " ").replace("°", " "))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"[&/]", lambda m: f" {m.group(0)} ", text)
    return " ".join(re.sub(r"[^\w&/#]+", " ", text).split())


def tokens(text: str) -> list[str]:
    return [ABBREVIATIONS.get(w, w) for w in fold(text).split()]


def bare(words: list[str]) -> str:
    """A street's name without its kind ('avenida belgrano' -> 'belgrano')."""
    kept = [w for w in words if w not in STREET_WORDS]
    return " ".join(kept or words)


@dataclass
class Street:
    name: str
    full: str  # normalised with its kind
    key: str  # normalised without its kind
    numbers: list[tuple[int, float, float]] = field(default_factory=list)  # (number, lat, lon), sorted
    lines: list[Any] = field(default_factory=list)  # shapely lines (lon, lat)


@dataclass(frozen=True)
class Candidate:
    kind: str  # address | intersection | street | place
    text: str  # what matched, as the city's file spells it
    lat: float
    lon: float
    score: float
    approximate: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "text": self.text,
            "lat": round(self.lat, 7),
            "lon": round(self.lon, 7),
            "score": round(self.score, 3),
            "approximate": self.approximate,
        }


class GazetteerError(ValueError):
    """The gazetteer file is not what docs/map.md describes; the message says what to fix."""


_DIGITS = re.compile(r"\s*(\d+)")


def _number(value: Any) -> int | None:
    m = _DIGITS.match(str(value or ""))
    return int(m.group(1)) if m else None


class Gazetteer:
    """Streets, their numbered points and lines, and named places, indexed for matching."""

    def __init__(self, geojson: dict[str, Any]) -> None:
        if geojson.get("type") != "FeatureCollection" or not isinstance(geojson.get("features"), list):
            raise GazetteerError("the gazetteer must be a GeoJSON FeatureCollection")
        self.streets: dict[str, Street] = {}
        self._by_name: dict[str, Street] = {}
        self.places: list[tuple[str, str, float, float]] = []  # (name, folded, lat, lon)
        for f in geojson["features"]:
            self._add(f)
        for st in self.streets.values():
            st.numbers.sort()

    def _street(self, name: str) -> Street:
        known = self._by_name.get(name)
        if known is not None:  # a city file repeats each street name thousands of times
            return known
        words = tokens(name)
        full = " ".join(words)
        if full not in self.streets:
            self.streets[full] = Street(name=name, full=full, key=bare(words))
        self._by_name[name] = self.streets[full]
        return self.streets[full]

    def _add(self, f: dict[str, Any]) -> None:
        props, geom = f.get("properties") or {}, f.get("geometry") or {}
        kind = geom.get("type")
        street = props.get("addr:street") or props.get("street")
        if kind in ("Point", "Polygon", "MultiPolygon"):  # an address on a building: its centre
            c = shape(geom).centroid if kind != "Point" else None
            lon, lat = (c.x, c.y) if c is not None else geom["coordinates"][:2]
            num = _number(props.get("addr:housenumber") or props.get("number"))
            if street and num is not None:
                self._street(str(street)).numbers.append((num, float(lat), float(lon)))
            elif props.get("name"):
                self.places.append((str(props["name"]), " ".join(tokens(str(props["name"]))), lat, lon))
        elif kind in ("LineString", "MultiLineString") and (props.get("name") or street):
            self._street(str(props.get("name") or street)).lines.append(shape(geom))

    def match_streets(self, text: str, limit: int = 3) -> list[tuple[Street, float]]:
        """Streets named like ``text``, best first: exact, then without the kind, then words, then typos."""
        words = tokens(text)
        full, key = " ".join(words), bare(words)
        if not key:
            return []
        scored = []
        for st in self.streets.values():
            if st.full == full:
                s = 1.0
            elif st.key == key:
                s = 0.95
            elif set(key.split()) <= set(st.key.split()):
                s = 0.8
            else:
                r = difflib.SequenceMatcher(None, key, st.key).ratio()
                s = 0.7 * r if r >= 0.8 else 0.0
            if s:
                scored.append((st, s))
        scored.sort(key=lambda p: (-p[1], p[0].name))
        return scored[:limit]

    def search(self, query: str, limit: int = 5) -> list[Candidate]:
        """Candidates for a typed address, best first; empty when nothing in the file matches."""
        words = tokens(query)
        if not words:
            return []
        joins = [i for i, w in enumerate(words) if w in JOINERS and 0 < i < len(words) - 1]
        if joins:
            i = joins[0]
            out = self._intersections(" ".join(words[:i]), " ".join(words[i + 1 :]))
        else:
            out = self._address(words) + self._place(" ".join(words))
        out.sort(key=lambda c: (-c.score, c.approximate, c.text))
        return out[:limit]

    def _address(self, words: list[str]) -> list[Candidate]:
        out: list[Candidate] = []
        if len(words) > 1 and words[-1].isdigit():
            rest = words[:-1]
            while rest and rest[-1] in NUMBER_WORDS:
                rest = rest[:-1]
            for st, s in self.match_streets(" ".join(rest)):
                c = _numbered(st, int(words[-1]), s)
                if c is not None:
                    out.append(c)
        if not out:  # the number may be part of the name ("Calle 3"), or no number was typed
            for st, s in self.match_streets(" ".join(words)):
                c = _middle(st, s)
                if c is not None:
                    out.append(c)
        return out

    def _place(self, text: str) -> list[Candidate]:
        out = []
        for name, folded, lat, lon in self.places:
            if folded == text or (len(text) >= 3 and text in folded):
                out.append(Candidate("place", name, lat, lon, 1.0 if folded == text else 0.75))
        return out

    def _intersections(self, a: str, b: str) -> list[Candidate]:
        out = []
        for sa, s1 in self.match_streets(a):
            for sb, s2 in self.match_streets(b):
                if sa is sb or not sa.lines or not sb.lines:
                    continue
                where = shapely.intersection(shapely.union_all(sa.lines), shapely.union_all(sb.lines))
                for p in shapely.get_parts(shapely.extract_unique_points(where)):
                    text = f"{sa.name} y {sb.name}"
                    out.append(Candidate("intersection", text, p.y, p.x, min(s1, s2)))
        return out


def _numbered(st: Street, num: int, score: float) -> Candidate | None:
    """The point with that number, or one placed between its neighbours on the same side."""
    exact = [(n, la, lo) for n, la, lo in st.numbers if n == num]
    if exact:
        return Candidate("address", f"{st.name} {num}", exact[0][1], exact[0][2], score)
    side = [p for p in st.numbers if p[0] % 2 == num % 2] or st.numbers
    below = [p for p in side if p[0] < num]
    above = [p for p in side if p[0] > num]
    if below and above and above[0][0] - below[-1][0] <= MAX_INTERPOLATE:
        (n0, la0, lo0), (n1, la1, lo1) = below[-1], above[0]
        f = (num - n0) / (n1 - n0)
        lat, lon = la0 + f * (la1 - la0), lo0 + f * (lo1 - lo0)
        return Candidate("address", f"{st.name} {num}", lat, lon, score * 0.95, approximate=True)
    return None


def _middle(st: Street, score: float) -> Candidate | None:
    """A street with no number: the middle of its line, marked approximate."""
    if st.lines:
        line = shapely.line_merge(shapely.union_all(st.lines))
        p = (
            shapely.line_interpolate_point(line, 0.5, normalized=True)
            if line.geom_type == "LineString"
            else None
        )
        p = p if p is not None else line.centroid
        return Candidate("street", st.name, p.y, p.x, score * 0.9, approximate=True)
    if st.numbers:
        n, lat, lon = st.numbers[len(st.numbers) // 2]
        return Candidate("street", st.name, lat, lon, score * 0.9, approximate=True)
    return None


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> Gazetteer:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise GazetteerError(f"cannot read the gazetteer {path}: {e}") from None
    return Gazetteer(data)


def load(path: str | Path) -> Gazetteer:
    """The gazetteer of a file, parsed once and again only when the file changes."""
    p = Path(path)
    try:
        mtime = p.stat().st_mtime
    except OSError as e:
        raise GazetteerError(f"cannot read the gazetteer {p}: {e}") from None
    return _load(str(p), mtime)
