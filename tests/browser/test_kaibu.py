"""The Kaibu viewer adapter, driven over real imjoy-core / imjoy-rpc against a stand-in Kaibu page."""
import time

from playwright.sync_api import expect

from devstack.processes import free_ports

from .driver import open_annotator, shown_sample
from .stored import stored_annotations
from tests.settings import UI_TIMEOUT_MS

PRE = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [10.0, 20.0]}, "properties": {"label": "cell"}}]}
DRAWN = {"type": "Feature", "properties": {"label": "cell"},
         "geometry": {"type": "Polygon", "coordinates": [[[1, 1], [30, 1], [30, 25], [1, 1]]]}}


def kaibu_frame(page, origin, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in page.frames:
            if frame.url.startswith(origin):
                return frame
        page.wait_for_timeout(100)
    raise AssertionError("Kaibu window did not open")


def calls(frame, name):
    return [c["args"] for c in frame.evaluate("window.kaibuCalls") if c["name"] == name]


def test_kaibu_adapter_drives_kaibu_and_round_trips_features(stack, site, kaibu_standin, seeder, new_context):
    config = {"draw_label": "cell", "draw_shape_type": "Polygon", "draw_freehand": True, "draw_edge_color": "#0BF737"}
    task = seeder.task(2, labels=("cell",), client_config=config, pre_annotation=PRE)
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("kaibu-user"), viewer="kaibu")
    sample = shown_sample(page, timeout=UI_TIMEOUT_MS)
    frame = kaibu_frame(page, kaibu_standin.url)

    (widget,) = calls(frame, "add_widget")
    assert widget[0] == {"type": "control", "labels": ["Save draft", "Submit", "Skip"]}
    (view,) = calls(frame, "view_image")
    assert f"/{task}/{sample}/image.png" in view[0] and view[1] == {"name": "image", "type": "2d-image"}
    (shapes,) = calls(frame, "add_shapes")
    assert shapes[0] == [] and {k: shapes[1][k] for k in config} == config
    assert calls(frame, "layer.add_features") == [[PRE]]  # the pre-annotation is what Kaibu starts from

    frame.evaluate("f => window.lastLayer._draw(f)", DRAWN)  # the person draws a polygon in Kaibu
    frame.get_by_role("button", name="Submit").click()  # ...and presses Kaibu's Submit button
    shown_sample(page, other_than=sample, timeout=UI_TIMEOUT_MS)

    # Two objects: the pre-annotation (1 feature) and the submission (it plus the drawn polygon).
    (stored,) = [a for a in stored_annotations(stack, task, sample) if len(a["features"]) == 2]
    assert stored["features"] == PRE["features"] + [DRAWN]


def test_unreachable_kaibu_falls_back_to_the_builtin_viewer(stack, site, seeder, new_context):
    (closed,) = free_ports(1)
    task = seeder.task(1)
    context = new_context()
    context.route("**/config.json", lambda route: route.fulfill(json={
        "apiUrl": stack.api_url, "kaibuUrl": f"http://127.0.0.1:{closed}/#/app", "kaibuTimeoutMs": 1500}))
    page = open_annotator(context, site.url, task, stack.annotator_token("no-kaibu"), viewer="kaibu")
    shown_sample(page)
    expect(page.locator("#viewer-note")).to_contain_text("Kaibu could not be reached")
    expect(page.get_by_role("button", name="Polygon")).to_be_visible()
