"""Browser fixtures: the built annotator served next to the real local stack, driven by Chromium.

Uses the session `stack` fixture from tests/conftest.py (moto + chalice local on free ports).
Chromium is Debian's (`make test` installs it); Playwright never downloads a browser here.
"""
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.settings import UI_TIMEOUT_MS

from .seeding import Seeder
from .sites import StaticSite

# Every expectation waits for an outcome as long as a busy machine may need (5 s by default).
expect.set_options(timeout=UI_TIMEOUT_MS)

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def frontend_dist():
    """Build the site from the committed lock, as a deployment would."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    if not (FRONTEND / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, check=True)
    subprocess.run(["npm", "run", "build", "--silent"], cwd=FRONTEND, check=True, capture_output=True)
    return FRONTEND / "dist"


@pytest.fixture(scope="session")
def kaibu_standin():
    """A stand-in for kaibu.org on its own origin (Kaibu is always cross-origin to us)."""
    site = StaticSite(Path(__file__).parent / "kaibu_standin")
    yield site
    site.close()


@pytest.fixture(scope="session")
def site(stack, frontend_dist, kaibu_standin):
    site = StaticSite(frontend_dist, config=lambda: {
        "apiUrl": stack.api_url,
        "kaibuUrl": f"{kaibu_standin.url}/index.html?vendor={site.url}/vendor/",
    })
    yield site
    site.close()


@pytest.fixture(scope="session")
def seeder(stack):
    return Seeder(stack.api_url, stack.admin_token(), stack.moto_url, stack.env["DATA_BUCKET"])


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium (make test does)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_context(browser):
    """Fresh browser contexts (separate storage = separate people), closed after the test."""
    contexts = []

    def make():
        ctx = browser.new_context(viewport=VIEWPORT)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()
