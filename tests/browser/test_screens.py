"""Every state where annotating cannot go on gets its own plain-language screen."""
import pytest
from playwright.sync_api import expect

from devstack.processes import free_ports

from .driver import open_annotator
from tests.settings import UI_TIMEOUT_MS


def screen(page, kind):
    return page.locator(f'[data-screen="{kind}"]')


def test_bad_link_says_so(site, seeder, new_context):
    task = seeder.task(1)
    page = open_annotator(new_context(), site.url, task, "not-a-token")
    expect(screen(page, "401")).to_contain_text("not valid")


def test_not_invited(stack, site, seeder, new_context):
    task = seeder.task(1, annotators=["someone-else"])
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("stranger"))
    expect(screen(page, "403")).to_contain_text("not invited")


def test_task_finished(stack, site, seeder, new_context):
    task = seeder.task(0)
    page = open_annotator(new_context(), site.url, task, stack.annotator_token("eager"))
    expect(screen(page, "done")).to_contain_text("All done")


def test_server_unreachable(stack, site, seeder, new_context):
    (closed,) = free_ports(1)
    context = new_context()
    context.route("**/config.json", lambda route: route.fulfill(json={"apiUrl": f"http://127.0.0.1:{closed}"}))
    page = open_annotator(context, site.url, "any", stack.annotator_token("offline"))
    expect(screen(page, "unreachable")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Try again")).to_be_visible()


def test_token_leaves_the_address_bar_and_picker_lists_tasks(stack, site, seeder, new_context):
    task = seeder.task(2, name="Picker task")
    page = new_context().new_page()
    page.goto(f"{site.url}/#token={stack.annotator_token('chooser')}")
    card = page.locator(f'[data-task="{task}"]')
    expect(card).to_contain_text("Picker task")
    expect(card).to_contain_text("0 of 2 images done")
    assert "token" not in page.url
    card.click()
    page.wait_for_url(f"**/?task={task}")
    expect(page.locator("#viewer[data-sample]")).to_be_visible()  # token survived via sessionStorage


@pytest.mark.parametrize("link", ["/?task=x", "/"])
def test_no_token_asks_for_the_link(site, new_context, link):
    page = new_context().new_page()
    page.goto(site.url + link)
    expect(screen(page, "notoken")).to_be_visible()
