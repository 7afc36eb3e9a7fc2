"""The original ImJoy cloud-annotation clients' requests, as they send them (written from
reading imjoy-team/imjoy-cloud-annotation, not copied): same methods, paths, headers, bodies
and the same way of reading answers (JSON body first, then `success`)."""
import io
import json
import os
from urllib.parse import parse_qs, unquote, urlparse

import requests
from PIL import Image
from tests.settings import HTTP_TIMEOUT



class Failure(Exception):
    def __init__(self, status, detail):
        super().__init__(f"{status}: {detail}")
        self.status, self.detail = status, detail


class Plugin:
    """The plugins' `Client.makeRequest` (fetch): Authorization always; Content-Type
    application/json and a JSON body only when there is one; `result` or an Error(detail)."""

    def __init__(self, stack, token):
        self.base, self.token = stack.api_url + "/legacy", token

    def raw(self, method, path, json_body=None):
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(json_body)
        resp = requests.request(method, self.base + path, headers=headers, data=data,
                                timeout=HTTP_TIMEOUT)
        return resp, resp.json()  # every answer must be JSON: the clients parse it first

    def call(self, method, path, json_body=None):
        resp, data = self.raw(method, path, json_body)
        if data.get("success"):
            assert resp.status_code == 200, resp.text
            return data["result"]
        assert 400 <= resp.status_code < 600 and data["success"] is False, resp.text
        raise Failure(resp.status_code, data["detail"])

    def get(self, path):
        return self.call("GET", path)

    def save_annotation(self, url, features):
        """The annotator's Save: axios.put of a File, which axios sends with its default
        Content-Type for PUT, application/x-www-form-urlencoded."""
        resp = requests.put(url, data=json.dumps(features).encode(), timeout=HTTP_TIMEOUT,
                            headers={"Content-Type": "application/x-www-form-urlencoded",
                                     "Accept": "application/json, text/plain, */*"})
        assert resp.status_code == 200, resp.text
        return resp

    def complete(self, task_id, session_id):
        return self.call("POST", f"/task/{task_id}/sample/{session_id}/complete")


class Script:
    """upload-dataset.py / download-dataset.py: requests with only the Authorization header."""

    def __init__(self, stack, token):
        self.base = stack.api_url + "/legacy"
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path):
        resp = requests.get(self.base + path, headers=self.headers, timeout=HTTP_TIMEOUT)
        return resp, resp.json()

    def post(self, path):
        resp = requests.post(self.base + path, headers=self.headers, timeout=HTTP_TIMEOUT)
        return resp, resp.json()

    def upload(self, dataset_dir, task_id, exist_ok=True):
        """The upload script's loop: list tasks, then per sample folder: ask for URLs, PUT the
        inputs and the targets that exist (status 200 exactly), refresh."""
        _, listed = self.get("/tasks")
        assert listed["success"] is True and task_id in listed["result"], listed
        refreshed = {}
        for sample_id in sorted(os.listdir(dataset_dir)):
            folder = os.path.join(dataset_dir, sample_id)
            if not os.path.isdir(folder):
                continue
            _, answer = self.get(f"/task/{task_id}/sample/{sample_id}/upload"
                                 + ("?exist_ok=1" if exist_ok else ""))
            assert answer["success"] is True, answer
            urls = answer["result"]
            for name, url in urls["input_files"].items():
                with open(os.path.join(folder, name), "rb") as content:
                    put = requests.put(url, data=content, timeout=HTTP_TIMEOUT)
                assert put.status_code == 200, put.text
            for name, url in urls["target_files"].items():
                path = os.path.join(folder, name)
                if not os.path.exists(path):
                    continue
                with open(path, "rb") as content:
                    put = requests.put(url, data=content, timeout=HTTP_TIMEOUT)
                assert put.status_code == 200, put.text
            _, done = self.post(f"/task/{task_id}/sample/{sample_id}/refresh")
            assert done["success"] is True, done
            refreshed[sample_id] = urls
        return refreshed

    def download(self, task_id, save_dir):
        """The download script's loop: every sample's inputs, every target version into
        target_files_v<n>/, and sample_status.json when there is a version."""
        _, listed = self.get("/tasks")
        assert task_id in listed["result"]
        _, all_ids = self.get(f"/task/{task_id}/all")
        assert all_ids["success"] is True
        for sample_id in all_ids["result"]:
            resp, answer = self.get(f"/task/{task_id}/sample/{sample_id}?target_version=all")
            assert resp.status_code == 200 and answer["success"], answer
            info = answer["result"]
            folder = os.path.join(save_dir, sample_id)
            os.makedirs(folder, exist_ok=True)
            for name, url in info["input_files"].items():
                _fetch(url, os.path.join(folder, name))
            for name, versions in info["target_files"].items():
                if not versions:
                    continue
                with open(os.path.join(folder, "sample_status.json"), "w") as f:
                    json.dump(info["status"], f, indent=2)
                for version, url in versions.items():
                    os.makedirs(os.path.join(folder, f"target_files_{version}"), exist_ok=True)
                    _fetch(url, os.path.join(folder, f"target_files_{version}", name))
        return all_ids["result"]


def _fetch(url, path):
    resp = requests.get(url, timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200, resp.text
    with open(path, "wb") as f:
        f.write(resp.content)


# --- checks and data -----------------------------------------------------------------------

def signed_put_key(url, bucket):
    """The object key a presigned PUT URL writes, after checking it signs nothing but the
    host (moto does not check signatures, so the test reads the URL itself)."""
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    assert query["X-Amz-SignedHeaders"] == ["host"], query
    assert not any(k.lower().startswith("x-amz-meta") for k in query)
    prefix = f"/{bucket}/"
    assert parsed.path.startswith(prefix), parsed.path
    return unquote(parsed.path[len(prefix):])


def png(value, size=(40, 30)):
    buf = io.BytesIO()
    Image.new("L", size, value).save(buf, "PNG")
    return buf.getvalue()


def feature_collection(*xs, label="cell"):
    """Compact, label-first GeoJSON: what the service stores comes back byte for byte."""
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
            [[x, 1], [x + 5, 1], [x + 5, 6], [x, 1]]]}, "properties": {"label": label}}
        for x in xs]}


def compact(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def write_dataset(root, samples):
    """One folder per sample: {sample_id: {file name: bytes}}; a loose file at the top, which
    the upload script skips."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.txt").write_text("not a sample")
    for sample_id, files in samples.items():
        (root / sample_id).mkdir()
        for name, data in files.items():
            (root / sample_id / name).write_bytes(data)
    return root
