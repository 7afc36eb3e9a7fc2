"""The annotator loop over real HTTP: chalice local in front of the moto server."""
import io
import threading

import boto3
import requests
from client import admin, annotator, make_task, polygon
from PIL import Image
from tests.settings import HTTP_TIMEOUT


def _put_png(stack, key):
    s3 = boto3.client("s3", endpoint_url=stack.moto_url, region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
    buf = io.BytesIO()
    Image.new("L", (64, 48), 40).save(buf, "PNG")
    s3.put_object(Bucket=stack.env["DATA_BUCKET"], Key=key, Body=buf.getvalue(),
                  ContentType="image/png")


def test_claim_draft_submit_with_a_real_image(stack):
    key = "uploads/flow/sample one/ü image.png"  # spaces and unicode must survive signing
    _put_png(stack, key)
    a = admin(stack)
    assert a.call("POST", "/tasks", json={"id": "flow", "name": "Flow"}).status_code == 201
    resp = a.call("POST", "/tasks/flow/samples", json={"samples": [
        {"id": "one", "files": {"image.png": key}, "annotation": polygon(x=3)}]})
    assert resp.status_code == 201

    alice = annotator(stack, "alice")
    claimed = alice.claim("flow")
    url = claimed["sample"]["files"]["image.png"]
    assert url.startswith(stack.moto_url) and "X-Amz-Signature" in url
    image = requests.get(url, timeout=HTTP_TIMEOUT)  # no auth header: the signed URL alone
    assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(image.content)).size == (64, 48)
    assert claimed["sample"]["version"] == 0 and claimed["sample"]["annotation"]["features"]

    draft = alice.on("flow", claimed, "draft", method="PUT", annotation=polygon(x=5))
    assert draft.status_code == 200 and draft.json() == {"version": 1}
    done = alice.submit("flow", claimed, annotation=polygon(x=7))
    assert done.status_code == 200 and done.json()["version"] == 2
    assert done.json()["progress"]["completed"] == 1
    assert alice.claim("flow") is None  # 204: nothing left
    versions = a.call("GET", "/tasks/flow/samples/one").json()["versions"]
    assert [(v["version"], v["kind"]) for v in versions] == [(0, "pre"), (1, "draft"), (2, "submitted")]


def test_simultaneous_claims_never_share_a_sample(stack):
    make_task(stack, "race", 200)
    users = [annotator(stack, f"racer-{i}") for i in range(16)]
    got, barrier = {}, threading.Barrier(len(users))

    def claim(i):
        barrier.wait()
        got[i] = users[i].claim("race")["sample"]["id"]
    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(users))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 16 and len(set(got.values())) == 16
    progress = admin(stack).call("GET", "/tasks/race/progress").json()
    assert progress["in_progress"] == 16 and progress["available"] == 184


def test_bad_requests_over_http_get_their_4xx(stack):
    make_task(stack, "bad", 1)
    alice = annotator(stack, "bad-alice")
    claimed = alice.claim("bad")
    resp = alice.call("POST", "/tasks/bad/samples/s00000/submit", data="{oops",
                      headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_json"
    resp = alice.on("bad", claimed, "submit", annotation={"type": "FeatureCollection"},
                    submission_id="abcdefgh1")
    assert resp.status_code == 400 and "features" in resp.json()["error"]["message"]
    resp = requests.post(f"{stack.api_url}/tasks/bad/claim", timeout=HTTP_TIMEOUT)
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "missing_token"
    assert resp.headers.get("Access-Control-Allow-Origin") == "*"  # the browser can read it
    progress = admin(stack).call("GET", "/tasks/bad/progress").json()
    assert progress["annotations"] == 0 and progress["in_progress"] == 1
