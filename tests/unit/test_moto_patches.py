"""devstack/moto_patches.py answers exactly as moto as released does, and notices upstream changes.

Each comparison runs the same operations twice in-process (moto's mock, through boto3 or the
app), once on moto as released and once patched, and compares every answer: items, counts,
LastEvaluatedKey, conditional failures, cancellation reasons.
"""
import contextlib
import random

import boto3
import moto
import pytest
from botocore.exceptions import ClientError
from chalice.test import Client
from conftest import Api
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from chalicelib import bootstrap, clock
from devstack import moto_patches


def test_moto_is_the_pinned_version():
    assert moto.__version__ == "5.2.5", "moto_patches.py was checked against 5.2.5 only"


@pytest.mark.parametrize("name", sorted(moto_patches.PATCHED))
def test_patched_upstream_function_is_unchanged(name):
    function = {**moto_patches.ORIGINAL, **moto_patches.RELIED_ON}[name]
    assert moto_patches.source_hash(function) == moto_patches.PATCHED[name], (
        f"moto's {function.__qualname__} changed upstream: re-check devstack/moto_patches.py "
        "against it before recording its new hash in PATCHED")


@contextlib.contextmanager
def moto_as(patched):
    if patched:
        moto_patches.apply()
    try:
        with mock_aws():
            yield
    finally:
        moto_patches.revert()


def test_apply_and_revert_swap_the_functions():
    from moto.dynamodb.models.table import Table
    with moto_as(True):
        assert Table.query is moto_patches.query
    assert Table.query is moto_patches.ORIGINAL["query"]


# -- randomised: Query and TransactWriteItems outcomes ----------------------------------------

PKS, SKS, GKS = ["a", "b"], [f"s{i}" for i in range(8)], ["g0", "g1", "g1x", "g2"]
NUMBERS = [-2, 0, 1, 1.5, 3, 10]


def create_table(ddb, table):
    ddb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in
                              (("pk", "S"), ("sk", "S"), ("gk", "S"), ("grp", "S"), ("n", "N"))],
        GlobalSecondaryIndexes=[
            # shares the table's hash key, like the app's dispatch index
            {"IndexName": "byg", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                           {"AttributeName": "gk", "KeyType": "RANGE"}]},
            # its own hash key and a numeric range key
            {"IndexName": "byn", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "grp", "KeyType": "HASH"},
                           {"AttributeName": "n", "KeyType": "RANGE"}]}])


keys = st.fixed_dictionaries({"pk": st.sampled_from(PKS), "sk": st.sampled_from(SKS)})
# Non-key values of every kind an answer carries (binary ones take moto's own serializer).
DOCS = [{"M": {"a": {"L": [{"N": "1"}, {"S": ""}, {"BOOL": False}]}, "b": {"NULL": True}}},
        {"SS": ["x", "y"]}, {"NS": ["1", "2.5"]}, {"B": b"\x00\xff"}, {"L": [{"B": b"z"}]},
        {"BS": [b"a"]}, {"BOOL": True}, {"S": "\u00e9t\u00e9"}]
item_extras = st.fixed_dictionaries({}, optional={
    "gk": st.sampled_from(GKS), "grp": st.sampled_from(PKS), "n": st.sampled_from(NUMBERS),
    "doc": st.sampled_from(range(len(DOCS)))})
conditions = st.sampled_from([None, "attribute_not_exists(pk)", "attribute_exists(pk)",
                              "gk = :g0", "n > :zero"])


def put_op(key, extras, condition):
    return {"kind": "put", "key": key, "extras": extras, "condition": condition}


writes = st.one_of(
    st.builds(put_op, keys, item_extras, conditions),
    st.fixed_dictionaries({"kind": st.just("update"), "key": keys, "condition": conditions,
                           "set": st.sampled_from(GKS + [None]), "add": st.sampled_from([None, 1, -3])}),
    st.fixed_dictionaries({"kind": st.just("delete"), "key": keys, "condition": conditions}),
)
transactions = st.fixed_dictionaries({
    "kind": st.just("transact"),
    "actions": st.lists(st.one_of(writes, st.fixed_dictionaries({
        "kind": st.just("check"), "key": keys, "condition": conditions.filter(bool)})),
        min_size=1, max_size=4)})
queries = st.fixed_dictionaries({
    "kind": st.just("query"),
    "index": st.sampled_from([None, "byg", "byn"]),
    "partition": st.sampled_from(PKS),
    "op": st.sampled_from([None, "=", "<", "<=", ">", ">=", "between", "begins_with"]),
    "bound": st.integers(0, 7),
    "limit": st.sampled_from([None, 1, 2, 3, 5]),
    "forward": st.booleans(),
    "count": st.booleans(),
    "filter": st.booleans()})
# A populated table first (queries then have pages to cut), then anything, queries often.
programs = st.builds(
    lambda setup, rest: setup + rest,
    st.lists(st.builds(put_op, keys, item_extras, st.none()), min_size=4, max_size=16),
    st.lists(st.one_of(queries, writes, transactions, queries), min_size=1, max_size=20))

VALUES = {":g0": {"S": "g0"}, ":zero": {"N": "0"}}


def typed(extras):
    out = {}
    for name, value in extras.items():
        out[name] = {"N": str(value)} if name == "n" else DOCS[value] if name == "doc" else {"S": value}
    return out


def with_condition(request, condition):
    if condition:
        request["ConditionExpression"] = condition
        used = {k: v for k, v in VALUES.items() if k in condition}
        if used:
            request["ExpressionAttributeValues"] = {**request.get("ExpressionAttributeValues", {}), **used}
    return request


def write_request(op, table):
    key = {"pk": {"S": op["key"]["pk"]}, "sk": {"S": op["key"]["sk"]}}
    if op["kind"] == "put":
        return "Put", with_condition({"TableName": table, "Item": {**key, **typed(op["extras"])}},
                                     op["condition"])
    if op["kind"] == "delete":
        return "Delete", with_condition({"TableName": table, "Key": key}, op["condition"])
    if op["kind"] == "check":
        return "ConditionCheck", with_condition({"TableName": table, "Key": key}, op["condition"])
    parts, values = [], {}
    if op["set"] is None:
        parts.append("REMOVE gk")
    else:
        parts.append("SET gk = :set")
        values[":set"] = {"S": op["set"]}
    if op["add"] is not None:
        parts.append("ADD n :add")
        values[":add"] = {"N": str(op["add"])}
    request = {"TableName": table, "Key": key, "UpdateExpression": " ".join(parts)}
    if values:
        request["ExpressionAttributeValues"] = values
    return "Update", with_condition(request, op["condition"])


def key_condition(q):
    attr = {None: "sk", "byg": "gk", "byn": "n"}[q["index"]]
    hash_attr = "grp" if q["index"] == "byn" else "pk"
    values = {":p": {"S": q["partition"]}}
    if q["index"] == "byn":
        low, high = {"N": str(NUMBERS[q["bound"] % len(NUMBERS)])}, {"N": "3"}
    else:
        pool = SKS if q["index"] is None else GKS
        low, high = {"S": pool[q["bound"] % len(pool)]}, {"S": pool[-1]}
    expression = f"{hash_attr} = :p"
    op = q["op"]
    if op == "begins_with" and q["index"] == "byn":
        op = ">="  # begins_with takes strings only
    if op == "between":
        expression += f" AND {attr} BETWEEN :lo AND :hi"
        values.update({":lo": low, ":hi": high})
    elif op == "begins_with":
        expression += f" AND begins_with({attr}, :lo)"
        values[":lo"] = {"S": low["S"][:2]}
    elif op:
        expression += f" AND {attr} {op} :lo"
        values[":lo"] = low
    return expression, values


def run_query(ddb, table, q):
    """Every page of the query, as the client sees it."""
    expression, values = key_condition(q)
    request = {"TableName": table, "KeyConditionExpression": expression,
               "ExpressionAttributeValues": values, "ScanIndexForward": q["forward"]}
    if q["index"]:
        request["IndexName"] = q["index"]
    if q["limit"]:
        request["Limit"] = q["limit"]
    if q["count"]:
        request["Select"] = "COUNT"
    if q["filter"]:
        request["FilterExpression"] = "attribute_exists(n)"
    pages = []
    for _ in range(40):
        try:
            page = ddb.query(**request)
        except ClientError as error:
            return pages + [("error", error.response["Error"]["Code"])]
        pages.append({k: page.get(k) for k in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
        if not page.get("LastEvaluatedKey"):
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return pages


def outcome(call):
    try:
        return ("ok", call())
    except ClientError as error:
        reasons = error.response.get("CancellationReasons")
        return ("error", error.response["Error"]["Code"],
                [r.get("Code") for r in reasons] if reasons else None)


RUNS = iter(range(10**9))


def run_program(ddb, program, patched):
    """The log of every answer, on a fresh table; moto patched or as released."""
    table = f"t{next(RUNS)}"
    create_table(ddb, table)
    if patched:
        moto_patches.apply()
    failures = dict(moto_patches.FAST_PATH_FAILURES)
    try:
        log = []
        for op in program:
            if op["kind"] == "query":
                log.append(run_query(ddb, table, op))
            elif op["kind"] == "transact":
                items = [dict([write_request(a, table)]) for a in op["actions"]]
                log.append(outcome(lambda items=items: ddb.transact_write_items(TransactItems=items)
                                   and None))
            else:
                kind, request = write_request(op, table)
                call = {"Put": ddb.put_item, "Delete": ddb.delete_item, "Update": ddb.update_item}[kind]
                log.append(outcome(lambda call=call, request=request: call(**request) and None))
        log.append(sorted(map(repr, ddb.scan(TableName=table)["Items"])))
        # A query the patches could not answer falls back to moto (same answer): none may.
        assert dict(moto_patches.FAST_PATH_FAILURES) == failures
        return log
    finally:
        moto_patches.revert()
        ddb.delete_table(TableName=table)


@pytest.fixture
def ddb():
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def query_op(index, op, bound, limit, forward=True):
    return {"kind": "query", "index": index, "partition": "a", "op": op, "bound": bound,
            "limit": limit, "forward": forward, "count": False, "filter": False}


FIVE = [put_op({"pk": "a", "sk": f"s{i}"}, {"gk": "g1", "n": i}, None) for i in range(5)]


# The last page holds exactly Limit items and the partition goes on past the range.
@example([*FIVE, query_op(None, "<=", 3, 2), query_op("byg", "<", 3, 2, forward=False)])
# An item changed in place after the index view was built: moves in, moves, moves out.
@example([*FIVE, put_op({"pk": "a", "sk": "s6"}, {}, None), query_op("byg", None, 0, None),
          {"kind": "update", "key": {"pk": "a", "sk": "s6"}, "condition": None, "set": "g0", "add": None},
          query_op("byg", None, 0, 2),
          {"kind": "update", "key": {"pk": "a", "sk": "s0"}, "condition": None, "set": None, "add": 1},
          query_op("byg", None, 0, None)])
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(program=programs)
def test_random_programs_answer_the_same_patched_and_released(ddb, program):
    assert run_program(ddb, program, patched=True) == run_program(ddb, program, patched=False)


def test_views_rebuilt_in_bulk_answer_the_same(ddb, monkeypatch):
    monkeypatch.setattr(moto_patches.View, "REBUILD_AT", 0)  # every catch-up rebuilds
    program = [*FIVE, query_op("byg", "<=", 3, 2), query_op(None, ">", 1, 2, forward=False),
               put_op({"pk": "a", "sk": "s7"}, {"gk": "g0", "grp": "a", "n": 3}, None),
               {"kind": "delete", "key": {"pk": "a", "sk": "s1"}, "condition": None},
               query_op("byg", "<=", 3, 2), query_op("byn", ">=", 1, 1), query_op(None, None, 0, 3)]
    assert run_program(ddb, program, patched=True) == run_program(ddb, program, patched=False)


def test_a_cancelled_transaction_leaves_every_item_as_it_was_patched(ddb):
    program = [put_op({"pk": "a", "sk": "s1"}, {"gk": "g1", "n": 1}, None),
               {"kind": "transact", "actions": [
                   {"kind": "update", "key": {"pk": "a", "sk": "s1"}, "condition": None,
                    "set": "g2", "add": 1},
                   put_op({"pk": "a", "sk": "s2"}, {"gk": "g0"}, None),
                   {"kind": "check", "key": {"pk": "b", "sk": "s0"}, "condition": "attribute_exists(pk)"}]},
               {"kind": "query", "index": "byg", "partition": "a", "op": None, "bound": 0,
                "limit": None, "forward": True, "count": False, "filter": False}]
    patched = run_program(ddb, program, patched=True)
    assert patched[1] == ("error", "TransactionCanceledException", ["None", "None", "ConditionalCheckFailed"])
    assert [i["sk"]["S"] for i in patched[2][0]["Items"]] == ["s1"]  # s2 never landed
    assert patched[2][0]["Items"][0]["gk"] == {"S": "g1"}  # the update was rolled back
    assert patched == run_program(ddb, program, patched=False)


# -- the app's own annotator loop on both -----------------------------------------------------

def scenario(monkeypatch):
    """Register, claim, draft, release, submit with three annotators on an overlap-2 task; the
    answers with every random id taken out."""
    monkeypatch.setattr(clock, "now", lambda: 1_800_000_000)
    random.seed(7)
    from app import app
    with Client(app) as client:
        api = Api(client)
        api.make_task("t", n_samples=12, annotations_per_sample=2)
        transcript = []
        for round_ in range(6):
            for user in ("alice", "bob", "carol"):
                status, got = api.claim("t", user)
                transcript.append((user, "claim", status, got and got["sample"]["id"]))
                if status != 200:
                    continue
                sid, lease = got["sample"]["id"], got["lease"]["id"]
                if (round_ + len(user)) % 4 == 0:
                    status, _ = api.call("POST", f"/tasks/t/samples/{sid}/release", user=user,
                                         body={"lease_id": lease})
                    transcript.append((user, "release", status))
                    continue
                status, got = api.submit("t", user, got)
                transcript.append((user, "submit", status, got.get("version"), got.get("progress")))
        transcript.append(api.progress("t"))
        transcript.append(api.ok("GET", "/tasks/t/samples?limit=5"))
        return transcript


def test_the_annotator_loop_answers_the_same_patched_and_released(monkeypatch):
    answers = []
    for patched in (False, True):
        with moto_as(patched):
            bootstrap.main()
            answers.append(scenario(monkeypatch))
    assert answers[0] == answers[1]
    assert any(step[1] == "submit" and step[2] == 200 for step in answers[0][:-2])
