"""Exports through the API in-process, with the queue drained by the same consumer the local
stack runs (devstack/export_worker.py) calling the deployed handler."""
import copy
import io
import json
import zipfile

import boto3
import numpy as np
import pytest
import requests
from PIL import Image
from pycocotools.coco import COCO

from chalicelib import config
from chalicelib.exports import worker
from devstack.export_worker import Consumer
from tests.unit.test_export_formats import GAMMA, H, W, fc, gamma_feature, square


@pytest.fixture
def export(api, monkeypatch):
    """Start an export, run the queue until it is empty, return (status, job, archive)."""
    from chalicelib.routes.export import on_export_message
    monkeypatch.setattr(config, "EXPORT_PAGE_SAMPLES", 2)   # several pages on a small task
    consumer = Consumer(on_export_message, config.EXPORT_QUEUE, config.REGION)

    def run(task_id, user="admin", **options):
        status, answer = api.call("POST", f"/tasks/{task_id}/exports", user=user, body=options)
        if status != 202:
            return status, answer, None
        while consumer.once():
            pass
        job = api.ok("GET", f"/tasks/{task_id}/exports/{answer['export_id']}")
        if job["status"] != "done":
            return status, job, None
        assert f"{job['id']}/{job['file_name']}" in requests.utils.unquote(job["url"])
        data = boto3.client("s3", region_name="us-east-1").get_object(
            Bucket=config.DATA_BUCKET,
            Key=f"exports/{task_id}/{job['id']}/{job['file_name']}")["Body"].read()
        assert len(data) == job["size"]
        return status, job, zipfile.ZipFile(io.BytesIO(data))
    return run


def png_bytes(height=H, width=W):
    out = io.BytesIO()
    Image.fromarray(np.zeros((height, width), np.uint8)).save(out, format="PNG")
    return out.getvalue()


def make_task(api, task_id, n, **fields):
    api.make_task(task_id, n_samples=n, **fields)
    s3 = boto3.client("s3", region_name="us-east-1")
    for i in range(n):
        s3.put_object(Bucket=config.DATA_BUCKET, Key=f"uploads/{task_id}/s{i:03d}/image.png", Body=png_bytes())


def annotate(api, task_id, user, annotation):
    status, claimed = api.claim(task_id, user)
    assert status == 200, claimed
    status, answer = api.submit(task_id, user, claimed, annotation)
    assert status == 200, answer
    return claimed["sample"]["id"]


def test_masks_and_coco_find_the_shape_where_it_was_drawn(api, export):
    make_task(api, "orient", 3, labels=["cell", "debris"])
    sid = annotate(api, "orient", "ann", fc(gamma_feature(), square(30, 2, 4, "debris")))
    status, job, zf = export("orient", format="all")
    assert status == 202 and job["status"] == "done", job
    names = set(zf.namelist())
    instances = np.asarray(Image.open(io.BytesIO(zf.read(f"{sid}/masks/v1_ann_instances.png"))))
    assert instances.dtype == np.uint16 and instances.shape == (H, W)
    assert np.array_equal(instances == 1, GAMMA == 1)
    semantic = np.asarray(Image.open(io.BytesIO(zf.read(f"{sid}/masks/v1_ann_semantic.png"))))
    assert semantic[H - 3, 31] == 2 and semantic[3, 6] == 1   # debris bottom right, cell top left
    assert {f"{sid}/image.png", f"{sid}/target_files_v1/annotation.json",
            f"{sid}/sample_status.json", "coco.json", "export.json"} <= names
    with open_coco(zf) as coco:
        [image] = coco.loadImgs(coco.getImgIds())
        assert (image["width"], image["height"]) == (W, H)
        first, second = coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
        assert np.array_equal(coco.annToMask(first).astype(bool), GAMMA == 1)
        assert first["annotator"] == "ann" and first["area"] == int(GAMMA.sum())
        assert coco.loadCats(second["category_id"])[0]["name"] == "debris"
    summary = json.loads(zf.read("export.json"))
    assert summary["labels"] == {"cell": 1, "debris": 2}
    assert summary["counts"]["samples_exported"] == 1 and summary["counts"]["not_selected"] == 2
    assert summary["progress_at_start"]["completed"] == 1


class open_coco:
    def __init__(self, zf):
        self.zf = zf

    def __enter__(self):
        import contextlib
        coco = COCO.__new__(COCO)
        with contextlib.redirect_stdout(io.StringIO()):
            COCO.__init__(coco)
            coco.dataset = json.loads(self.zf.read("coco.json"))
            coco.createIndex()
        return coco

    def __exit__(self, *exc):
        return False


def test_several_annotators_are_exported_by_name_with_their_agreement(api, export):
    make_task(api, "pair", 2, annotations_per_sample=2)
    shapes = {"a": fc(square(2, 2, 10), square(20, 15, 8)),
              "b": fc(square(4, 2, 10), square(20, 15, 8))}     # first square moved 2 px
    for user in ("a", "b"):
        for _ in range(2):
            annotate(api, "pair", user, shapes[user])
    _, job, zf = export("pair", format="geojson", images=False)
    summary = json.loads(zf.read("export.json"))
    sample = summary["samples"][0]
    assert [e["by"] for e in sample["exported"]] == ["a", "b"]
    # Square 1: IoU 80/120; square 2: identical. Both match at 0.5 -> F1 1.0.
    assert sample["agreement"]["f1"] == 1.0
    assert sample["agreement"]["mean_iou"] == pytest.approx((2 / 3 + 1) / 2)
    assert job["agreement"]["samples"] == 2 and job["agreement"]["lowest"][0]["f1"] == 1.0
    assert not any(n.endswith(".png") for n in zf.namelist())   # images=False, geojson only
    status = json.loads(zf.read(f"{sample['id']}/sample_status.json"))
    assert [s["by"] for s in status] == ["a", "b"] and all(s["submitted"] for s in status)


def test_versions_all_and_status_all_and_labels(api, export):
    make_task(api, "opts", 3, labels=["cell", "debris"])
    sid = annotate(api, "opts", "u", fc(square(1, 1, 3), square(10, 10, 3, "debris")))
    _, job, zf = export("opts", format="geojson", versions="all", status="all", labels=["debris"])
    summary = json.loads(zf.read("export.json"))
    assert summary["counts"]["samples_exported"] == 3 and job["progress"] == {"done": 3, "total": 3}
    annotation = json.loads(zf.read(f"{sid}/target_files_v1/annotation.json"))
    assert [f["properties"]["label"] for f in annotation["features"]] == ["debris"]


def test_empty_task_exports_a_valid_empty_archive(api, export):
    api.make_task("empty", n_samples=0)
    _, job, zf = export("empty")
    assert job["status"] == "done" and zf.testzip() is None
    assert json.loads(zf.read("export.json"))["samples"] == []
    assert json.loads(zf.read("coco.json"))["images"] == []


def test_unreadable_annotation_is_listed_and_the_export_goes_on(api, export):
    make_task(api, "broken", 2)
    first = annotate(api, "broken", "u", fc(square(1, 1, 3)))
    annotate(api, "broken", "u", fc(square(1, 1, 3)))
    s3 = boto3.client("s3", region_name="us-east-1")
    [key] = [o["Key"] for o in s3.list_objects_v2(
        Bucket=config.DATA_BUCKET, Prefix=f"annotations/broken/{first}/")["Contents"]]
    s3.put_object(Bucket=config.DATA_BUCKET, Key=key, Body=b"{not json")
    _, job, zf = export("broken", format="masks")
    summary = {s["id"]: s for s in json.loads(zf.read("export.json"))["samples"]}
    assert "could not be read" in summary[first]["skipped"][0]["reason"]
    assert job["counts"]["annotations_skipped"] == 1 and job["counts"]["annotations_exported"] == 1


def test_bad_options_are_400_naming_the_allowed_values(api, export):
    api.make_task("bad", n_samples=1)
    cases = [({"format": "tiff"}, "'geojson', 'masks', 'coco' or 'all'"),
             ({"versions": "some"}, "'latest' or 'all'"),
             ({"resolution": 2}, "the options are format, versions, status, labels, images"),
             ({"labels": ["nope"]}, "its labels are cell")]
    for options, named in cases:
        status, answer = api.call("POST", "/tasks/bad/exports", body=options)
        assert status == 400 and named in answer["error"]["message"], answer
    status, answer = api.call("POST", "/tasks/bad/exports", raw="[1]")
    assert status == 400 and answer["error"]["code"] == "invalid_json"
    assert api.ok("GET", "/tasks/bad/exports")["exports"] == []   # nothing was queued


def test_only_owners_and_admins_may_export(api, export):
    from chalicelib.auth import mint_token
    make_task(api, "mine", 1, owners=["owner"])
    api.make_task("other", n_samples=0)
    status, job, _ = export("mine", user="owner")
    assert status == 202 and job["status"] == "done"
    path = f"/tasks/mine/exports/{job['id']}"
    invite_other = mint_token("guest", tasks=["other"])
    admin_of_other = mint_token("boss", tasks=["other"], roles=["admin"])
    for kwargs in ({"user": "annotator"}, {"token": invite_other}, {"token": admin_of_other}):
        for method, url in (("POST", "/tasks/mine/exports"), ("GET", "/tasks/mine/exports"),
                            ("GET", path)):
            status, answer = api.call(method, url, body={}, **kwargs)
            assert status == 403, (kwargs, url, answer)
    assert api.call("GET", path, user=None)[0] == 401
    assert api.call("GET", "/tasks/mine/exports/0-nothere")[0] == 404
    listed = api.ok("GET", "/tasks/mine/exports", user="owner")["exports"]
    assert [e["id"] for e in listed] == [job["id"]] and listed[0]["size"] == job["size"]


def test_deleting_the_task_deletes_its_exports(api, export):
    make_task(api, "gone", 1)
    export("gone")
    api.ok("DELETE", "/tasks/gone?confirm=gone")
    s3 = boto3.client("s3", region_name="us-east-1")
    assert s3.list_objects_v2(Bucket=config.DATA_BUCKET, Prefix="exports/gone/")["KeyCount"] == 0


def test_a_failing_step_is_retried_then_the_export_fails_with_the_reason(api, monkeypatch):
    make_task(api, "flaky", 1)
    export_id = api.ok("POST", "/tasks/flaky/exports", 202, body={})["export_id"]
    message = {"task_id": "flaky", "export_id": export_id, "step": 0}
    calls = []

    def broken(job, task):
        calls.append(1)
        raise ConnectionError("S3 went away")
    monkeypatch.setattr(worker, "_page", broken)
    for _ in range(worker.MAX_ATTEMPTS - 1):   # the queue redelivers after each raise
        with pytest.raises(ConnectionError):
            worker.handle(message, redelivered=bool(calls))
        assert api.ok("GET", f"/tasks/flaky/exports/{export_id}")["status"] == "queued"
    worker.handle(message, redelivered=True)   # the last attempt: failed, not raised
    job = api.ok("GET", f"/tasks/flaky/exports/{export_id}")
    assert job["status"] == "failed" and "S3 went away" in job["error"] and "url" not in job
    assert len(calls) == worker.MAX_ATTEMPTS
    worker.handle(message, redelivered=True)   # a late duplicate changes nothing
    assert len(calls) == worker.MAX_ATTEMPTS


def test_a_repeated_step_writes_the_same_archive(api, export, monkeypatch):
    """At-least-once delivery: a step that ran twice must not change the result."""
    make_task(api, "twice", 3)
    for _ in range(3):
        annotate(api, "twice", "u", fc(square(1, 1, 3)))
    _, first, zf1 = export("twice", format="all")
    original, enqueue = worker._page, worker.jobs.enqueue

    def page_twice(job, task):
        monkeypatch.setattr(worker.jobs, "enqueue", lambda *args: None)
        original(copy.deepcopy(job), task)    # a run whose queueing of the next step was lost
        monkeypatch.setattr(worker.jobs, "enqueue", enqueue)
        original(job, task)                   # the redelivered step, from the same state
    monkeypatch.setattr(worker, "_page", page_twice)
    _, second, zf2 = export("twice", format="all")
    assert second["digest"] == first["digest"] and second["id"] != first["id"]
    crcs = [{i.filename: i.CRC for i in zf.infolist() if "/" in i.filename} for zf in (zf1, zf2)]
    assert crcs[0] == crcs[1] and len(crcs[0]) == 3 * 4   # image, status, annotation, mask
    samples = [json.loads(zf.read("export.json"))["samples"] for zf in (zf1, zf2)]
    assert samples[0] == samples[1] and zf2.testzip() is None


def test_a_last_step_that_died_after_completing_the_upload_is_recorded_done(api, export, monkeypatch):
    make_task(api, "late", 1)
    annotate(api, "late", "u", fc(square(1, 1, 3)))
    delete_prefix, calls = worker.storage.delete_prefix, []

    def dies_once(prefix):   # the archive is complete; the process dies before recording it
        calls.append(prefix)
        if len(calls) == 1:
            raise ConnectionError("Lambda timed out")
        delete_prefix(prefix)
    monkeypatch.setattr(worker.storage, "delete_prefix", dies_once)
    pending = []   # the queue, in order
    monkeypatch.setattr(worker.jobs, "enqueue", lambda job, step: pending.append(step))
    export_id = api.ok("POST", "/tasks/late/exports", 202, body={})["export_id"]
    while pending:
        step = pending.pop(0)
        message = {"task_id": "late", "export_id": export_id, "step": step}
        try:
            worker.handle(message)
        except ConnectionError:
            worker.handle(message, redelivered=True)
    job = api.ok("GET", f"/tasks/late/exports/{export_id}")
    assert job["status"] == "done" and len(calls) == 2 and job["counts"]["samples_exported"] == 1


def test_an_export_that_finds_fewer_samples_than_the_task_had_fails(api, export, monkeypatch):
    make_task(api, "short", 2)
    real_create = worker.jobs.create

    def create(task, options, by, progress):   # as if a sample vanished after the request
        return real_create(task, options, by, {**progress, "total": progress["total"] + 1})
    monkeypatch.setattr(worker.jobs, "create", create)
    status, job, archive = export("short", status="all")
    assert status == 202 and job["status"] == "failed" and archive is None
    assert "had 3 samples" in job["error"] and "only 2 were found" in job["error"]
