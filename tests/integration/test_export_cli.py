"""`annotate export` against the real local stack: the route queues, the stack's export
worker (devstack/export_worker.py) builds the archive in moto, the CLI downloads and unpacks."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from tests.integration.client import User
from tests.settings import HTTP_TIMEOUT
from tests.unit.test_export_formats import GAMMA, H, W, fc, gamma_feature, square

ANNOTATE = str(Path(sys.executable).parent / "annotate")


@pytest.fixture
def annotate(stack, tmp_path):
    env = {**os.environ, "ANNOTATE_CONFIG": str(tmp_path / "profiles.json"), "COLUMNS": "200",
           "ANNOTATE_API": stack.api_url, "ANNOTATE_TOKEN": stack.admin_token(),
           "ANNOTATE_TIMEOUT": str(HTTP_TIMEOUT)}

    def run(*args, expect=0):
        done = subprocess.run([ANNOTATE, *args], capture_output=True, text=True, env=env,
                              timeout=600)
        assert done.returncode == expect, done.stdout + done.stderr
        return done.stdout + done.stderr
    return run


def test_export_through_the_cli(stack, annotate, tmp_path):
    task = "export-cli"
    admin, worker = User(stack, stack.admin_token()), User(stack, stack.annotator_token("ann"))
    assert admin.call("POST", "/tasks", json={"id": task, "name": "Export",
                                              "labels": ["cell", "debris"]}).status_code == 201
    folder = tmp_path / "images"
    for i in range(3):
        (folder / f"s{i}").mkdir(parents=True)
        Image.fromarray(np.full((H, W), 40 * i, np.uint8)).save(folder / f"s{i}" / "dapi.png")
    annotate("samples", "add", task, str(folder))
    drawn = []
    for _ in range(2):
        claimed = worker.claim(task)
        assert worker.submit(task, claimed, fc(gamma_feature(), square(30, 2, 4, "debris"))
                             ).status_code == 200
        drawn.append(claimed["sample"]["id"])
    assert worker.call("POST", f"/tasks/{task}/exports", json={}).status_code == 403

    out = tmp_path / "out"
    printed = annotate("export", task, "--format", "all", "-o", str(out))
    assert "2 sample folders" in printed and "instance masks" in printed, printed
    for sid in drawn:
        mask = np.asarray(Image.open(out / sid / "masks" / "v1_ann_instances.png"))
        assert np.array_equal(mask == 1, GAMMA == 1)           # the Γ where it was drawn
        assert (out / sid / "dapi.png").exists() and (out / sid / "target_files_v1" / "annotation.json").exists()
    summary = json.loads((out / "export.json").read_text())
    assert summary["counts"]["samples_exported"] == 2 and summary["progress_at_start"]["completed"] == 2
    coco = json.loads((out / "coco.json").read_text())
    assert len(coco["images"]) == 2 and len(coco["annotations"]) == 4
    assert {c["name"] for c in coco["categories"]} == {"cell", "debris"}

    again = annotate("export", task, "--format", "all", "-o", str(out))
    assert "Nothing changed" in again and "nothing downloaded" in again

    # An interrupted download: half the archive is on disk; the next run fetches the rest only.
    state_path = out / ".annotate-export.json"
    state = json.loads(state_path.read_text())
    job = admin.call("GET", f"/tasks/{task}/exports/{state['export_id']}").json()
    whole = requests.get(job["url"], timeout=HTTP_TIMEOUT).content
    (out / f".{job['id']}.zip.part").write_bytes(whole[:len(whole) // 2])
    state_path.write_text(json.dumps({**state, "digest": "older", "partial": {
        "task_id": task, "options": state["options"], "export_id": job["id"]}}))
    resumed = annotate("export", task, "--format", "all", "-o", str(out))
    assert "resumed after" in resumed and not list(out.glob(".*.zip.part")), resumed
    assert json.loads((out / "export.json").read_text())["export"]["id"] == job["id"]

    listed = admin.call("GET", f"/tasks/{task}/exports").json()["exports"]
    assert len(listed) == 2 and all(e["status"] == "done" and e["size"] > 0 for e in listed)
    bad = annotate("export", task, "--format", "tiff", "-o", str(out), expect=1)
    assert "'geojson', 'masks', 'coco' or 'all'" in bad
