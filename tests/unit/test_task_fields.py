"""A task's answer follows its schema: every field an admin may set (schemas.TaskFields) is
stored on the Task model and answered to owners, so a new field cannot silently go missing;
the owner-only fields (tasks.OWNER_FIELDS) are never answered to anyone else."""
from chalicelib import tasks
from chalicelib.models import Task
from chalicelib.schemas import TaskFields


def _task() -> Task:
    return Task("cells", name="Cells", labels=["cell"], owners=["olga"], annotators=["ann"],
                sources=["s3://imports/cells/"], input_files=["image.png"], created_by="olga",
                created_at=1700000000)


def test_every_schema_field_is_stored_and_answered_to_owners():
    assert [f for f in TaskFields.model_fields if f not in Task.get_attributes()] == []
    answer = tasks.to_json(_task(), full=True)
    assert [f for f in TaskFields.model_fields if f not in answer] == []
    assert answer["annotators"] == ["ann"] and answer["sources"] == ["s3://imports/cells/"]
    assert answer["created_by"] == "olga" and answer["created_at"] == 1700000000


def test_others_get_every_field_but_the_owner_only_ones():
    answer = tasks.to_json(_task(), full=False)
    assert tasks.OWNER_FIELDS.isdisjoint(answer)
    assert set(TaskFields.model_fields) - tasks.OWNER_FIELDS <= set(answer)
    assert answer["id"] == "cells" and answer["labels"] == ["cell"]
    # Stored internals are nobody's business: the task's uid and counters are not fields.
    assert {"uid", "total", "next_order"}.isdisjoint(tasks.to_json(_task(), full=True))
