"""Driving the annotator page as a person would: open the link, find things on screen, click."""
import io

import numpy as np
from PIL import Image
from playwright.sync_api import expect

from .seeding import MARKERS
from tests.settings import UI_TIMEOUT_MS


def open_annotator(context, site_url: str, task_id: str, token: str, viewer: str | None = None):
    page = context.new_page()
    page.on("pageerror", lambda e: print(f"page error: {e}"))
    page.on("console", lambda m: m.type == "error" and print(f"console error: {m.text}"))
    query = f"?task={task_id}" + (f"&viewer={viewer}" if viewer else "")
    page.goto(f"{site_url}/{query}#token={token}")
    return page


def shown_sample(page, other_than: str | None = None, timeout: float = 15_000) -> str:
    """Wait until the viewer shows a sample (a different one than `other_than`) and return its id."""
    page.wait_for_function(
        "prev => { const s = document.querySelector('#viewer')?.dataset.sample; return s && s !== prev; }",
        arg=other_than, timeout=timeout)
    return page.locator("#viewer").get_attribute("data-sample")


def marker_positions(page) -> dict:
    """Where each colour marker of the test image is on the page, found in a screenshot.

    Independent of the viewer's own coordinate maths: this is what a person sees.
    """
    box = page.locator("#viewer").bounding_box()
    shot = np.asarray(Image.open(io.BytesIO(page.locator("#viewer").screenshot())).convert("RGB")).astype(int)
    found = {}
    for colour in MARKERS:
        mask = np.all(np.abs(shot - np.array(colour)) < 40, axis=-1)
        ys, xs = np.nonzero(mask)
        assert len(xs) > 20, f"marker {colour} not visible on screen"
        found[colour] = (box["x"] + xs.mean() + 0.5, box["y"] + ys.mean() + 0.5)
    return found


def draw_polygon(page, points):
    """Click each vertex, then click the first one again to close the ring (as OpenLayers users do)."""
    for x, y in points:
        page.mouse.click(x, y)
    page.mouse.click(*points[0])


def select_at(page, point):
    """Select mode, then click the shape at `point` and wait until it is selected. The click is
    hit-tested against the last frame the map drew, which right after an edit (a redo) on a busy
    machine can predate it: the map draws what it holds first."""
    page.keyboard.press("v")
    page.evaluate("() => window.annotator.viewer.map.renderSync()")
    page.mouse.click(*point)
    page.wait_for_function("() => window.annotator.viewer.select.getFeatures().getLength() > 0",
                           timeout=UI_TIMEOUT_MS)


def expect_shapes(page, n: int):
    """The shape counter under the image (updated after each committed edit) shows n."""
    expect(page.locator("#shape-count")).to_have_text(f"{n} shape{'' if n == 1 else 's'}")
