"""A real headless browser for the page tests: Debian's Chromium driven by playwright (playwright's own
browser download needs the internet). ``requires_chromium`` skips a test file, saying why, on a machine
without it; .ci/run installs it, so CI always runs them."""

import shutil

import pytest

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
requires_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason='no chromium on PATH (Debian: apt-get install -y chromium; .ci/run installs it)')


@pytest.fixture(scope='module')
def browser():
    """One headless Chromium per test file."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox'])
        yield browser
        browser.close()
