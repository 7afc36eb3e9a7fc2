"""The annotator in a real browser against the real local stack (moto + chalice local)."""

from .driver import draw_polygon, expect_shapes, marker_positions, open_annotator, select_at, shown_sample
from .seeding import HEIGHT, MARKERS
from .stored import stored_annotations


def test_polygon_drawn_by_mouse_is_stored_in_kaibu_coordinates(stack, site, seeder, new_context):
    """The coordinate-convention test: click on visible markers, compare with their pixel positions."""
    task = seeder.task(2)
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("coords"))
    sample = shown_sample(page)
    page.get_by_role("radio", name="nucleus").click()
    on_screen = marker_positions(page)
    order = list(MARKERS)  # red, green, blue, yellow: a ring around the image centre
    draw_polygon(page, [on_screen[c] for c in order])
    expect_shapes(page, 1)
    page.get_by_role("button", name="Submit").click()
    shown_sample(page, other_than=sample)

    (stored,) = stored_annotations(stack, task, sample)
    (feature,) = stored["features"]
    assert feature["geometry"]["type"] == "Polygon"
    assert feature["properties"]["label"] == "nucleus"
    ring = feature["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1], "rings are stored closed"
    expected = [(col, HEIGHT - row) for col, row in (MARKERS[c] for c in order)]  # x = column, y = H - row
    for (x, y), (ex, ey) in zip(ring[:-1], expected):
        assert abs(x - ex) < 2 and abs(y - ey) < 2, f"vertex {(x, y)} should be at {(ex, ey)}"

    versions = seeder.get(f"/tasks/{task}/samples/{sample}")["versions"]
    assert [v["kind"] for v in versions] == ["submitted"]
    mine = seeder.get(f"/tasks/{task}/progress")["by_annotator"]["coords"]["submitted"]
    assert mine == 1
    assert page.locator("#mine-label").inner_text() == "You: 1 submitted"


def test_reload_mid_drawing_restores_the_drawing(stack, site, seeder, new_context):
    task = seeder.task(1)
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("reloader"))
    sample = shown_sample(page)
    on_screen = marker_positions(page)
    draw_polygon(page, [on_screen[c] for c in list(MARKERS)[:3]])
    expect_shapes(page, 1)
    before = page.evaluate("window.annotator.viewer.getAnnotation()")

    page.reload()
    assert shown_sample(page) == sample  # the live lease brings the same image back
    expect_shapes(page, 1)
    assert page.evaluate("window.annotator.viewer.getAnnotation()") == before
    assert "Restored" in page.locator("#save-status").inner_text()
    # Nothing reached the server: the drawing came from this browser's own store.
    assert seeder.get(f"/tasks/{task}/samples/{sample}")["versions"] == []


def test_two_annotators_get_different_images(stack, site, seeder, new_context):
    task = seeder.task(4)
    pages = [open_annotator(new_context(), site.url, task, stack.annotator_token(f"twin-{i}")) for i in (1, 2)]
    samples = [shown_sample(p) for p in pages]
    assert samples[0] != samples[1]


def test_keyboard_undo_redo_delete_and_draft(stack, site, seeder, new_context):
    task = seeder.task(1)
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("keys"))
    sample = shown_sample(page)
    on_screen = marker_positions(page)
    draw_polygon(page, [on_screen[c] for c in list(MARKERS)[:3]])
    expect_shapes(page, 1)
    page.keyboard.press("Control+z")
    expect_shapes(page, 0)
    page.keyboard.press("Control+Shift+z")
    expect_shapes(page, 1)
    select_at(page, on_screen[list(MARKERS)[0]])  # a vertex is on the shape's edge: selects it
    page.keyboard.press("Delete")
    expect_shapes(page, 0)
    page.keyboard.press("Control+z")
    page.keyboard.press("s")
    page.wait_for_function("document.querySelector('#save-status').textContent.startsWith('Draft saved')")
    versions = seeder.get(f"/tasks/{task}/samples/{sample}")["versions"]
    assert [(v["kind"], v["features"]) for v in versions] == [("draft", 1)]
    page.keyboard.press("?")
    assert page.get_by_role("dialog", name="Keyboard shortcuts").is_visible()


def test_rectangle_point_line_and_freehand_are_stored_as_kaibu_geometries(stack, site, seeder, new_context):
    task = seeder.task(1)
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("shapes"))
    sample = shown_sample(page)
    red, green, blue, yellow = (marker_positions(page)[c] for c in MARKERS)
    page.keyboard.press("r")  # rectangle: two opposite corners
    page.mouse.click(*red)
    page.mouse.click(*blue)
    expect_shapes(page, 1)
    page.keyboard.press("3")
    page.keyboard.press("o")  # point
    page.mouse.click(*green)
    expect_shapes(page, 2)
    page.keyboard.press("l")  # line: click the last point again to finish
    page.mouse.click(*yellow)
    page.mouse.click(*green)
    page.mouse.click(*green)
    expect_shapes(page, 3)
    page.keyboard.press("f")  # freehand: press, drag through the points, release
    page.mouse.move(*red)
    page.mouse.down()
    for x, y in (green, blue, yellow):
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    expect_shapes(page, 4)
    page.keyboard.press("s")
    page.wait_for_function("document.querySelector('#save-status').textContent.startsWith('Draft saved')")

    (stored,) = stored_annotations(stack, task, sample)
    polygons = [f for f in stored["features"] if f["geometry"]["type"] == "Polygon"]
    freehand = max(polygons, key=lambda f: len(f["geometry"]["coordinates"][0]))
    assert len(freehand["geometry"]["coordinates"][0]) > 10  # every pointer move became a vertex
    by_type = {f["geometry"]["type"]: f for f in stored["features"] if f is not freehand}
    assert set(by_type) == {"Polygon", "Point", "LineString"}
    xs = sorted({round(x) for x, _ in by_type["Polygon"]["geometry"]["coordinates"][0]})
    ys = sorted({round(y) for _, y in by_type["Polygon"]["geometry"]["coordinates"][0]})
    (red_col, red_row), (blue_col, blue_row) = MARKERS[(255, 0, 0)], MARKERS[(0, 0, 255)]
    assert all(abs(a - b) < 2 for a, b in zip(xs, [red_col, blue_col]))
    assert all(abs(a - b) < 2 for a, b in zip(ys, [HEIGHT - blue_row, HEIGHT - red_row]))
    assert by_type["Point"]["properties"]["label"] == "debris"
    assert len(by_type["LineString"]["geometry"]["coordinates"]) == 2


def test_heartbeats_keep_the_lease(stack, site, seeder, new_context):
    """With a 60 s lease the page renews it at about a third of what is left (fake page clock)."""
    task = seeder.task(1, lease_seconds=60)
    context = new_context()
    page = context.new_page()
    page.clock.install()
    beats = []
    page.on("requestfinished", lambda r: r.url.endswith("/heartbeat") and beats.append(r))
    page.goto(f"{site.url}/?task={task}#token={stack.annotator_token('steady')}")
    shown_sample(page)
    page.clock.run_for(15_000)
    assert beats == []
    with page.expect_request_finished(lambda r: r.url.endswith("/heartbeat")) as beat:
        page.clock.run_for(10_000)  # past 20 s: the first heartbeat
    assert beat.value.response().status == 200 and beat.value.response().json()["expires_at"]
