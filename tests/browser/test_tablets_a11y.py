"""Tablets and phones (touch emulation), and accessibility checked by axe-core from node_modules.

The viewports: 768x1024 and 1024x768 (tablets, first-class) and 390x844 (a phone, usable). At each,
a polygon is drawn by tapping and submitted by tapping Submit; the buttons must be on screen and the
page must not scroll. SCREENSHOT_DIR=<dir> keeps a picture of each.
"""
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import FRONTEND
from .driver import expect_shapes, marker_positions, shown_sample
from .seeding import HEIGHT, MARKERS
from .stored import stored_annotations

AXE = FRONTEND / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = [(768, 1024), (1024, 768), (390, 844)]


@pytest.fixture
def touch_context(browser):
    contexts = []

    def make(width, height):
        ctx = browser.new_context(viewport={"width": width, "height": height}, has_touch=True, is_mobile=width < 500)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


def keep_screenshot(page, name):
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(os.environ["SCREENSHOT_DIR"]) / f"{name}.png"))


@pytest.mark.parametrize("width,height", VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def test_touch_draw_and_submit(stack, site, seeder, touch_context, width, height):
    task = seeder.task(2)
    page = touch_context(width, height).new_page()
    page.goto(f"{site.url}/?task={task}#token={stack.annotator_token(f'tablet-{width}')}")
    sample = shown_sample(page)
    on_screen = marker_positions(page)
    ring = [on_screen[c] for c in MARKERS]
    for x, y in ring + ring[:1]:
        page.touchscreen.tap(x, y)
    expect_shapes(page, 1)
    assert page.evaluate("scrollY") == 0
    for name in ("Skip", "Save draft", "Submit", "Zoom in", "Undo"):  # with the longest status showing
        box = page.get_by_role("button", name=name).bounding_box()
        assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width and \
            box["y"] + box["height"] <= height, \
            f"{name} is not fully on screen at {width}x{height}: {box}"
    assert page.evaluate("document.scrollingElement.scrollHeight <= innerHeight + 1")
    keep_screenshot(page, f"annotator-{width}x{height}")
    page.get_by_role("button", name="Submit").tap()
    shown_sample(page, other_than=sample)

    (stored,) = stored_annotations(stack, task, sample)
    (feature,) = stored["features"]
    vertices = feature["geometry"]["coordinates"][0][:-1]
    expected = [(col, HEIGHT - row) for col, row in MARKERS.values()]
    assert all(abs(x - ex) < 3 and abs(y - ey) < 3 for (x, y), (ex, ey) in zip(vertices, expected))


def test_pinch_zooms_the_image_not_the_page(stack, site, seeder, touch_context):
    task = seeder.task(1)
    page = touch_context(768, 1024).new_page()
    page.goto(f"{site.url}/?task={task}#token={stack.annotator_token('pincher')}")
    shown_sample(page)
    zoom = "window.annotator.viewer.map.getView().getResolution()"
    before = page.evaluate(zoom)
    box = page.locator("#viewer").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)

    def touch(kind, spread, shift=0):
        points = [] if kind == "touchEnd" else [{"x": cx - spread + shift, "y": cy, "id": 0},
                                                {"x": cx + spread + shift, "y": cy, "id": 1}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", 40)
    for spread in range(50, 200, 10):
        touch("touchMove", spread)
    touch("touchEnd", 0)
    page.wait_for_function(f"{zoom} < {before} * 0.8")  # zoomed in: fewer image pixels per screen pixel
    assert page.evaluate("scrollY") == 0 and page.evaluate("visualViewport.scale") == 1

    center = "window.annotator.viewer.map.getView().getCenter()[0]"
    x_before = page.evaluate(center)
    touch("touchStart", 60)
    for shift in range(10, 130, 10):  # two fingers move right together: the image follows them
        touch("touchMove", 60, shift)
    touch("touchEnd", 0)
    page.wait_for_function(f"{center} < {x_before} - 10")
    assert page.evaluate("scrollX") == 0
    assert page.evaluate("window.annotator.viewer.getAnnotation().features.length") == 0


def axe_violations(page, serious_only=True):
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("async () => (await axe.run(document)).violations.map(v => ({id: v.id, impact: v.impact, "
                           "help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))")
    return [v for v in result if not serious_only or v["impact"] in ("serious", "critical")]


def test_annotator_and_dashboard_have_no_serious_accessibility_violations(stack, site, seeder, new_context):
    task = seeder.task(2, instructions="Outline every nucleus.")
    page = new_context().new_page()
    page.goto(f"{site.url}/?task={task}#token={stack.annotator_token('axe')}")
    shown_sample(page)
    tools = page.locator("button[data-tool]")
    assert tools.count() > 1 and page.locator("button[data-tool][aria-pressed=true]").count() == 1
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    assert axe_violations(page) == []
    page.keyboard.press("Escape")
    assert axe_violations(page) == []

    # Label chips: one tab stop, arrows move the choice.
    page.get_by_role("radio", name="cell").focus()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("radio", name="nucleus")).to_be_focused()
    expect(page.get_by_role("radio", name="nucleus")).to_have_attribute("aria-checked", "true")

    # Submit's text contrast, computed from the colours the page really uses.
    ratio = page.evaluate("""() => {
        const s = getComputedStyle(document.querySelector('#submit-btn'));
        const lum = (c) => { const [r, g, b] = c.match(/\\d+/g).slice(0, 3).map(v => { v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
          return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
        const [a, b] = [lum(s.color), lum(s.backgroundColor)].sort((x, y) => y - x);
        return (a + 0.05) / (b + 0.05);
    }""")
    assert ratio >= 4.5

    admin = new_context().new_page()
    admin.goto(f"{site.url}/admin.html#token={stack.admin_token()}")
    admin.locator(f"#tasks tr[data-task={task}]").get_by_role("button", name="Open").click()
    expect(admin.locator("#detail-id")).to_have_text(task)
    assert axe_violations(admin) == []
