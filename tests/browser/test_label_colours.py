"""A label has one colour everywhere: the dashboard's label tags use the annotator's palette."""
from playwright.sync_api import expect

from .driver import open_annotator, shown_sample

LABELS = ("cell", "nucleus", "debris")


def test_dashboard_label_tags_have_the_annotator_colours(stack, site, seeder, new_context):
    task = seeder.task(1, labels=LABELS, client_config={"draw_label": "nucleus", "draw_edge_color": "#ff0000"})
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("painter"))
    shown_sample(page)
    chips = {label: page.locator("button.label-chip", has_text=label).locator(".swatch").evaluate(
        "e => getComputedStyle(e).backgroundColor") for label in LABELS}
    assert chips["nucleus"] == "rgb(255, 0, 0)" and len(set(chips.values())) == 3

    admin = new_context().new_page()
    admin.goto(f"{site.url}/admin.html#token={stack.admin_token()}")
    admin.locator(f"#tasks tr[data-task={task}]").get_by_role("button", name="Open").click()
    expect(admin.locator("#detail-id")).to_have_text(task)
    tags = {label: admin.locator(".label-tag", has_text=label).evaluate(
        "e => getComputedStyle(e, '::before').backgroundColor") for label in LABELS}
    assert tags == chips
