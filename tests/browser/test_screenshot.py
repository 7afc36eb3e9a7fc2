"""The picture in the docs: the annotator mid-task with a few nuclei outlined by mouse.

Always rendered (it exercises every label and the selection style); written to docs/annotator.png
only with UPDATE_SCREENSHOT=1, so a normal test run leaves the work tree clean.
"""
import math
import os

from .conftest import ROOT
from .driver import expect_shapes, open_annotator, shown_sample
from .seeding import cell_field, png
from tests.integration.client import annotator

W, H = 640, 480
SEED = 100


def field(i):
    return png(cell_field(SEED + i, W, H)[0])


def screen_point(page, col, row):
    """Where image pixel (col, row) is on the page: Kaibu coordinates (col, H - row) through the map."""
    box = page.locator("#viewer").bounding_box()
    x, y = page.evaluate("c => window.annotator.viewer.map.getPixelFromCoordinate(c)", [col, H - row])
    return box["x"] + x, box["y"] + y


def outline(page, nucleus, sides=8):
    col, row, rx, ry, _ = nucleus
    points = [screen_point(page, col + 1.3 * rx * math.cos(2 * math.pi * k / sides),
                           row + 1.3 * ry * math.sin(2 * math.pi * k / sides)) for k in range(sides)]
    for p in points:
        page.mouse.click(*p)
    page.mouse.click(*points[0])


def test_screenshot(stack, site, seeder, new_context, tmp_path):
    task = seeder.task(40, name="HeLa nuclei · DAPI", image=field,
                       instructions="Outline every nucleus with a polygon (P) or freehand (F).\n"
                                    "Use “mitotic” for condensed, bright nuclei and “debris” for fragments.",
                       labels=("nucleus", "mitotic", "debris"),
                       client_config={"draw_label": "nucleus", "draw_shape_type": "Polygon",
                                      "draw_edge_color": "#0BF737"})
    # Other annotators have been at work: the progress bar has something to show.
    bob = annotator(stack, "bob")
    for _ in range(13):
        claimed = bob.claim(task)
        submitted = bob.submit(task, claimed, {"type": "FeatureCollection", "features": []})
        assert submitted.status_code == 200, submitted.text

    page = open_annotator(new_context(), site.url, task, stack.annotator_token("alice"))
    sample = shown_sample(page)
    for _ in range(2):  # alice's own earlier work
        page.keyboard.press("Enter")
        sample = shown_sample(page, other_than=sample)

    # Which image alice is on depends on how fast the page's requests land (its reservation
    # ahead): outline the five most isolated clear nuclei of whichever it is.
    _, nuclei = cell_field(SEED + int(sample[1:]), W, H)
    clear = [n for n in nuclei if 60 < n[0] < W - 60 and 60 < n[1] < H - 60 and n[4] > 0.7 and min(n[2:4]) > 11]
    inside = sorted(clear, key=lambda n: -min(math.dist(n[:2], m[:2]) for m in nuclei if m is not n))
    assert len(inside) >= 5, f"{sample} has {len(inside)} clear nuclei: seed the task differently"
    plan = [("nucleus", inside[0]), ("nucleus", inside[1]), ("mitotic", inside[2]), ("nucleus", inside[3]),
            ("debris", inside[4])]
    for i, (label, nucleus) in enumerate(plan):
        outline(page, nucleus)
        page.get_by_role("radio", name=label).click()  # labels the shape just drawn
        expect_shapes(page, i + 1)
    page.keyboard.press("v")
    page.mouse.click(*screen_point(page, inside[2][0], inside[2][1]))  # show a selected shape
    page.keyboard.press("s")
    page.wait_for_function("document.querySelector('#save-status').textContent.startsWith('Draft saved')")
    page.mouse.move(5, 790)

    target = ROOT / "docs" / "annotator.png" if os.environ.get("UPDATE_SCREENSHOT") else tmp_path / "annotator.png"
    target.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(target))
    assert target.stat().st_size > 10_000
