"""The README's permission table, walked cell by cell against the app.

Every route the app registers must have a row (a new route without one fails here), and every
cell must match what the app answers that kind of caller on a closed, protected task.
"""
import re
from pathlib import Path

import pytest

from chalicelib.auth import mint_token

README = Path(__file__).resolve().parents[2] / "README.md"
COLUMNS = ("anonymous", "outsider", "invited", "other_invite", "owner", "admin")
# The original protocol has its own table (docs/legacy.md).
NOT_IN_TABLE = ("/legacy",)


def table() -> dict[tuple[str, str], dict[str, str]]:
    text = README.read_text()
    section = text[text.index("### Who may call what"):]
    section = section[:section.index("\n#", 1)]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"\| `(GET|POST|PUT|PATCH|DELETE) (/[^`]*)` \|(.*)\|\s*$", line)
        if m:
            cells = [c.strip() for c in m.group(3).split("|")]
            assert len(cells) == len(COLUMNS), line
            rows[(m.group(1), m.group(2))] = dict(zip(COLUMNS, cells))
    return rows


def registered_routes() -> set[tuple[str, str]]:
    from app import app
    return {(method, path) for path, methods in app.routes.items() for method in methods
            if method != "OPTIONS" and not path.startswith(NOT_IN_TABLE)}


def test_every_route_has_a_row():
    assert set(table()) == registered_routes()


@pytest.fixture
def callers(api):
    api.make_task("perm", n_samples=2, owners=["olga"], annotators=["ann"])
    api.make_task("other", n_samples=1)
    [invite] = api.ok("POST", "/tasks/other/invites", 201, body={"emails": ["ann@lab.org"]})["invites"]
    return {"anonymous": None, "outsider": mint_token("outsider"), "invited": mint_token("ann"),
            "other_invite": invite["token"], "owner": mint_token("olga"),
            "admin": mint_token("root", roles=["admin"])}


def test_every_cell(api, callers):
    params = {"task_id": "perm", "sample_id": "s000", "invite_id": "nope", "export_id": "nope"}
    wrong = []
    for (method, template), row in sorted(table().items()):
        path = template.format(**params)
        if method == "DELETE" and template == "/tasks/{task_id}":
            path += "?confirm=not-this-one"  # passes the check, deletes nothing
        for who, expected in row.items():
            status, data = api.call(method, path, user=None, token=callers[who] or "", body={})
            allowed = status not in (401, 403)
            ok = allowed if expected == "✓" else status == int(expected)
            if not ok:
                wrong.append(f"{method} {template} as {who}: expected {expected}, got {status} {data}")
    assert not wrong, "\n".join(wrong)
    assert api.ok("GET", "/tasks/perm")["id"] == "perm"
