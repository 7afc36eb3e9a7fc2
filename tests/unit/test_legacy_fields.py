"""The original protocol's task fields and session ids, translated both ways (no AWS needed:
the translation reads and builds objects only)."""
import pytest

from chalicelib import legacy
from chalicelib.errors import BadRequest
from chalicelib.models import Task

TEMPLATE = {"type": "annotation", "name": "MY Task", "description": "[TODO]", "dataset_dir": None,
            "input_files": ["input-1.txt"], "target_files": ["target-1.txt"],
            "task_visibility": "public", "sample_visibility": "protected",
            "sampling_method": "sequential", "min_completion_time": 0, "user_per_sample": 1,
            "allow_user_upload": False, "owners": [], "client_config": {"draw_enable": True},
            "expires_in": 3600, "sample_status_file": None, "black_list": [], "white_list": [],
            "tags": [], "id": "t1"}


def task(**fields):
    base = dict(name="T", owners=["admin"], labels=["cell"], client_config={"a": 1},
                sampling="random", annotations_per_sample=2, lease_seconds=600,
                min_completion_time=5, sample_visibility="public", annotators=["bob@lab.org"],
                tags=["x"], input_files=["dapi.png"], target_files=["annotation.json"],
                created_by="admin", created_at=1)
    return Task("t1", **{**base, **fields})


def test_the_dashboard_template_creates_our_task():
    fields = legacy.task_from_legacy(TEMPLATE, "t1").model_dump(exclude_none=True)
    assert fields == {"id": "t1", "name": "MY Task", "description": "[TODO]",
                      "client_config": {"draw_enable": True}, "sampling": "sequential",
                      "annotations_per_sample": 1, "lease_seconds": 3600,
                      "min_completion_time": 0, "sample_visibility": "protected", "owners": [],
                      "tags": [], "input_files": ["input-1.txt"], "target_files": ["target-1.txt"]}


def test_the_whole_object_sent_back_changes_nothing():
    current = task()
    read = legacy.task_to_legacy(current, {"completed": 1, "total": 4, "available": 2})
    assert (read["user_per_sample"], read["expires_in"], read["sampling_method"],
            read["task_visibility"], read["white_list"]) == (2, 600, "random", "protected",
                                                             ["bob@lab.org"])
    changes = legacy.task_from_legacy(read, "t1", current=current).model_dump(exclude_unset=True)
    assert changes and all(getattr(current, k) == v for k, v in changes.items()), changes


@pytest.mark.parametrize("visibility, white, black, current, annotators", [
    ("public", ["bob"], [], ["x"], None),          # the hidden list is ignored
    ("protected", ["bob"], ["eve"], None, ["bob"]),
    (None, ["carol"], [], ["x"], ["carol"]),      # lists alone keep a protected task protected
    (None, ["carol"], [], None, None),            # ... and a public one public
])
def test_visibility_and_lists(visibility, white, black, current, annotators):
    body = {"white_list": white, "black_list": black,
            **({"task_visibility": visibility} if visibility else {})}
    changes = legacy.task_from_legacy(body, "t1", current=task(annotators=current))
    assert changes.model_dump(exclude_unset=True) == {"annotators": annotators}


@pytest.mark.parametrize("body, says", [
    ({"user_per_sample": 0}, "user_per_sample"),
    ({"expires_in": None}, "expires_in"),
    ({"white_list": "bob", "task_visibility": "protected"}, "white_list"),
    ({"sampling_method": "shuffled"}, "sampling_method"),
    ({"task_visibility": "public", "black_list": ["eve"]}, "black_list"),
    ({"task_visibility": "secret"}, "task_visibility"),
    ({"allow_user_upload": True}, "allow_user_upload"),
    ({"dataset_dir": "/data"}, "dataset_dir"),
    ({"type": "classification"}, "type"),
    ({"lease_seconds": 60}, "lease_seconds"),     # our name is not the original's
    ({"colour": "red"}, "colour"),
    ({"id": "t2"}, "t1"),
])
def test_mistakes_are_named_in_the_original_terms(body, says):
    with pytest.raises(BadRequest) as caught:
        legacy.task_from_legacy(body, "t1", current=task())
    assert says in caught.value.message
    assert "annotations_per_sample" not in caught.value.message


def test_read_only_fields_are_ignored():
    body = {"completed_count": 3, "all_count": 9, "available_count": 1, "created_by": "x",
            "created_at": 5, "last_id": "t1", "id": "t1"}
    assert legacy.task_from_legacy(body, "t1", current=task()).model_dump(exclude_unset=True) == {}


def test_session_ids():
    session = legacy.session_id("sample_2.a", "Ab-_0123456789xy")
    assert legacy.parse_session(session) == ("sample_2.a", "Ab-_0123456789xy")
    assert legacy.parse_session("s1%40Ab-_0123456789xy") == ("s1", "Ab-_0123456789xy")
    for bad in ("s1", "@Ab-_0123456789xy", "s1@short", "../x@Ab-_0123456789xy", "s1@a/b/c/d/e/f/g"):
        with pytest.raises(BadRequest):
            legacy.parse_session(bad)
