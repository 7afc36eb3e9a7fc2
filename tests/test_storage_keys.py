"""storage.py is the only door to S3 and the only place an S3 key is spelled (issue 9): the key
functions agree with each other and with the tenancy rules, and no other module calls S3 or
writes a key prefix by hand. Pure: no moto, no network."""
import re
from pathlib import Path

from chalicelib import config, storage

ROOT = Path(__file__).resolve().parents[1]
S3_CALLS = re.compile(r"(?<!storage)\.(get_object|put_object|head_object|list_objects_v2|delete_objects|"
                      r"upload_part|create_multipart_upload|complete_multipart_upload|"
                      r"abort_multipart_upload|generate_presigned_url)\(|create_client\(\s*\"s3\"")
# A key prefix at the start of a string literal (f-strings included): a hand-built key.
KEY_LITERAL = re.compile(r"""\bf?["'](uploads|annotations|exports|derived)/""")


def _service_modules():
    return [p for p in (ROOT / "chalicelib").rglob("*.py") if p.name != "storage.py"]


def test_no_module_but_storage_calls_s3():
    calls = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in _service_modules()
             for m in S3_CALLS.finditer(p.read_text())]
    assert not calls, f"call S3 through chalicelib/storage.py: {calls}"
    assert S3_CALLS.search((ROOT / "chalicelib" / "storage.py").read_text())  # the pattern bites


def test_no_module_but_storage_spells_a_key():
    built = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in _service_modules()
             for n, line in enumerate(p.read_text().splitlines(), 1)
             if KEY_LITERAL.search(line) and not line.lstrip().startswith("#")]
    assert not built, f"make keys with chalicelib/storage.py's functions: {built}"
    assert KEY_LITERAL.search('key = f"uploads/{task_id}/"')


def test_keys_nest_as_the_tenancy_rules_expect():
    task = "t-1"
    upload = storage.upload_key(task, "s 1", "ü.png")
    assert upload == "uploads/t-1/s 1/ü.png"
    derived = storage.derived_key(config.DATA_BUCKET, upload, "display.png")
    assert storage.derived_source(derived) == (config.DATA_BUCKET, upload)
    assert storage.derived_source(upload) is None
    annotation = storage.annotation_key(task, "s 1", "pre-abc")
    assert annotation == "annotations/t-1/s 1/pre-abc.json"
    # Every key of the task lies under one of its prefixes; none of another task's does.
    for key in (upload, derived, annotation):
        assert key.startswith(storage.task_prefixes(task))
        assert not key.startswith(storage.task_prefixes("t"))
    assert storage.export_key(task, "e1", "job.json").startswith(storage.export_prefix(task))
    assert not storage.export_prefix(task).startswith(storage.task_prefixes(task))
