"""One SampleSpec, with its file-reference check, for registrations and imports alike (the
import copy had lost it); imports also accept s3://<import bucket>/<key>."""
import pytest

from chalicelib.errors import BadRequest
from chalicelib.schemas import ImportBody, SamplesBody, parse


def _body(ref: str) -> dict:
    return {"samples": [{"id": "s1", "files": {"image.png": ref}}]}


@pytest.mark.parametrize("ref", ["../other-task/image.png", "/etc/passwd",
                                 "https://example.org/" + "x" * 2048, "k" * 1025])
@pytest.mark.parametrize("model", [SamplesBody, ImportBody])
def test_bad_file_references_are_refused_by_both(model, ref):
    with pytest.raises(BadRequest) as refused:
        parse(model, _body(ref))
    assert refused.value.code == "invalid_body" and "samples.0.files" in refused.value.message


def test_imports_name_import_buckets_registrations_do_not():
    spec = parse(ImportBody, _body("s3://lab-archive/cells/image.png")).samples[0]
    assert spec.files == {"image.png": "s3://lab-archive/cells/image.png"}
    with pytest.raises(BadRequest) as refused:
        parse(SamplesBody, _body("s3://lab-archive/cells/image.png"))
    assert "give a key in the data bucket" in refused.value.message
    for ok in ("uploads/t/s1/image.png", "https://example.org/image.png"):
        assert parse(ImportBody, _body(ok)).samples[0].files["image.png"] == ok
        assert parse(SamplesBody, _body(ok)).samples[0].files["image.png"] == ok
