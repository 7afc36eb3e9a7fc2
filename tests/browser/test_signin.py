"""Sign-in through an identity provider, in the real pages: authorization code flow with PKCE
against the minimal provider of tests/oidc_provider.py, with a local stack of its own whose API
is configured with that issuer (the session's stack has none, so its pages offer no sign-in)."""
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from playwright.sync_api import expect

from devstack.processes import free_ports
from devstack.stack import LocalStack
from tests.oidc_provider import AUDIENCE, Provider
from tests.settings import HTTP_TIMEOUT

from .driver import draw_polygon, marker_positions, shown_sample
from .seeding import MARKERS, Seeder
from .sites import StaticSite
from .test_tablets_a11y import axe_violations


@pytest.fixture(scope="module")
def provider():
    idp = Provider()
    idp.add_key("k1")
    yield idp
    idp.stop()


@pytest.fixture(scope="module")
def idp_stack(provider, tmp_path_factory):
    root = tmp_path_factory.mktemp("idp-stack")
    local = LocalStack(log_dir=root / "logs")
    local.env.update(OIDC_ISSUER=provider.issuer, OIDC_AUDIENCE=AUDIENCE,
                     OIDC_ADMIN_GROUPS="lab-admins")
    moto_port, api_port = free_ports(2)
    local.start(moto_port=moto_port, api_port=api_port, data_dir=root / "data")
    yield local
    local.stop()


@pytest.fixture(scope="module")
def idp_site(idp_stack, frontend_dist):
    site = StaticSite(frontend_dist, config=lambda: {"apiUrl": idp_stack.api_url})
    yield site
    site.close()


@pytest.fixture(scope="module")
def idp_seeder(idp_stack):
    return Seeder(idp_stack.api_url, idp_stack.admin_token(), idp_stack.moto_url,
                  idp_stack.env["DATA_BUCKET"])


def screen(page, kind):
    return page.locator(f'[data-screen="{kind}"]')


def token_in_tab(page, key="annotator.token"):
    return page.evaluate(f"sessionStorage.getItem('{key}')")


def test_annotator_signs_in_claims_a_sample_and_signs_out(provider, idp_site, idp_seeder, new_context):
    task = idp_seeder.task(2, annotators=["ann@lab.org"])
    provider.user = {"sub": "u-77", "email": "ann@lab.org", "email_verified": True}
    asked = len(provider.token_requests)
    page = new_context().new_page()
    page.goto(f"{idp_site.url}/?task={task}")
    expect(screen(page, "notoken")).to_contain_text("Sign in to annotate")
    page.get_by_role("button", name="Sign in").click()

    sample = shown_sample(page)  # back from the provider, signed in, a sample claimed
    assert urlsplit(page.url).query == f"task={task}"  # no code or state left in the address bar
    (form, status), = provider.token_requests[asked:]
    assert status == 200 and form["grant_type"] == "authorization_code"
    assert len(form["code_verifier"]) >= 43 and "client_secret" not in form
    expect(page.locator(".signed-in .who")).to_have_text("ann@lab.org")
    assert axe_violations(page) == []

    # Named by the verified email, as an invite would name her: the task's list lets her in, and
    # her submissions count under that name (the page's "You" count reads the same name).
    on_screen = marker_positions(page)
    draw_polygon(page, [on_screen[c] for c in MARKERS])
    page.get_by_role("button", name="Submit").click()
    shown_sample(page, other_than=sample)
    expect(page.locator("#mine-label")).to_have_text("You: 1 submitted")
    assert idp_seeder.get(f"/tasks/{task}/progress")["by_annotator"] == {"ann@lab.org": {"submitted": 1}}

    page.get_by_role("button", name="Sign out").click()
    expect(screen(page, "notoken")).to_contain_text("Sign in to annotate")
    assert provider.sign_outs >= 1 and token_in_tab(page) is None


def test_provider_user_not_on_the_list_is_refused(provider, idp_site, idp_seeder, new_context):
    """Without a verified email the user is `<issuer>#<sub>`: a sub spelled like the listed
    email names nobody on the task."""
    task = idp_seeder.task(1, annotators=["ann@lab.org"])
    provider.user = {"sub": "ann@lab.org", "email": "ann@lab.org", "email_verified": False}
    page = new_context().new_page()
    page.goto(f"{idp_site.url}/?task={task}")
    page.get_by_role("button", name="Sign in").click()
    expect(screen(page, "403")).to_be_visible()
    expect(page.locator(".signed-in .who")).to_have_text(f"{provider.issuer}#ann@lab.org")


def test_an_answer_with_a_forged_state_is_refused_and_its_code_never_redeemed(
        provider, idp_site, idp_seeder, new_context):
    task = idp_seeder.task(1)
    asked = len(provider.token_requests)
    page = new_context().new_page()
    # Someone else's sign-in answer (a login CSRF): a code the provider did issue, a state this
    # tab never made.
    page.route(f"{provider.issuer}/authorize*", lambda route: route.fulfill(
        status=302, headers={"Location": f"{idp_site.url}/?{urlencode({'code': 'stolen', 'state': 'forged'})}"}))
    page.goto(f"{idp_site.url}/?task={task}")
    page.get_by_role("button", name="Sign in").click()
    expect(screen(page, "error")).to_contain_text("Sign-in failed")
    expect(screen(page, "error")).to_contain_text("state differs")
    assert provider.token_requests[asked:] == [] and token_in_tab(page) is None
    assert "code=" not in page.url
    page.unroute(f"{provider.issuer}/authorize*")
    provider.user = {"sub": "u-1"}
    page.get_by_role("button", name="Sign in again").click()  # and a real sign-in still works
    shown_sample(page)


def test_a_wrong_verifier_is_refused_by_the_provider_and_the_page_says_so(
        provider, idp_site, idp_seeder, new_context):
    task = idp_seeder.task(1)
    asked = len(provider.token_requests)
    page = new_context().new_page()

    def swap_verifier(route):  # a stolen code redeemed without the tab's verifier
        form = {k: v[0] for k, v in parse_qs(route.request.post_data).items()}
        route.continue_(post_data=urlencode({**form, "code_verifier": "x" * 64}))
    page.route(f"{provider.issuer}/token", swap_verifier)
    page.goto(f"{idp_site.url}/?task={task}")
    page.get_by_role("button", name="Sign in").click()
    expect(screen(page, "error")).to_contain_text("code_verifier does not match")
    assert axe_violations(page) == []
    (_, status), = provider.token_requests[asked:]
    assert status == 400 and token_in_tab(page) is None


def test_an_expired_sign_in_asks_to_sign_in_again_not_for_a_new_link(
        provider, idp_site, idp_seeder, new_context):
    task = idp_seeder.task(1)
    provider.user = {"sub": "late", "ttl": -120}  # the provider hands out an expired ID token
    page = new_context().new_page()
    page.goto(f"{idp_site.url}/?task={task}")
    page.get_by_role("button", name="Sign in").click()
    expect(screen(page, "401")).to_contain_text("Your sign-in has expired")
    provider.user = {"sub": "late"}
    page.get_by_role("button", name="Sign in again").click()
    shown_sample(page)
    assert urlsplit(page.url).query == f"task={task}"


def test_dashboard_signs_in_an_admin_by_group(provider, idp_site, idp_seeder, new_context):
    task = idp_seeder.task(1, name="Dashboard by sign-in")
    provider.user = {"sub": "boss", "email": "boss@lab.org", "email_verified": True,
                     "groups": ["lab-admins"]}
    page = new_context().new_page()
    page.goto(f"{idp_site.url}/admin.html")
    expect(page.locator("#login")).to_be_visible()
    assert axe_violations(page) == []
    page.locator("#sign-in").click()
    expect(page.locator("#who")).to_have_text("boss@lab.org")
    expect(page.locator(f'#tasks tr[data-task="{task}"]')).to_contain_text("Dashboard by sign-in")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#sign-in")).to_be_visible()
    assert token_in_tab(page, "admin.token") is None


def test_invite_links_work_unchanged_and_no_sign_in_without_an_issuer(idp_site, idp_seeder, new_context):
    task = idp_seeder.task(1)
    [invite] = requests.post(f"{idp_seeder.api_url}/tasks/{task}/invites",
                             json={"emails": ["guest@lab.org"]}, headers=idp_seeder.headers,
                             timeout=HTTP_TIMEOUT).json()["invites"]
    page = new_context().new_page()
    page.goto(f"{idp_site.url}/?task={task}#token={invite['token']}")
    shown_sample(page)
    expect(page.locator(".signed-in")).to_have_count(0)  # an invite has nothing to sign out of

    plain = new_context().new_page()
    plain.route("**/auth/config", lambda route: route.fulfill(json={"issuer": None}))
    plain.goto(f"{idp_site.url}/?task={task}")
    expect(screen(plain, "notoken")).to_contain_text("Open your annotator link")
    expect(plain.get_by_role("button", name="Sign in")).to_have_count(0)
