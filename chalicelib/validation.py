"""Request bodies and the annotation format, as pydantic models.

Annotations are GeoJSON FeatureCollections in Kaibu's convention: pixel coordinates on a map
with extent [0, 0, W, H], x = column, y = H - row. Limits (documented in the README):
MAX_BODY_BYTES per request, MAX_FEATURES features and MAX_VERTICES positions per annotation.
"""
import json
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StringConstraints,
                      ValidationError, field_validator, model_validator)

from .errors import BadRequest, TooLarge

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_JSON_DEPTH = 32
MAX_FEATURES = 10_000
MAX_VERTICES = 250_000
MAX_SAMPLES_PER_REQUEST = 1000
# Pixel coordinates beyond this are mistakes (images are at most a few 10,000 px wide).
MAX_COORDINATE = 1e7
# A task is one DynamoDB item (at most 400 KB): every field that can grow is bounded so that
# all of them at their limits still fit.
MAX_CLIENT_CONFIG_BYTES = 16 * 1024
MAX_ANNOTATORS = 500
MAX_OWNERS = 50
MAX_TAGS = 50
MAX_LABELS = 200
MAX_SOURCES = 20

TaskId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
# A user id (a token's sub, or email) is stored as a DynamoDB key and shown to owners:
# printable, at most 256 characters.
USER_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")
SAMPLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SampleId = Annotated[str, StringConstraints(pattern=SAMPLE_ID.pattern)]
FileName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text = Annotated[str, StringConstraints(max_length=10_000)]

DEFAULT_CLIENT_CONFIG = {"draw_enable": True, "draw_label": "cell", "draw_shape_type": "polygon",
                         "draw_freehand": True, "draw_edge_color": "#0BF737"}


# Every model sets defer_build: schemas are built when a model first validates, not at import,
# so a cold Lambda builds only the models its first request uses.


class Strict(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")


# --- GeoJSON -------------------------------------------------------------------------------

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


# --- tasks ---------------------------------------------------------------------------------

def _bounded_config(config: dict) -> dict:
    size = len(json.dumps(config, separators=(",", ":")).encode())
    if size > MAX_CLIENT_CONFIG_BYTES:
        raise ValueError(f"client_config is {size} bytes as JSON; at most {MAX_CLIENT_CONFIG_BYTES}")
    return config


def _s3_prefix(uri: str) -> str:
    if not uri.startswith("s3://") or len(uri.split("/", 3)) < 4 or not uri.split("/")[2]:
        raise ValueError("a source is s3://<import bucket>/<prefix>/")
    return uri


S3Prefix = Annotated[str, StringConstraints(max_length=1024), AfterValidator(_s3_prefix)]


class TaskFields(Strict):
    """What an admin may set on a task; PATCH takes any subset."""
    name: Name | None = None
    description: Text | None = None
    instructions: Text | None = None
    labels: Annotated[list[Label], Field(min_length=1, max_length=MAX_LABELS)] | None = None
    client_config: Annotated[dict, AfterValidator(_bounded_config)] | None = None
    sampling: Literal["sequential", "random"] | None = None
    # A completing submit updates every submitter's row in its transaction (100 items at most).
    annotations_per_sample: Annotated[int, Field(ge=1, le=50)] | None = None
    lease_seconds: Annotated[int, Field(ge=5, le=7 * 24 * 3600)] | None = None
    min_completion_time: Annotated[int, Field(ge=0, le=24 * 3600)] | None = None
    sample_visibility: Literal["protected", "public"] | None = None
    annotators: Annotated[list[Name], Field(max_length=MAX_ANNOTATORS)] | None = None
    owners: Annotated[list[Name], Field(max_length=MAX_OWNERS)] | None = None
    tags: Annotated[list[Label], Field(max_length=MAX_TAGS)] | None = None
    # s3:// prefixes of import buckets this task's owners may list and import from; set by admins.
    sources: Annotated[list[S3Prefix], Field(max_length=MAX_SOURCES)] | None = None
    # File names every sample has (the original system's layout): images, and the annotation.
    input_files: Annotated[list[FileName], Field(max_length=32)] | None = None
    target_files: Annotated[list[FileName], Field(max_length=1)] | None = None


class TaskCreate(TaskFields):
    id: TaskId | None = None


# --- samples -------------------------------------------------------------------------------

def _file_ref(v: str) -> str:
    if v.startswith("https://"):
        if len(v) > 2048:
            raise ValueError("URLs may be at most 2048 characters")
        return v
    if v.startswith(("http://", "s3://")):
        raise ValueError("give a key in the data bucket (e.g. 'folder/image.png') or an https:// URL")
    if not v or v.startswith("/") or ".." in v.split("/") or len(v.encode()) > 1024:
        raise ValueError("a data-bucket key must be relative, without '..', at most 1024 bytes")
    return v


class SampleSpec(Strict):
    id: SampleId
    files: Annotated[dict[FileName, str], Field(min_length=1, max_length=32)]
    annotation: FeatureCollection | None = None

    @field_validator("files")
    @classmethod
    def _refs(cls, files):
        return {name: _file_ref(ref) for name, ref in files.items()}


class SamplesBody(Strict):
    samples: Annotated[list[SampleSpec], Field(min_length=1, max_length=MAX_SAMPLES_PER_REQUEST)]

    @field_validator("samples", mode="before")
    @classmethod
    def _bounded(cls, v):
        if isinstance(v, list) and len(v) > MAX_SAMPLES_PER_REQUEST:
            raise TooLarge(f"Register at most {MAX_SAMPLES_PER_REQUEST} samples per request "
                           f"({len(v)} given): send them in batches.", code="too_many_samples")
        return v

    @model_validator(mode="after")
    def _unique(self):
        ids = [s.id for s in self.samples]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"sample ids repeat within the request: {', '.join(dupes[:10])}")
        return self


# --- annotator loop ------------------------------------------------------------------------

LeaseId = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class LeaseBody(Strict):
    lease_id: LeaseId


class DraftBody(Strict):
    lease_id: LeaseId
    annotation: FeatureCollection


class SubmitBody(DraftBody):
    submission_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{8,100}$")]
    next: bool = False  # also claim the caller's next sample: one request per image instead of two
    ahead: bool = False  # also reserve the one after (leases.reserve): answered as "ahead"


class ClaimBody(Strict):
    ahead: bool = False  # reserve the sample after the one held, instead of claiming


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data, what: str = "request body") -> M:
    """Validate `data`; any problem becomes a 400 naming the field and what to fix."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err["loc"]) or "body"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field (remove it)"
            problems.append(f"{where}: {msg}")
        more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        raise BadRequest(f"Invalid {what}: " + "; ".join(problems) + more,
                         code="invalid_body") from None
