"""Nothing is lost: an API that dies mid-submit, and a lease that is gone by the time of saving."""
import json
import os
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from devstack.processes import free_ports, spawn, stop_group, wait_http

from .conftest import ROOT
from .driver import draw_polygon, expect_shapes, marker_positions, open_annotator, shown_sample
from .seeding import MARKERS
from .stored import stored_annotations
from tests.settings import UI_TIMEOUT_MS


class KillableApi:
    """A second `chalice local` on the stack's moto, so this test can kill and restart it freely."""

    def __init__(self, stack, log_dir: Path):
        (self.port,) = free_ports(1)
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **stack.env, "AWS_ENDPOINT_URL": stack.moto_url}
        self.log_dir = log_dir
        self.proc = None

    def start(self):
        chalice = str(Path(sys.executable).with_name("chalice"))
        argv = [chalice, "local", "--stage", "local", "--no-autoreload", "--host", "127.0.0.1",
                "--port", str(self.port)]
        self.proc = spawn("api-killable", argv, self.env, ROOT, self.log_dir)
        wait_http(f"{self.url}/health", self.proc, timeout=60)

    def stop(self):
        if self.proc:
            stop_group(self.proc, 5)
            self.proc = None


@pytest.fixture
def killable_api(stack, tmp_path):
    api = KillableApi(stack, tmp_path)
    api.start()
    yield api
    api.stop()


def test_api_killed_mid_submit_is_retried_and_stored_once(stack, site, seeder, new_context, killable_api):
    task = seeder.task(2)
    context = new_context()
    context.route("**/config.json", lambda route: route.fulfill(json={"apiUrl": killable_api.url}))
    page = open_annotator(context, site.url, task, stack.annotator_token("unlucky"))
    sample = shown_sample(page)
    on_screen = marker_positions(page)
    draw_polygon(page, [on_screen[c] for c in list(MARKERS)[:3]])
    expect_shapes(page, 1)

    submits = []

    def first_submit_lands_then_the_api_dies(route):
        if route.request.method != "POST":  # a CORS preflight
            return route.continue_()
        submits.append(json.loads(route.request.post_data))
        if len(submits) == 1:
            route.fetch()  # the server stores it...
            killable_api.stop()  # ...and dies before the browser hears the answer
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/submit", first_submit_lands_then_the_api_dies)
    page.keyboard.press("Enter")
    expect(page.locator("#banner")).to_contain_text("retrying", timeout=UI_TIMEOUT_MS)
    assert page.evaluate("localStorage.getItem('annotator.outbox:' + window.annotator.task.id)")  # kept locally

    killable_api.start()
    shown_sample(page, other_than=sample, timeout=UI_TIMEOUT_MS)
    expect(page.locator("#banner")).to_be_hidden()

    assert len(submits) >= 2 and len({s["submission_id"] for s in submits}) == 1
    versions = seeder.get(f"/tasks/{task}/samples/{sample}")["versions"]
    assert [v["kind"] for v in versions] == ["submitted"]
    assert seeder.get(f"/tasks/{task}/progress")["annotations"] == 1
    assert len(stored_annotations(stack, task, sample)) == 1


def test_lost_lease_keeps_the_drawing_and_offers_it_for_download(stack, site, seeder, new_context):
    task = seeder.task(1)
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("late"))
    sample = shown_sample(page)
    on_screen = marker_positions(page)

    def with_someone_elses_lease(route):
        if route.request.method != "PUT":  # a CORS preflight
            return route.continue_()
        body = json.loads(route.request.post_data)
        route.continue_(post_data=json.dumps({**body, "lease_id": "not-yours"}))

    # Before drawing: the page's autosave may send the first draft before "s" does (on a busy
    # machine it did, and "s" then had nothing new to save). Either way the server answers 409.
    page.route("**/draft", with_someone_elses_lease)
    draw_polygon(page, [on_screen[c] for c in list(MARKERS)[:3]])
    expect_shapes(page, 1)
    page.keyboard.press("s")
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("no longer reserved for you")
    expect_shapes(page, 1)  # the drawing is still on screen

    with page.expect_download() as download:
        dialog.get_by_role("link", name="Download drawing (GeoJSON)").click()
    saved = json.loads(Path(download.value.path()).read_text())
    assert saved["type"] == "FeatureCollection" and len(saved["features"]) == 1
    assert download.value.suggested_filename == f"{sample}.geojson"


def test_an_image_that_cannot_load_can_be_skipped(stack, site, seeder, new_context):
    task = seeder.task(2)
    seeder.s3.delete_object(Bucket=seeder.bucket, Key=f"uploads/{task}/s000/image.png")  # sequential: s000 comes first
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("unlucky-2"))
    expect(page.locator("#save-status")).to_contain_text("could not be loaded")
    page.keyboard.press("n")
    assert shown_sample(page) == "s001"
