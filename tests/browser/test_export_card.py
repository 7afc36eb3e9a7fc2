"""The dashboard's Export card in Chromium: ask for an export, watch it finish, download it,
see the agreement between two annotators and reopen the sample they disagree on most."""
import io
import os
import zipfile

import numpy as np
import requests
from playwright.sync_api import expect
from tests.integration.client import admin, annotator
from tests.settings import HTTP_TIMEOUT, UI_TIMEOUT_MS

from .conftest import ROOT
from .seeding import png

SIZE = 64


def squares(*corners, size=10):
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"label": "cell"}, "geometry": {"type": "Polygon", "coordinates": [
            [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]}} for x, y in corners]}


def test_export_card(stack, site, seeder, new_context, tmp_path):
    task = seeder.task(3, labels=("cell",), annotations_per_sample=2, name="Two annotators",
                       image=lambda i: png(np.full((SIZE, SIZE, 3), 30 * i, np.uint8)))
    # Annotator a draws two squares everywhere; b agrees on s000, shifts one on s001 and
    # draws elsewhere on s002: s002 has the lowest agreement, then s001.
    theirs = {"s000": squares((5, 5), (30, 30)), "s001": squares((5, 5), (36, 30)),
              "s002": squares((45, 45))}
    for who in ("a", "b"):
        user = annotator(stack, who)
        for _ in range(3):
            claimed = user.claim(task)
            sid = claimed["sample"]["id"]
            submitted = user.submit(task, claimed, squares((5, 5), (30, 30)) if who == "a" else theirs[sid])
            assert submitted.status_code == 200, submitted.text

    page = new_context().new_page()
    page.goto(f"{site.url}/admin.html#token={stack.admin_token()}")
    page.locator(f"#tasks tr[data-task={task}]").get_by_role("button", name="Open").click()
    card = page.locator(".area-export")
    expect(card.locator("#exports-empty")).to_be_visible()
    card.locator("[name=format]").select_option("masks")
    card.locator("#export-start").click()
    row = card.locator("#exports tbody tr").first
    expect(row).to_have_attribute("data-status", "done", timeout=UI_TIMEOUT_MS)
    expect(row).to_contain_text("Label masks")
    expect(row).to_contain_text("3 samples")
    expect(row).to_contain_text("kB")
    archive = requests.get(row.locator("a.download").get_attribute("href"), timeout=HTTP_TIMEOUT).content
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    assert "s002/masks/v2_b_instances.png" in names and "export.json" in names

    # s000: F1 1; s001: 1 of 2 matched (shift 6 of 10 px: IoU 0.25) -> 0.5; s002: 0.
    expect(card.locator("#agreement-f1")).to_have_text("50%")
    lowest = card.locator("#agreement-lowest tbody tr")
    expect(lowest).to_have_count(3)
    assert [lowest.nth(i).get_attribute("data-sample") for i in range(3)] == ["s002", "s001", "s000"]
    card.screenshot(path=str(ROOT / "docs" / "export-card.png" if os.environ.get("UPDATE_SCREENSHOT")
                             else tmp_path / "export-card.png"))

    lowest.first.get_by_role("button", name="Reopen").click()
    expect(lowest.first.get_by_role("button")).to_have_text("Reopened")
    sample = admin(stack).call("GET", f"/tasks/{task}/samples/s002").json()
    assert sample["status"] == "available"
