"""Admin routes in-process: uploads, imports with ingest, s3:// sources, invites."""
import hashlib
import json
import io

import boto3
import numpy as np
import pytest
from PIL import Image

from chalicelib import config


def _tiff(pages):
    images = [Image.fromarray(p) for p in pages]
    out = io.BytesIO()
    images[0].save(out, format="TIFF", save_all=True, append_images=images[1:])
    return out.getvalue()


def _jpeg():
    out = io.BytesIO()
    Image.fromarray(np.full((30, 40, 3), 128, np.uint8)).save(out, format="JPEG")
    return out.getvalue()


def _png(array):
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


FILES = {
    "tiff16": _tiff([np.random.default_rng(0).integers(0, 900, (50, 70), dtype=np.uint16)] * 3),
    "rgb": _tiff([np.zeros((20, 30, 3), np.uint8)]),
    "jpeg": _jpeg(),
}
FILES["corrupt"] = FILES["tiff16"][:400]  # an upload cut short


def _upload(api, task_id, files: dict[tuple[str, str], bytes]) -> dict:
    """What the CLI does: ask for URLs, PUT (here: put_object, as moto's in-process mock has no
    HTTP endpoint), return the keys."""
    plan = api.ok("POST", f"/tasks/{task_id}/uploads", body={"files": [
        {"sample_id": s, "name": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
        for (s, n), d in files.items()]})["uploads"]
    s3 = boto3.client("s3", region_name="us-east-1")
    for entry in plan:
        if entry["status"] == "upload":
            assert "X-Amz-Signature" in entry["url"] and entry["key"] in entry["url"]
            data = files[(entry["sample_id"], entry["name"])]
            s3.put_object(Bucket=config.DATA_BUCKET, Key=entry["key"], Body=data,
                          Metadata={"sha256": entry["headers"]["x-amz-meta-sha256"]})
    return plan


def test_uploads_resume_by_size_and_checksum(api):
    api.make_task("up", n_samples=0)
    first = _upload(api, "up", {("a", "img.png"): b"x" * 10, ("b", "img.png"): b"y" * 10})
    assert [e["status"] for e in first] == ["upload", "upload"]
    assert first[0]["key"] == "uploads/up/a/img.png"
    again = _upload(api, "up", {("a", "img.png"): b"x" * 10, ("b", "img.png"): b"z" * 10})
    assert [e["status"] for e in again] == ["exists", "upload"]  # b changed: same size, new sum


@pytest.mark.parametrize("files, code", [
    ([{"sample_id": "a", "name": "i.png", "size": 0, "sha256": "0" * 64}], "invalid_body"),
    ([{"sample_id": "a", "name": "../i.png", "size": 1, "sha256": "0" * 64}], "invalid_body"),
    ([{"sample_id": "a", "name": "i.png", "size": 1, "sha256": "nope"}], "invalid_body"),
    ([], "invalid_body"),
])
def test_uploads_bad_input_is_400(api, files, code):
    api.make_task("bad", n_samples=0)
    status, data = api.call("POST", "/tasks/bad/uploads", body={"files": files})
    assert status == 400 and data["error"]["code"] == code


def test_uploads_need_an_owner(api):
    api.make_task("own", n_samples=0)
    status, data = api.call("POST", "/tasks/own/uploads", user="mallory", body={"files": [
        {"sample_id": "a", "name": "i.png", "size": 1, "sha256": "0" * 64}]})
    assert status == 403
    assert api.call("POST", "/tasks/nope/uploads", body={"files": []})[0] == 404


def test_ingest_on_import_hands_out_only_browser_ready_copies(api):
    api.make_task("ing", n_samples=0)
    plan = _upload(api, "ing", {(s, "image.tif"): d for s, d in FILES.items()})
    result = api.ok("POST", "/tasks/ing/imports", 201, body={"samples": [
        {"id": e["sample_id"], "files": {"image": e["key"]}} for e in plan]})
    assert result["created"] == 4 and list(result["problems"]) == ["corrupt"]
    assert result["problems"]["corrupt"].startswith("image: the image is damaged or truncated")

    tiff = api.ok("GET", "/tasks/ing/samples/tiff16")
    assert tiff["media"]["image"]["width"] == 70 and tiff["media"]["image"]["pages"] == 3
    assert tiff["media"]["image"]["dtype"] == "uint16"
    assert tiff["files"]["image"].endswith("/display.png")
    assert api.ok("GET", "/tasks/ing/samples/corrupt")["status"] == "problem"
    assert api.progress("ing")["total"] == 3

    s3 = boto3.client("s3", region_name="us-east-1")
    seen = set()
    for user in ("ann1", "ann2", "ann3"):
        claimed = api.ok("POST", "/tasks/ing/claim", user=user)
        seen.add(claimed["sample"]["id"])
        key = api.ok("GET", f"/tasks/ing/samples/{claimed['sample']['id']}")["files"]["image"]
        body = s3.get_object(Bucket=config.DATA_BUCKET, Key=key)["Body"].read()
        assert Image.open(io.BytesIO(body)).format == "PNG"
    assert seen == {"tiff16", "rgb", "jpeg"}
    assert api.claim("ing", "ann4")[0] == 204  # the corrupt one is never handed out
    # resuming the same import ingests nothing again and changes nothing
    again = api.ok("POST", "/tasks/ing/imports?exist_ok=1", 201, body={"samples": [
        {"id": e["sample_id"], "files": {"image": e["key"]}} for e in plan]})
    assert (again["created"], len(again["existing"]), again["problems"]) == (0, 4, {})
    # the original is untouched
    original = s3.get_object(Bucket=config.DATA_BUCKET, Key="uploads/ing/tiff16/image.tif")
    assert original["Body"].read() == FILES["tiff16"]


def test_label_mask_becomes_version_0(api):
    api.make_task("mask", n_samples=0, labels=["nucleus"])
    mask = np.zeros((40, 50), np.uint8)
    mask[5:10, 5:15], mask[20:30, 30:40] = 1, 2
    plan = _upload(api, "mask", {("s1", "image.png"): _png(np.zeros((40, 50), np.uint8)),
                                 ("s1", "annotation.png"): _png(mask)})
    keys = {e["name"]: e["key"] for e in plan}
    api.ok("POST", "/tasks/mask/imports", 201, body={"samples": [
        {"id": "s1", "files": {"image.png": keys["image.png"], "annotation.png": keys["annotation.png"]}}]})
    detail = api.ok("GET", "/tasks/mask/samples/s1")
    assert list(detail["files"]) == ["image.png"]
    assert detail["versions"][0]["kind"] == "pre" and detail["versions"][0]["features"] == 2
    claimed = api.ok("POST", "/tasks/mask/claim", user="ann")
    features = claimed["sample"]["annotation"]["features"]
    assert {f["properties"]["label"] for f in features} == {"nucleus"}
    ys = sorted(y for _, y in features[0]["geometry"]["coordinates"][0])
    assert (ys[0], ys[-1]) == (30, 35)  # rows 5..10 of 40: y = 40 - row


def test_import_refuses_foreign_refs(api):
    api.make_task("refs", n_samples=0)
    api.make_task("other", n_samples=0)
    for ref, code in (("uploads/other/s/x.png", "invalid_file_ref"), ("img/a.png", "invalid_file_ref"),
                      ("s3://somebody-elses-bucket/a.png", "bucket_not_allowed")):
        status, data = api.call("POST", "/tasks/refs/imports", body={
            "samples": [{"id": "s", "files": {"x.png": ref}}]})
        assert status in (400, 403) and data["error"]["code"] == code, (ref, data)
    status, _ = api.call("POST", "/tasks/refs/imports", body={"samples": [{"id": "s" * 200, "files": {}}]})
    assert status == 400


def test_s3_prefix_listing_and_import_without_copying(api, monkeypatch):
    monkeypatch.setattr(config, "IMPORT_BUCKETS", ("lab-archive",))
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lab-archive")
    for i in range(3):
        s3.put_object(Bucket="lab-archive", Key=f"plate 1/img-{i}.tif", Body=FILES["tiff16"])
    api.make_task("s3t", n_samples=0)
    listing = api.ok("GET", "/tasks/s3t/sources?uri=s3://lab-archive/plate%201/")
    assert [o["key"] for o in listing["objects"]] == [f"plate 1/img-{i}.tif" for i in range(3)]
    result = api.ok("POST", "/tasks/s3t/imports", 201, body={"samples": [
        {"id": f"img-{i}", "files": {"image": o["uri"]}} for i, o in enumerate(listing["objects"])]})
    assert result["created"] == 3 and not result["problems"]
    detail = api.ok("GET", "/tasks/s3t/samples/img-0")
    assert detail["media"]["image"]["source"] == "s3://lab-archive/plate 1/img-0.tif"
    status, data = api.call("GET", "/tasks/s3t/sources?uri=s3://other/x")
    assert status == 403 and data["error"]["code"] == "bucket_not_allowed"
    status, data = api.call("GET", "/tasks/s3t/sources?uri=/tmp/x")
    assert status == 400 and data["error"]["code"] == "invalid_source"
    after = api.ok("GET", "/tasks/s3t/sources?uri=s3://lab-archive/&cursor=plate%201/img-0.tif")
    assert [o["key"] for o in after["objects"]] == ["plate 1/img-1.tif", "plate 1/img-2.tif"]
    assert after["cursor"] is None


def test_invites_mint_list_and_revoke(api):
    api.make_task("inv", n_samples=2, annotators=["bob@lab.org"])
    made = api.ok("POST", "/tasks/inv/invites", 201,
                  body={"emails": ["alice@lab.org"], "expires_in": 3600})["invites"]
    [invite] = made
    token = invite["token"]
    assert api.ok("GET", "/tasks/inv")["annotators"] == ["bob@lab.org", "alice@lab.org"]
    assert "annotators" not in api.ok("GET", "/tasks/inv", user=None, token=token)  # owners only
    assert api.ok("POST", "/tasks/inv/claim", user=None, token=token)["sample"]["id"]
    # the token is limited to its task
    api.make_task("elsewhere", n_samples=1)
    assert api.call("GET", "/tasks/elsewhere", user=None, token=token)[0] == 403

    listed = api.ok("GET", "/tasks/inv/invites")["invites"]
    assert [(i["email"], i["revoked_at"]) for i in listed] == [("alice@lab.org", None)]
    assert "token" not in listed[0]
    revoked = api.ok("DELETE", f"/tasks/inv/invites/{invite['id']}")["invite"]
    assert revoked["revoked_at"] is not None
    status, data = api.call("GET", "/tasks/inv", user=None, token=token)
    assert status == 401 and data["error"]["code"] == "invite_revoked"
    assert api.call("DELETE", "/tasks/inv/invites/nope")[0] == 404


@pytest.mark.parametrize("body", [{"emails": ["not-an-email"]}, {"emails": []},
                                  {"emails": ["a@b.org"], "expires_in": 1}, {"emails": ["a@b.org"], "x": 1}])
def test_invite_bad_input_is_400(api, body):
    api.make_task("inv2", n_samples=0)
    status, data = api.call("POST", "/tasks/inv2/invites", body=body)
    assert status == 400, data
    assert api.call("POST", "/tasks/inv2/invites", user="annie", body={"emails": ["a@b.org"]})[0] == 403


def test_read_only_view_of_a_sample(api):
    api.make_task("view", n_samples=0)
    mask = np.zeros((20, 30), np.uint8)
    mask[2:6, 3:9] = 1
    plan = _upload(api, "view", {("s1", "image.png"): _png(np.zeros((20, 30), np.uint8)),
                                 ("s1", "annotation.png"): _png(mask),
                                 ("bad", "image.png"): b"nope"})
    keys = {(e["sample_id"], e["name"]): e["key"] for e in plan}
    api.ok("POST", "/tasks/view/imports", 201, body={"samples": [
        {"id": "s1", "files": {"image.png": keys[("s1", "image.png")],
                               "annotation.png": keys[("s1", "annotation.png")]}},
        {"id": "bad", "files": {"image.png": keys[("bad", "image.png")]}}]})
    seen = api.ok("GET", "/tasks/view/samples/s1/view")
    assert seen["version"] == 0 and len(seen["annotation"]["features"]) == 1
    assert "X-Amz-Signature" in seen["files"]["image.png"]
    assert "thumbnail.png" in seen["thumbnails"]["image.png"]
    assert seen["media"]["image.png"]["width"] == 30
    assert api.ok("GET", "/tasks/view/samples/s1/view?version=0")["annotation"] == seen["annotation"]
    bad = api.ok("GET", "/tasks/view/samples/bad/view")
    assert bad["problem"].startswith("image.png: not an image") and bad["files"] == {}
    assert api.call("GET", "/tasks/view/samples/s1/view?version=7")[0] == 404
    assert api.call("GET", "/tasks/view/samples/s1/view?version=x")[0] == 400
    assert api.call("GET", "/tasks/view/samples/nope/view")[0] == 404
    assert api.call("GET", "/tasks/view/samples/s1/view", user="annie")[0] == 403


def test_ingest_is_redone_only_when_the_object_changes(aws):
    from chalicelib.ingest import imports as ingest
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket=config.DATA_BUCKET, Key="uploads/t/s/a.png", Body=_png(np.zeros((4, 6), np.uint8)))
    first = ingest.ingest_object(config.DATA_BUCKET, "uploads/t/s/a.png")
    assert (first["width"], first["height"]) == (6, 4)
    s3.delete_object(Bucket=config.DATA_BUCKET, Key=first["display"])
    assert ingest.ingest_object(config.DATA_BUCKET, "uploads/t/s/a.png") == first  # recorded: no work
    s3.put_object(Bucket=config.DATA_BUCKET, Key="uploads/t/s/a.png", Body=_png(np.zeros((9, 9), np.uint8)))
    again = ingest.ingest_object(config.DATA_BUCKET, "uploads/t/s/a.png")
    assert (again["width"], again["etag"] != first["etag"]) == (9, True)
    assert "upload it first" in ingest.ingest_object(config.DATA_BUCKET, "uploads/t/s/none.png")["error"]


def test_upload_notification_ingests_the_object(api):
    """What the deployed queue consumer does with an S3 notification (keys arrive URL-encoded)."""
    from chalice.test import Client
    from app import app
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket=config.DATA_BUCKET, Key="uploads/t/s 1/a+b.png", Body=_png(np.zeros((4, 6), np.uint8)))
    body = json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": config.DATA_BUCKET}, "object": {"key": "uploads/t/s+1/a%2Bb.png"}}}]})
    with Client(app) as client:
        client.lambda_.invoke("on_upload", client.events.generate_sqs_event(
            message_bodies=[body, json.dumps({"Event": "s3:TestEvent"})], queue_name=config.INGEST_QUEUE))
    key = f"derived/{config.DATA_BUCKET}/uploads/t/s 1/a+b.png/ingest.json"
    record = json.loads(s3.get_object(Bucket=config.DATA_BUCKET, Key=key)["Body"].read())
    assert (record["width"], record["height"]) == (6, 4)


def test_deleting_a_task_removes_its_uploads_and_invites(api):
    api.make_task("gone", n_samples=0)
    plan = _upload(api, "gone", {("s", "image.png"): _png(np.zeros((4, 4), np.uint8))})
    api.ok("POST", "/tasks/gone/imports", 201, body={"samples": [{"id": "s", "files": {"image.png": plan[0]["key"]}}]})
    token = api.ok("POST", "/tasks/gone/invites", 201, body={"emails": ["a@b.org"]})["invites"][0]["token"]
    api.ok("DELETE", "/tasks/gone?confirm=gone")
    s3 = boto3.client("s3", region_name="us-east-1")
    left = s3.list_objects_v2(Bucket=config.DATA_BUCKET).get("Contents", [])
    assert not [o["Key"] for o in left if "/gone/" in o["Key"]]
    api.make_task("gone", n_samples=1)  # same id again: the old link must not open it
    status, data = api.call("GET", "/tasks/gone", user=None, token=token)
    assert status == 401 and data["error"]["code"] == "invite_revoked"
