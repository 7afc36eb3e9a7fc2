"""The `annotate` CLI against the real local stack, run through its console entry point."""
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import numpy as np
import pytest
import requests
from PIL import Image
from tests.integration.client import User
from tests.settings import HTTP_TIMEOUT

ANNOTATE = str(Path(sys.executable).parent / "annotate")


@pytest.fixture
def cli(stack, tmp_path):
    """Run `annotate ARGS` as a user would; returns (exit code, stdout+stderr)."""
    env = {**os.environ, "ANNOTATE_CONFIG": str(tmp_path / "profiles.json"), "COLUMNS": "250",
           "ANNOTATE_API": stack.api_url, "ANNOTATE_TOKEN": stack.admin_token(),
           "ANNOTATE_TIMEOUT": str(HTTP_TIMEOUT)}

    def run(*args, stdin=None, expect=0, **extra_env):
        done = subprocess.run([ANNOTATE, *args], input=stdin, capture_output=True, text=True,
                              env={**env, **extra_env}, timeout=600)
        out = done.stdout + done.stderr
        assert done.returncode == expect, out
        return out
    return run


def _s3(stack):
    return boto3.client("s3", endpoint_url=stack.moto_url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def _save(path: Path, array, fmt, pages=1):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array)
    image.save(path, format=fmt, **({"save_all": True, "append_images": [image] * (pages - 1)}
                                    if pages > 1 else {}))


def _claim_all(stack, task_id, token):
    """Claim and submit until nothing is left; returns {sample id: (decoded image, sample)}."""
    user = User(stack, token)
    seen = {}
    while (claimed := user.claim(task_id)) is not None:
        sample = claimed["sample"]
        [url] = sample["files"].values()
        seen[sample["id"]] = (Image.open(io.BytesIO(requests.get(url, timeout=HTTP_TIMEOUT).content)), sample)
        submitted = user.submit(task_id, claimed, sample["annotation"] or {"type": "FeatureCollection", "features": []})
        assert submitted.status_code == 200, submitted.text
    return seen


def test_every_command_has_help_with_an_example(cli):
    for command in (["login"], ["tasks", "create"], ["tasks", "list"], ["tasks", "show"],
                    ["tasks", "edit"], ["tasks", "delete"], ["samples", "add"], ["samples", "list"],
                    ["invite"], ["invites"], ["revoke"], ["progress"]):
        assert "Example" in cli(*command, "--help"), command


def test_login_then_task_lifecycle(cli, stack, tmp_path):
    cli("login", "--api", stack.api_url, "--token", stack.admin_token(), "--site", stack.site_url)
    profile = json.loads((tmp_path / "profiles.json").read_text())
    assert profile["default"]["api"] == stack.api_url
    assert oct((tmp_path / "profiles.json").stat().st_mode & 0o777) == "0o600"
    # From here on, the profile alone says where and who.
    no_env = {"ANNOTATE_API": "", "ANNOTATE_TOKEN": ""}
    cli("tasks", "create", "--set", "id=cli-flags", "--set", "name=From flags",
        "--set", 'labels=["nucleus", "debris"]', "--set", "annotations_per_sample=2", **no_env)
    (tmp_path / "task.yaml").write_text("id: cli-file\nname: From a file\nlabels: [cell]\n"
                                        "tags: [production]\nlease_seconds: 600\n")
    cli("tasks", "create", "-f", str(tmp_path / "task.yaml"), "--set", "instructions=Outline cells", **no_env)
    listed = cli("tasks", "list", **no_env)
    assert "cli-flags" in listed and "cli-file" in listed and "production" in listed
    shown = json.loads(cli("tasks", "show", "cli-file", **no_env))
    assert (shown["instructions"], shown["lease_seconds"]) == ("Outline cells", 600)
    cli("tasks", "edit", "cli-flags", "--set", "lease_seconds=900", "--set", 'tags=["demo"]', **no_env)
    assert json.loads(cli("tasks", "show", "cli-flags"))["lease_seconds"] == 900
    assert "Nothing to change" in cli("tasks", "edit", "cli-flags", expect=1)
    assert "invalid_body" in cli("tasks", "create", "--set", "name=x", "--set", "sampling=sideways", expect=1)
    # production: a wrong id deletes nothing; the right one deletes
    assert "nothing deleted" in cli("tasks", "delete", "cli-file", "--yes", stdin="cli-flags\n", expect=1)
    cli("tasks", "show", "cli-file")
    cli("tasks", "delete", "cli-file", stdin="cli-file\n")
    cli("tasks", "delete", "cli-flags", "--yes")
    assert "task_not_found" in cli("tasks", "show", "cli-file", expect=1)


def test_task_fields_from_a_file_then_set_and_every_refusal_stores_nothing(cli, tmp_path):
    (tmp_path / "task.json").write_text(json.dumps({
        "id": "cli-set", "name": "Set", "labels": ["cell", "debris"],
        "client_config": {"draw_label": "cell", "draw_shape_type": "Polygon"}}))
    cli("tasks", "create", "-f", str(tmp_path / "task.json"))
    out = cli("tasks", "edit", "cli-set", "--set", "client_config.draw_label=debris",
              "--set", "min_completion_time=3", "--set", "description=42 nuclei")
    assert "client_config, description, min_completion_time" in out
    task = json.loads(cli("tasks", "show", "cli-set"))
    # JSON where it is JSON, text otherwise; a dotted key keeps the object's other entries.
    assert task["client_config"] == {"draw_label": "debris", "draw_shape_type": "Polygon"}
    assert (task["min_completion_time"], task["description"]) == (3, "42 nuclei")

    (tmp_path / "list.yaml").write_text("- name: x\n")
    refused = {  # arguments -> what the message must say
        ("--set", "colour=red"): "colour: unknown field",
        ("--set", "lease_seconds=soon"): "lease_seconds",
        ("--set", "labels=cell"): "labels",
        ("--set", "lease_seconds"): "write KEY=VALUE",
        ("--set", "=3"): "write KEY=VALUE",
        ("--set", "name.first=Ann"): "name is not an object",
        ("-f", str(tmp_path / "list.yaml")): "must hold a mapping",
    }
    for args, says in refused.items():
        assert says in cli("tasks", "edit", "cli-set", "--set", "name=Changed", *args, expect=1), args
    for args in (("--set", "colour=red"), ("--set", "labels=cell")):  # the create path likewise
        assert refused[args] in cli("tasks", "create", "--set", "id=cli-refused", *args, expect=1), args
    assert json.loads(cli("tasks", "show", "cli-set")) == task
    assert "task_not_found" in cli("tasks", "show", "cli-refused", expect=1)
    cli("tasks", "delete", "cli-set", "--yes")


def test_folder_with_microscopy_files_ingests_and_refuses_the_corrupt_one(cli, stack, tmp_path):
    root = tmp_path / "plate"
    rng = np.random.default_rng(0)
    _save(root / "tiff16" / "image.tif", rng.integers(200, 900, (64, 96), dtype=np.uint16), "TIFF", pages=3)
    _save(root / "rgb" / "image.tif", rng.integers(0, 255, (40, 50, 3), dtype=np.uint8), "TIFF")
    _save(root / "jpeg" / "image.jpg", rng.integers(0, 255, (30, 30, 3), dtype=np.uint8), "JPEG")
    (root / "corrupt").mkdir()
    (root / "corrupt" / "image.tif").write_bytes((root / "tiff16" / "image.tif").read_bytes()[:500])
    mask = np.zeros((64, 96), np.uint8)
    mask[10:20, 30:50] = 1
    _save(root / "tiff16" / "annotation.png", mask, "PNG")
    cli("tasks", "create", "--set", "id=ingest", "--set", "name=Ingest", "--set", 'labels=["nucleus"]')
    out = cli("samples", "add", "ingest", str(root))
    assert "4 samples added" in out and "corrupt" in out and "damaged or truncated" in out
    assert "problem" in cli("samples", "list", "ingest", "--status", "problem")

    seen = _claim_all(stack, "ingest", stack.annotator_token())
    assert set(seen) == {"tiff16", "rgb", "jpeg"}  # the corrupt one is never handed out
    image, sample = seen["tiff16"]
    assert (image.format, image.mode, image.size) == ("PNG", "L", (96, 64))
    assert np.asarray(image).max() == 255  # stretched from 900 of 65535
    [feature] = sample["annotation"]["features"]  # the label mask, as version 0
    xs = [x for x, _ in feature["geometry"]["coordinates"][0]]
    ys = [y for _, y in feature["geometry"]["coordinates"][0]]
    assert (min(xs), max(xs), min(ys), max(ys)) == (30, 50, 64 - 20, 64 - 10)
    assert seen["rgb"][0].mode == "RGB"


def test_thousand_images_upload_and_a_rerun_uploads_nothing(cli, stack, tmp_path):
    root = tmp_path / "many"
    root.mkdir()
    rng = np.random.default_rng(1)
    for i in range(1000):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(root / f"cell-{i:04d}.png")
    cli("tasks", "create", "--set", "id=many", "--set", "name=Many")
    started = time.monotonic()
    first = cli("samples", "add", "many", str(root), "--jobs", "8")
    first_s = time.monotonic() - started
    assert "Uploaded 1000 files" in first and "1000 samples added" in first, first
    started = time.monotonic()
    second = cli("samples", "add", "many", str(root))
    second_s = time.monotonic() - started
    assert "Uploaded 0 files" in second and "skipped 1000" in second and "0 samples added, 1000 existed" in second
    progress = requests.get(f"{stack.api_url}/tasks/many/progress",
                            headers=stack.auth(stack.admin_token()), timeout=HTTP_TIMEOUT).json()
    assert progress["total"] == 1000
    print(f"\n1000 images: first run {first_s:.1f} s, resumed run {second_s:.1f} s")


def test_s3_prefix_and_url_list(cli, stack, tmp_path):
    s3 = _s3(stack)
    bucket = stack.env["IMPORT_BUCKETS"]
    s3.create_bucket(Bucket=bucket)
    out = io.BytesIO()
    Image.fromarray(np.full((16, 16), 40000, np.uint16)).save(out, format="TIFF")
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"plate 7/well-{i}.tif", Body=out.getvalue())
    cli("tasks", "create", "--set", "id=remote", "--set", "name=Remote")
    assert "3 samples added" in cli("samples", "add", "remote", f"s3://{bucket}/plate 7/")
    assert "bucket_not_allowed" in cli("samples", "add", "remote", "s3://elsewhere/x/", expect=1)
    urls = tmp_path / "urls.txt"
    urls.write_text("# one per line\nhttps://images.example.org/a/one.png\n\nhttps://images.example.org/b/two.png\n")
    assert "2 samples added" in cli("samples", "add", "remote", str(urls))
    detail = requests.get(f"{stack.api_url}/tasks/remote/samples/well-0",
                          headers=stack.auth(stack.admin_token()), timeout=HTTP_TIMEOUT).json()
    assert detail["media"]["image.tif"]["source"] == f"s3://{bucket}/plate 7/well-0.tif"
    listed = cli("samples", "list", "remote")
    assert "https://images.example.org/a/one.png" not in listed and "one" in listed
    bad = str(_write(tmp_path / "bad.txt", "ftp://x/y.png\n"))
    assert "is not an https:// URL" in cli("samples", "add", "remote", bad, expect=1)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _interrupt(process, first_after=3.0, patience=30.0):
    """Ctrl-C, as a user would; again every few seconds in case the first one landed while the
    interpreter was still starting up (a loaded machine) and was lost there."""
    time.sleep(first_after)
    deadline = time.time() + patience
    while time.time() < deadline:
        process.send_signal(signal.SIGINT)
        try:
            return process.communicate(timeout=5)[0]
        except subprocess.TimeoutExpired:
            continue
    raise AssertionError("annotate progress --watch did not stop on Ctrl-C")


def test_invite_list_revoke_and_progress(cli, stack, tmp_path):
    cli("tasks", "create", "--set", "id=invited", "--set", "name=Invited", "--set", 'annotators=["carol@lab.org"]')
    root = tmp_path / "two"
    for i in range(2):
        _save(root / f"img-{i}.png", np.full((8, 8), i * 100, np.uint8), "PNG")
    cli("samples", "add", "invited", str(root))
    out = cli("invite", "invited", "alice@lab.org", "--days", "1", "--site", stack.site_url)
    link = next(w for w in out.split() if w.startswith("http") and "#token=" in w)
    assert link.startswith(stack.site_url.rstrip("/") + "/index.html?task=invited#token=")
    token = link.split("#token=")[1]
    headers = stack.auth(token)
    assert requests.get(f"{stack.api_url}/tasks/invited", headers=headers, timeout=HTTP_TIMEOUT).status_code == 200
    assert len(_claim_all(stack, "invited", token)) == 2  # alice, by her invite link, does the work

    progress = cli("progress", "invited")
    assert "2 / 2 complete" in progress and "alice@lab.org" in progress and "ETA done" in progress
    watching = subprocess.Popen([ANNOTATE, "progress", "invited", "--watch", "--interval", "0.5"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "ANNOTATE_CONFIG": str(tmp_path / "profiles.json"),
                                     "ANNOTATE_API": stack.api_url, "ANNOTATE_TOKEN": stack.admin_token(),
           "ANNOTATE_TIMEOUT": str(HTTP_TIMEOUT)})
    try:
        out = _interrupt(watching)
    finally:
        watching.kill()  # never leave it polling the shared stack
    assert watching.returncode == 0 and "2 / 2 complete" in out, out
    listed = cli("invites", "invited")
    invite_id = next(line.split()[1] for line in listed.splitlines() if "alice@lab.org" in line)
    cli("revoke", "invited", invite_id)
    refused = requests.get(f"{stack.api_url}/tasks/invited", headers=headers, timeout=HTTP_TIMEOUT)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invite_revoked"
    assert "invite_not_found" in cli("revoke", "invited", "0000", expect=1)
