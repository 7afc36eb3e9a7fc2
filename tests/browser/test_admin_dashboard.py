"""The admin dashboard in Chromium: create a task, upload three images by file input, invite,
and open the annotator link it shows."""
import numpy as np
from PIL import Image
from playwright.sync_api import expect

from .driver import shown_sample
from tests.integration.client import admin as admin_api
from tests.settings import UI_TIMEOUT_MS


def test_create_upload_invite_and_open_the_link(site, stack, new_context, tmp_path):
    files = []
    for i in range(3):
        path = tmp_path / f"field-{i}.png"
        Image.fromarray(np.full((64, 64), 60 * i, np.uint8)).save(path)
        files.append(str(path))

    admin = new_context().new_page()
    admin.on("pageerror", lambda e: print(f"page error: {e}"))
    admin.goto(f"{site.url}/admin.html#token={stack.admin_token()}")
    admin.fill("#task-form [name=id]", "dashboard-task")
    admin.fill("#task-form [name=name]", "Dashboard task")
    admin.fill("#task-form [name=labels]", "nucleus")
    admin.click("#task-save")
    expect(admin.locator("#detail-id")).to_have_text("dashboard-task")
    expect(admin.locator("#tasks tr[data-task=dashboard-task]")).to_be_visible()

    admin.set_input_files("#files", files)
    expect(admin.locator(".upload-summary")).to_contain_text("3 samples added", timeout=UI_TIMEOUT_MS)
    expect(admin.locator("#uploads li[data-state=uploaded]")).to_have_count(3)
    expect(admin.locator("#tasks tr[data-task=dashboard-task]")).to_contain_text("0 / 3")

    admin.fill("#invite-form [name=emails]", "alice@lab.org")
    admin.click("#invite-form button")
    link = admin.locator("#invites tr[data-email='alice@lab.org'] a.annotator-link")
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    assert "?task=dashboard-task#token=" in href

    annotator = new_context().new_page()
    annotator.goto(href)
    assert shown_sample(annotator) in {"field-0", "field-1", "field-2"}
    # The dashboard's live leases show who holds what (refreshed every few seconds); End frees it.
    lease = admin.locator("#leases tbody tr")
    expect(lease).to_contain_text("alice@lab.org", timeout=UI_TIMEOUT_MS)
    lease.get_by_role("button", name="End").click()
    expect(lease).to_have_count(0)
    expect(admin.locator("#annotators tbody")).to_be_empty()

    # Drag and drop works like the file input (a synthetic drop of one loose image).
    admin.evaluate("""async () => {
        const canvas = Object.assign(document.createElement('canvas'), {width: 16, height: 16});
        const blob = await new Promise((r) => canvas.toBlob(r, 'image/png'));
        const dt = new DataTransfer();
        dt.items.add(new File([blob], 'dropped.png', {type: 'image/png'}));
        document.querySelector('#drop').dispatchEvent(
            new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""")
    expect(admin.locator(".upload-summary").last).to_contain_text("1 samples added", timeout=UI_TIMEOUT_MS)
    expect(admin.locator("#tasks tr[data-task=dashboard-task]")).to_contain_text("0 / 4")

    # Any sample opens read-only, its annotation drawn the right way up: a square at the top
    # of the image (rows 0..10 of 64) is y 54..64 in Kaibu's y-up coordinates.
    square = [[5, 64], [15, 64], [15, 54], [5, 54], [5, 64]]
    imported = admin_api(stack).call(
        "POST", "/tasks/dashboard-task/imports", json={"samples": [{"id": "with-shape", "files": {
            "image.png": "uploads/dashboard-task/field-0/image.png"}, "annotation": {
            "type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"label": "nucleus"},
                                                       "geometry": {"type": "Polygon", "coordinates": [square]}}]}}]})
    assert imported.status_code == 201, imported.text
    row = admin.locator("#samples tr[data-sample=with-shape]")
    expect(row).to_contain_text("64×64 uint8", timeout=UI_TIMEOUT_MS)
    row.get_by_role("button", name="View").click()
    expect(admin.locator("#sample-view-title")).to_contain_text("with-shape")
    expect(admin.locator("#sample-view-shapes")).to_have_attribute("data-shapes", "1")
    assert admin.locator("#sample-view-shapes polygon").get_attribute("points") == "5,0 15,0 15,10 5,10 5,0"
