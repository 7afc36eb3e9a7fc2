"""The annotation format: GeoJSON FeatureCollections in Kaibu's convention, as pydantic models.

Pixel coordinates on a map with extent [0, 0, W, H], x = column, y = H - row. Limits
(documented in the README): MAX_FEATURES features and MAX_VERTICES positions per annotation,
coordinates within ±MAX_COORDINATE pixels.
"""
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from .errors import TooLarge
from .ids import Label

MAX_FEATURES = 10_000
MAX_VERTICES = 250_000
# Pixel coordinates beyond this are mistakes (images are at most a few 10,000 px wide).
MAX_COORDINATE = 1e7

# Every model sets defer_build: schemas are built when a model first validates, not at import,
# so a cold Lambda builds only the models its first request uses.


def _position(p) -> list[float]:
    if not isinstance(p, (list, tuple)) or len(p) not in (2, 3):
        raise ValueError("a position must be [x, y] (pixels)")
    # Compared, not converted: float(10**400) would overflow; NaN and infinities fail too.
    if not all(isinstance(c, (int, float)) and not isinstance(c, bool) and
               -MAX_COORDINATE <= c <= MAX_COORDINATE for c in p):
        raise ValueError(f"coordinates must be finite numbers within ±{MAX_COORDINATE:.0e} pixels")
    return list(p)


def _line(coords, minimum: int) -> list:
    if not isinstance(coords, list) or len(coords) < minimum:
        raise ValueError(f"needs at least {minimum} positions")
    return [_position(p) for p in coords]


def _ring(coords) -> list:
    ring = _line(coords, 4)
    if ring[0][:2] != ring[-1][:2]:
        raise ValueError("polygon rings must be closed: the last position must equal the first")
    return ring


def _polygon(coords) -> list:
    if not isinstance(coords, list) or not coords:
        raise ValueError("a polygon needs at least one ring")
    return [_ring(r) for r in coords]


def _many(coords, one) -> list:
    if not isinstance(coords, list) or not coords:
        raise ValueError("needs at least one member")
    return [one(c) for c in coords]


_GEOMETRY = {
    "Point": _position,
    "MultiPoint": lambda c: _many(c, _position),
    "LineString": lambda c: _line(c, 2),
    "Polygon": _polygon,
    "MultiPolygon": lambda c: _many(c, _polygon),
}


def _count_positions(coords) -> int:
    if coords and isinstance(coords[0], (int, float)):
        return 1
    return sum(_count_positions(c) for c in coords)


class Geometry(BaseModel):
    model_config = ConfigDict(defer_build=True)
    type: Literal["Point", "MultiPoint", "LineString", "Polygon", "MultiPolygon"]
    coordinates: Any

    @model_validator(mode="after")
    def _shape(self):
        self.coordinates = _GEOMETRY[self.type](self.coordinates)
        return self


class Properties(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")  # Kaibu keeps style and ids here
    label: Label


class Feature(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")
    type: Literal["Feature"]
    geometry: Geometry
    properties: Properties


class FeatureCollection(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="allow")
    type: Literal["FeatureCollection"]
    features: list[Feature]

    @field_validator("features", mode="before")
    @classmethod
    def _not_too_many(cls, v):
        if isinstance(v, list) and len(v) > MAX_FEATURES:
            raise TooLarge(f"An annotation may hold at most {MAX_FEATURES} features; "
                           f"this one has {len(v)}. Split the work or simplify the shapes.",
                           code="annotation_too_large")
        return v

    @model_validator(mode="after")
    def _not_too_many_vertices(self):
        n = sum(_count_positions(f.geometry.coordinates) for f in self.features)
        if n > MAX_VERTICES:
            raise TooLarge(f"An annotation may hold at most {MAX_VERTICES} positions; this one has "
                           f"{n}. Simplify freehand shapes.", code="annotation_too_large")
        return self
