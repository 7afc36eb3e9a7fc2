"""The local stack itself: persistence across restarts, clean stop, wire counters."""
import json
import time
from pathlib import Path

import boto3
import pytest
import requests

from devstack import snapshot
from devstack.processes import free_ports
from devstack.stack import LocalStack
from tests.settings import HTTP_TIMEOUT

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64


def aws(service, stack):
    return boto3.client(service, endpoint_url=stack.moto_url,
                        region_name=stack.env["AWS_DEFAULT_REGION"],
                        aws_access_key_id="test", aws_secret_access_key="test")


def live_members(pgids):
    """(pid, pgid) of every running, non-zombie process in these process groups."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # Fields after the ")" that ends the command name: state ppid pgrp ...
            state, _ppid, pgrp = (entry / "stat").read_text().rpartition(")")[2].split()[:3]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(pgrp) in pgids and state != "Z":
            found.append((int(entry.name), int(pgrp)))
    return found


@pytest.fixture
def ports():
    return dict(zip(("moto_port", "api_port"), free_ports(2)))


def test_state_survives_a_restart_and_stop_leaves_no_process(tmp_path, ports):
    data_dir = tmp_path / "data"
    with LocalStack(log_dir=tmp_path / "logs").start(data_dir=data_dir, **ports) as first:
        bucket = first.env["DATA_BUCKET"]
        aws("s3", first).put_object(Bucket=bucket, Key="uploads/persist/s 1/image.png", Body=PNG,
                                    ContentType="image/png")
        admin = first.auth(first.admin_token())
        created = requests.post(f"{first.api_url}/tasks", headers=admin, timeout=HTTP_TIMEOUT,
                                json={"id": "persist", "name": "Persistence", "labels": ["cell"]})
        assert created.status_code == 201, created.text
        registered = requests.post(
            f"{first.api_url}/tasks/persist/samples", headers=admin, timeout=HTTP_TIMEOUT,
            json={"samples": [{"id": "s1", "files": {"image.png": "uploads/persist/s 1/image.png"},
                               "annotation": None}]})
        assert registered.status_code == 201, registered.text
        groups = set(first.process_groups.values())
        assert live_members(groups)
    # Stopped at once: whatever reached moto must be in the final snapshot.
    assert live_members(groups) == []
    assert (data_dir / "manifest.json").exists()

    with LocalStack(log_dir=tmp_path / "logs").start(data_dir=data_dir, **ports) as second:
        admin = second.auth(second.admin_token())
        task = requests.get(f"{second.api_url}/tasks/persist", headers=admin, timeout=HTTP_TIMEOUT)
        assert task.status_code == 200 and task.json()["name"] == "Persistence"
        sample = requests.get(f"{second.api_url}/tasks/persist/samples/s1", headers=admin,
                              timeout=10)
        assert sample.status_code == 200, sample.text
        assert sample.json()["files"] == {"image.png": "uploads/persist/s 1/image.png"}
        obj = aws("s3", second).get_object(Bucket=second.env["DATA_BUCKET"],
                                           Key="uploads/persist/s 1/image.png")
        assert obj["Body"].read() == PNG and obj["ContentType"] == "image/png"


def test_snapshot_writes_image_bytes_once(stack, tmp_path):
    """Unchanged objects are not fetched or rewritten; replaced bytes are dropped."""
    s3, bucket = aws("s3", stack), stack.env["DATA_BUCKET"]
    blobs = tmp_path / "s3" / bucket / "blobs"
    s3.put_object(Bucket=bucket, Key="once/a.png", Body=PNG)
    snapshot.save(stack.moto_url, stack.env["AWS_DEFAULT_REGION"], tmp_path)
    first = {path.name: path.stat().st_mtime_ns for path in blobs.iterdir()}

    s3.put_object(Bucket=bucket, Key="once/b.png", Body=b"new bytes")
    snapshot.save(stack.moto_url, stack.env["AWS_DEFAULT_REGION"], tmp_path)
    second = {path.name: path.stat().st_mtime_ns for path in blobs.iterdir()}
    assert len(second) == len(first) + 1
    assert all(second[name] == mtime for name, mtime in first.items())

    s3.put_object(Bucket=bucket, Key="once/b.png", Body=b"replaced")
    snapshot.save(stack.moto_url, stack.env["AWS_DEFAULT_REGION"], tmp_path)
    assert len(list(blobs.iterdir())) == len(second)
    index = json.loads((tmp_path / "s3" / bucket / "index.json").read_text())
    assert (blobs / index["objects"]["once/b.png"]["blob"]).read_bytes() == b"replaced"


def test_snapshot_dumps_only_the_tables_written_since_the_last(stack, tmp_path):
    region, prefix = stack.env["AWS_DEFAULT_REGION"], stack.env["TABLE_PREFIX"]
    snapshot.save(stack.moto_url, region, tmp_path)
    files = {p.stem: p for p in (tmp_path / "dynamodb").glob("*.json")}
    before = {name: path.stat().st_mtime_ns for name, path in files.items()}
    # A table no route lists: the shared stack's other tests never meet this bare item.
    table = prefix + "submissions"
    aws("dynamodb", stack).put_item(TableName=table, Item={"submission_key": {"S": "snapshot-only-this"}})
    snapshot.save(stack.moto_url, region, tmp_path, changed_tables={table})
    after = {name: path.stat().st_mtime_ns for name, path in files.items()}
    assert [name for name in files if after[name] != before[name]] == [table]
    assert "snapshot-only-this" in files[table].read_text()


def test_stats_count_requests_at_the_wire(stack):
    s3, ddb = aws("s3", stack), aws("dynamodb", stack)
    table = "devstack-stats-probe"
    if table not in ddb.list_tables()["TableNames"]:
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    for pk in ("a", "b", "c"):
        ddb.put_item(TableName=table, Item={"pk": {"S": pk}})
    assert requests.post(f"{stack.moto_url}/_devstack/stats/reset", timeout=HTTP_TIMEOUT).ok

    ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})
    ddb.scan(TableName=table, FilterExpression="pk = :a",
             ExpressionAttributeValues={":a": {"S": "a"}})
    s3.put_object(Bucket=stack.env["DATA_BUCKET"], Key="stats/probe", Body=b"x")
    s3.get_object(Bucket=stack.env["DATA_BUCKET"], Key="stats/probe")
    time.sleep(3.5)  # a snapshot runs meanwhile: its own requests must not be counted

    stats = requests.get(f"{stack.moto_url}/_devstack/stats", timeout=HTTP_TIMEOUT).json()
    assert stats["dynamodb"] == {
        "GetItem": {"requests": 1, "errors": 0, "items_returned": 1, "items_read": 1},
        "Scan": {"requests": 1, "errors": 0, "items_returned": 1, "items_read": 3},
    }
    assert stats["s3"] == {"PUT": {"requests": 1, "errors": 0},
                           "GET": {"requests": 1, "errors": 0}}

    listed = requests.get(f"{stack.api_url}/tasks", timeout=HTTP_TIMEOUT,
                          headers=stack.auth(stack.tokens["admin"]))
    assert listed.status_code == 200
    after = requests.get(f"{stack.moto_url}/_devstack/stats", timeout=HTTP_TIMEOUT).json()
    assert sum(op["requests"] for op in after["dynamodb"].values()) > 2
