"""Enter -> next image without waiting (issue 13): while an image is annotated the page holds the
next sample as a reservation and decodes its image; Enter shows it at once and the submit
follows through the outbox. Correctness is asserted; the timings are printed, never asserted."""
import statistics
import time

from playwright.sync_api import expect

from tests.settings import UI_TIMEOUT_MS

from .driver import draw_polygon, expect_shapes, open_annotator, shown_sample
from .stored import stored_annotations

IMAGES = 20
# A reservation is refused in the task's last stretch (more than 3 per annotator at work + 2
# unfinished samples needed: leases.py): seed enough that all 20 switches may use one.
SPARE = 6


def next_reserved(page):
    """Wait until the page holds the next sample, image decoded (an annotator takes longer)."""
    page.wait_for_function("() => Boolean(window.annotator?.prefetched?.image)", timeout=UI_TIMEOUT_MS)
    return page.evaluate("window.annotator.prefetched.reserved.sample.id")


def wait_for(condition, what: str):
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.2)


def test_enter_to_next_image_painted(stack, site, seeder, new_context, capsys):
    """Enter -> next image painted over 20 images (key press to the map's rendercomplete), with
    the part spent waiting for the server's answer (0 when the reserved image was shown). Each
    submission lands on the image it was drawn on, each image once."""
    task = seeder.task(IMAGES + 1 + SPARE)
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("timer"))
    sample = shown_sample(page)
    painted, answered, paths, drawn, order = [], [], [], set(), [sample]
    for i in range(IMAGES):
        if i % 4 == 0:  # a triangle on some images: it must be stored with that image only
            box = page.locator("#viewer").bounding_box()
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            draw_polygon(page, [(cx - 40, cy + 30), (cx + 40, cy + 30), (cx, cy - 40)])
            expect_shapes(page, 1)
            drawn.add(sample)
        reserved = next_reserved(page)
        page.keyboard.press("Enter")
        sample = shown_sample(page, other_than=sample)
        assert sample == reserved  # the reservation is what came next
        order.append(sample)
        painted.append(int(page.evaluate("document.body.dataset.lastSwitchMs")))
        answered.append(int(page.evaluate("document.body.dataset.lastAnswerMs")))
        paths.append(page.evaluate("document.body.dataset.lastSwitch"))
    assert len(set(order)) == IMAGES + 1
    wait_for(lambda: seeder.get(f"/tasks/{task}/progress")["annotations"] == IMAGES,
             "the last submit to land")
    for sid in order[:-1]:
        stored = stored_annotations(stack, task, sid)
        assert len(stored) == 1, (sid, stored)
        assert len(stored[0]["features"]) == (1 if sid in drawn else 0), sid
    # The image on screen is leased to the annotator, and the one after it reserved: two holds.
    held = seeder.get(f"/tasks/{task}/leases")["leases"]
    assert sorted((l["sample_id"], l.get("ahead", False)) for l in held) == \
        sorted([(order[-1], False), (next_reserved(page), True)])
    assert paths.count("ahead") == IMAGES
    with capsys.disabled():  # the numbers are the point of this test: always show them
        print(f"\nEnter -> next image painted over {IMAGES} images: median {statistics.median(painted):.0f} ms, "
              f"max {max(painted)} ms; of which waiting for the server's answer: median "
              f"{statistics.median(answered):.0f} ms, max {max(answered)} ms")


def test_the_reservation_is_given_back_when_the_page_goes_away(stack, site, seeder, new_context):
    task = seeder.task(12)
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("leaver"))
    shown_sample(page)
    reserved = next_reserved(page)
    assert {l["sample_id"] for l in seeder.get(f"/tasks/{task}/leases")["leases"] if l.get("ahead")} == {reserved}
    page.goto("about:blank")  # pagehide: the reservation is released, the lease lapses on its own
    wait_for(lambda: not any(l.get("ahead") for l in seeder.get(f"/tasks/{task}/leases")["leases"]),
             "the reservation to be released")
    assert seeder.get(f"/tasks/{task}/progress")["in_progress"] == 1


def test_skip_moves_on_to_the_reserved_image(stack, site, seeder, new_context):
    task = seeder.task(12)
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("skipper"))
    first = shown_sample(page)
    reserved = next_reserved(page)
    page.get_by_role("button", name="Skip").click()
    assert shown_sample(page, other_than=first) == reserved
    expect(page.locator("#viewer")).to_have_attribute("data-sample", reserved)
    held = seeder.get(f"/tasks/{task}/leases")["leases"]
    assert (reserved, False) in {(l["sample_id"], l.get("ahead", False)) for l in held}
