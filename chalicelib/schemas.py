"""Request bodies, as pydantic models: every body a route reads is validated by one of these.

The annotation inside drafts, submits and registrations is annotation_format.FeatureCollection;
ids and names are the shapes in ids.py. Limits (documented in the README, Limits) are checked
here, before anything is stored; parse() turns any problem into a 400 naming the field.
"""
import json
from typing import Annotated, ClassVar, Literal, TypeVar

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StringConstraints,
                      ValidationError, field_validator, model_validator)

from .annotation_format import FeatureCollection
from .errors import BadRequest, TooLarge
from .ids import FileName, Label, Name, SampleId, TaskId, Text

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_JSON_DEPTH = 32
MAX_SAMPLES_PER_REQUEST = 1000
# Ingest runs inside the request: keep each import small enough to finish well within
# API Gateway's 29 s even when the upload notification ingested nothing beforehand.
MAX_IMPORT_SAMPLES = 100
# A task is one DynamoDB item (at most 400 KB): every field that can grow is bounded so that
# all of them at their limits still fit.
MAX_CLIENT_CONFIG_BYTES = 16 * 1024
MAX_ANNOTATORS = 500
MAX_OWNERS = 50
MAX_TAGS = 50
MAX_LABELS = 200
MAX_SOURCES = 20
MAX_INVITES_PER_REQUEST = 100
DEFAULT_INVITE_SECONDS = 14 * 24 * 3600
MAX_FILES_PER_REQUEST = 1000
# A single presigned PUT may carry up to 5 GB; beyond that S3 needs multipart.
MAX_FILE_BYTES = 5 * 1024 ** 3
EXPORT_FORMATS = ("geojson", "masks", "coco", "all")


class RequestModel(BaseModel):
    """A request body or a part of one: a field it does not declare is refused, not ignored.

    defer_build: schemas are built when a model first validates, not at import, so a cold
    Lambda builds only the models its first request uses."""
    model_config = ConfigDict(defer_build=True, extra="forbid")


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


class TaskFields(RequestModel):
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


# --- samples, uploads, imports -------------------------------------------------------------

def _file_ref(v: str, imported: bool = False) -> str:
    if v.startswith("https://") or (imported and v.startswith("s3://")):
        if len(v) > 2048:
            raise ValueError("URLs may be at most 2048 characters")
        return v
    if v.startswith(("http://", "s3://")):
        raise ValueError("give a key in the data bucket (e.g. 'folder/image.png') or an https:// URL")
    if not v or v.startswith("/") or ".." in v.split("/") or len(v.encode()) > 1024:
        raise ValueError("a data-bucket key must be relative, without '..', at most 1024 bytes")
    return v


# A sample to register: its files are keys in the data bucket or https:// URLs. (Comments, not
# docstrings: a docstring would become the schema's description in docs/openapi.json.)
class SampleSpec(RequestModel):
    IMPORTED: ClassVar[bool] = False
    id: SampleId
    files: Annotated[dict[FileName, str], Field(min_length=1, max_length=32)]
    annotation: FeatureCollection | None = None

    @field_validator("files")
    @classmethod
    def _refs(cls, files):
        return {name: _file_ref(ref, cls.IMPORTED) for name, ref in files.items()}


# A sample to import: its files may also be s3://<import bucket>/<key> (sources.resolve).
class ImportSpec(SampleSpec):
    IMPORTED: ClassVar[bool] = True


class SamplesBody(RequestModel):
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


class ImportBody(RequestModel):
    samples: Annotated[list[ImportSpec], Field(min_length=1, max_length=MAX_IMPORT_SAMPLES)]


Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class UploadFile(RequestModel):
    sample_id: SampleId
    name: FileName
    size: Annotated[int, Field(ge=1, le=MAX_FILE_BYTES)]
    sha256: Sha256


class UploadsBody(RequestModel):
    files: Annotated[list[UploadFile], Field(min_length=1, max_length=MAX_FILES_PER_REQUEST)]


# --- annotator loop ------------------------------------------------------------------------

LeaseId = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class LeaseBody(RequestModel):
    lease_id: LeaseId


class DraftBody(RequestModel):
    lease_id: LeaseId
    annotation: FeatureCollection


class SubmitBody(DraftBody):
    submission_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{8,100}$")]
    next: bool = False  # also claim the caller's next sample: one request per image instead of two


# --- invites, exports ----------------------------------------------------------------------

Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254,
                                         pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class InviteBody(RequestModel):
    emails: Annotated[list[Email], Field(min_length=1, max_length=MAX_INVITES_PER_REQUEST)]
    expires_in: Annotated[int, Field(ge=60, le=365 * 24 * 3600)] = DEFAULT_INVITE_SECONDS


class ExportOptions(RequestModel):
    format: Literal[EXPORT_FORMATS] = "all"  # type: ignore[valid-type]
    versions: Literal["latest", "all"] = "latest"
    status: Literal["completed", "all"] = "completed"
    labels: list[Label] | None = Field(default=None, max_length=255)
    images: bool = True  # copy the input images into the geojson layout


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
