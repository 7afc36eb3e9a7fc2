"""The annotator loop without surprises: keys do what the focused thing says, dialogs are modal, no
edit is lost or falsely called kept, a new link in the same tab works, and screens speak plainly."""
import json
import time

import requests
from playwright.sync_api import expect

from .driver import draw_polygon, expect_shapes, marker_positions, open_annotator, select_at, shown_sample
from .seeding import MARKERS
from .stored import stored_annotations


def kinds(seeder, task, sample):
    return [v["kind"] for v in seeder.get(f"/tasks/{task}/samples/{sample}")["versions"]]


def triangle(page):
    on_screen = marker_positions(page)
    return [on_screen[c] for c in list(MARKERS)[:3]]


def test_enter_on_a_focused_button_presses_that_button(stack, site, seeder, new_context):
    task = seeder.task(3)
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("tabber"))
    first = shown_sample(page)
    page.locator("#skip-btn").focus()
    page.keyboard.press("Enter")
    second = shown_sample(page, other_than=first)
    assert kinds(seeder, task, first) == []  # skipped, not submitted

    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog.get_by_role("button", name="Got it")).to_be_focused()  # the dialog takes focus
    page.keyboard.press("Enter")  # presses "Got it", not Submit behind it
    expect(help_dialog).to_be_hidden()
    assert page.locator("#viewer").get_attribute("data-sample") == second
    assert kinds(seeder, task, second) == []


def test_shortcuts_are_dead_behind_open_dialogs(stack, site, seeder, new_context):
    task = seeder.task(3)
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("dialogs"))
    sample = shown_sample(page)
    draw_polygon(page, triangle(page))
    expect_shapes(page, 1)
    select_at(page, triangle(page)[0])  # so Del would have something to delete

    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    for key in ("n", "s", "Delete", "Control+z"):
        page.keyboard.press(key)
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()
    expect_shapes(page, 1)
    assert page.locator("#viewer").get_attribute("data-sample") == sample
    assert kinds(seeder, task, sample) == []

    # The lease-lost dialog: keys behind it do nothing, Enter on its button moves on.
    page.route("**/draft", lambda route: route.continue_(post_data=json.dumps(
        {**json.loads(route.request.post_data), "lease_id": "not-yours"})) if route.request.method == "PUT"
        else route.continue_())
    page.locator("#save-btn").click()
    lost = page.get_by_role("alertdialog")
    expect(lost).to_be_visible()
    continue_button = lost.get_by_role("button", name="Continue with a new image")
    expect(continue_button).to_be_focused()
    for key in ("n", "s", "Delete"):
        page.keyboard.press(key)
    expect(lost).to_be_visible()
    assert page.locator("#viewer").get_attribute("data-sample") == sample
    with page.expect_response(lambda r: r.url.endswith("/claim") and r.request.method == "POST") as claimed:
        page.keyboard.press("Enter")  # the lease is still live (only the draft was refused): same sample back
    assert claimed.value.ok
    expect(lost).to_be_hidden()
    expect(page.locator("#save-status")).to_contain_text("Restored")  # the drawing was kept locally


def test_no_edit_is_lost_while_a_submit_is_pending(stack, site, seeder, new_context):
    task = seeder.task(3)
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("patient"))
    sample = shown_sample(page)
    points = triangle(page)
    draw_polygon(page, points)
    expect_shapes(page, 1)

    held = []
    page.route("**/submit", lambda route: held.append(route) if route.request.method == "POST" else route.continue_())
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#save-status').textContent.includes('Submitting')")
    page.keyboard.press("p")
    draw_polygon(page, [(x + 15, y + 15) for x, y in points])  # drawing meanwhile must not vanish silently
    expect_shapes(page, 1)
    assert "kept on this device" not in page.locator("#save-status").inner_text()
    assert len(held) == 1
    held[0].continue_()
    shown_sample(page, other_than=sample)
    (stored,) = stored_annotations(stack, task, sample)
    assert len(stored["features"]) == 1


def test_a_submit_nobody_answers_times_out_and_is_retried(stack, site, seeder, new_context):
    task = seeder.task(2)
    context = new_context()
    context.route("**/config.json", lambda route: route.fulfill(
        json={"apiUrl": stack.api_url, "requestTimeoutMs": 2000}))
    page = open_annotator(context, site.url, task, stack.annotator_token("unanswered"))
    sample = shown_sample(page)
    draw_polygon(page, triangle(page))
    expect_shapes(page, 1)
    attempts = []
    page.route("**/submit", lambda route: attempts.append(route) if route.request.method == "POST"
               else route.continue_())
    page.keyboard.press("Enter")  # the first attempt is never answered...
    expect(page.locator("#banner")).to_contain_text("retrying", timeout=20_000)
    assert len(attempts) >= 2  # ...so the page gave up on it and sent it again
    attempts[-1].continue_()
    shown_sample(page, other_than=sample, timeout=30_000)
    assert kinds(seeder, task, sample) == ["submitted"]


def test_a_new_link_pasted_into_the_same_tab_is_used(stack, site, seeder, new_context):
    task = seeder.task(2)
    page = open_annotator(new_context(), site.url, task, "not-a-token")
    expect(page.locator('[data-screen="401"]')).to_be_visible()
    page.evaluate("t => { location.hash = 'token=' + t; }", stack.annotator_token("relinked"))
    shown_sample(page)


def test_expired_token_parks_the_submit_until_a_new_link(stack, site, seeder, new_context):
    task = seeder.task(2)
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("expiring"))
    sample = shown_sample(page)
    draw_polygon(page, triangle(page))
    expect_shapes(page, 1)
    expired = stack.mint_token("expiring", exp=int(time.time()) - 60)
    page.route("**/submit", lambda route: route.continue_(
        headers={**route.request.headers, "authorization": f"Bearer {expired}"}))  # the real API answers 401
    page.keyboard.press("Enter")
    screen = page.locator('[data-screen="401"]')
    expect(screen).to_contain_text("expired")
    expect(screen).to_contain_text("kept on this device")
    page.unroute("**/submit")
    page.evaluate("t => { location.hash = 'token=' + t; }", stack.annotator_token("expiring"))
    shown_sample(page, other_than=sample)
    assert kinds(seeder, task, sample) == ["submitted"]


def test_banner_floats_over_the_image_and_leaves_with_the_workspace(stack, site, seeder, new_context):
    task = seeder.task(2)
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("flaky"))
    shown_sample(page)
    before = page.locator("#viewer").bounding_box()
    page.route("**/draft", lambda route: route.abort("connectionrefused"))
    page.keyboard.press("s")
    expect(page.locator("#banner")).to_be_visible(timeout=20_000)
    assert page.locator("#banner").get_attribute("aria-live") or page.locator("#banner").get_attribute("role")
    assert page.locator("#viewer").bounding_box() == before  # nothing moved, nothing clipped


def test_unreachable_screen_has_no_retrying_banner_above_it(stack, site, seeder, new_context):
    task = seeder.task(1)
    context = new_context()
    page = open_annotator(context, site.url, task, stack.annotator_token("gone"))
    sample = shown_sample(page)
    page.route("**/claim", lambda route: route.abort("connectionrefused"))
    page.locator("#skip-btn").click()
    expect(page.locator('[data-screen="unreachable"]')).to_be_visible(timeout=30_000)
    expect(page.locator("#banner")).to_be_hidden()
    assert sample


def test_screens_speak_the_annotators_language(stack, site, seeder, new_context):
    page = open_annotator(new_context(), site.url, "no-such-task", stack.annotator_token("lost"))
    screen = page.locator('[data-screen="404"]')
    expect(screen).to_be_visible()
    assert "GET /tasks" not in screen.inner_text()
    expect(screen.get_by_role("button", name="Choose another task")).to_be_visible()

    page = open_annotator(new_context(), site.url, "any", "not.a.token")
    screen = page.locator('[data-screen="401"]')
    expect(screen).to_be_visible()
    assert "Signature" not in screen.inner_text() and "token is not valid (" not in screen.inner_text()


def test_lease_ended_by_an_owner_is_not_called_inactivity(stack, site, seeder, new_context):
    task = seeder.task(1)
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("ended"))
    sample = shown_sample(page)
    requests.delete(f"{stack.api_url}/tasks/{task}/leases/{sample}", headers=seeder.headers,
                    timeout=10).raise_for_status()
    page.keyboard.press("s")
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("no longer reserved for you")
    assert "inactive" not in dialog.inner_text()


def test_default_freehand_tool_takes_clicks_and_drags(stack, site, seeder, new_context):
    """The default client config (draw_freehand) must still answer a click, as Kaibu does."""
    task = seeder.task(1, client_config={"draw_enable": True, "draw_label": "cell", "draw_shape_type": "polygon",
                                         "draw_freehand": True, "draw_edge_color": "#0BF737"})
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("clicker"))
    sample = shown_sample(page)
    red, green, blue, yellow = (marker_positions(page)[c] for c in MARKERS)
    draw_polygon(page, [red, green, blue])  # clicks add vertices
    expect_shapes(page, 1)
    page.keyboard.press("2")  # a label chosen right after drawing relabels that shape
    page.mouse.move(*red)  # a drag draws freehand
    page.mouse.down()
    for x, y in (green, blue, yellow):
        page.mouse.move(x, y, steps=6)
    page.mouse.up()
    expect_shapes(page, 2)
    page.keyboard.press("s")
    page.wait_for_function("document.querySelector('#save-status').textContent.startsWith('Draft saved')")
    (stored,) = stored_annotations(stack, task, sample)
    clicked, dragged = stored["features"]
    assert len(clicked["geometry"]["coordinates"][0]) == 4 and clicked["properties"]["label"] == "nucleus"
    assert len(dragged["geometry"]["coordinates"][0]) > 10 and dragged["properties"]["label"] == "nucleus"
