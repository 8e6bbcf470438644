"""The page at / (custom/serving/page.html, page.js) in a real headless Chromium, driven as a user drives it:
drop an image or choose a file, see the overlay and the detections table, or the server's message."""

import base64

import httpx
import pytest

from tests.helpers.browser import requires_chromium
from tests.serving.conftest import API_KEY

pytestmark = requires_chromium
WAIT_MS = 120_000  # one prediction on 2 loaded cores



@pytest.fixture
def page(browser, served):
    """The page, opened with the API key typed in and a score threshold of 0.05."""
    page = browser.new_page()
    errors = []
    page.on('pageerror', lambda error: errors.append(error))
    page.goto(served.url)
    page.fill('#key', API_KEY)
    page.fill('#score', '0.05')
    yield page
    page.close()
    assert errors == []  # no script error in the page


def expected_rows(served, image_file) -> int:
    answer = httpx.post(f'{served.url}/predict', params={'score_thr': 0.05, 'masks': 'none'},
                        files={'file': image_file.read_bytes()}, headers={'X-API-Key': API_KEY}, timeout=120)
    return len(answer.json()['detections'])


def drop_file(page, selector: str, name: str, data: bytes, mime: str) -> None:
    """Drops a file on the element as a user's drag and drop does: a DataTransfer holding the file."""
    transfer = page.evaluate_handle(
        '([name, data, mime]) => { const transfer = new DataTransfer(); const bytes = Uint8Array.from('
        'atob(data), (c) => c.charCodeAt(0)); transfer.items.add(new File([bytes], name, { type: mime })); '
        'return transfer; }', [name, base64.b64encode(data).decode(), mime])
    page.dispatch_event(selector, 'dragover', {'dataTransfer': transfer})
    page.dispatch_event(selector, 'drop', {'dataTransfer': transfer})


def test_dropping_an_image_shows_the_overlay_and_the_detections_table(page, served, image_file):
    drop_file(page, '#drop', image_file.name, image_file.read_bytes(), 'image/png')
    page.wait_for_selector('body[data-state="done"]', timeout=WAIT_MS)
    overlay = page.locator('#overlay')
    assert overlay.is_visible()
    assert overlay.evaluate('(img) => [img.naturalWidth, img.naturalHeight]') == [96, 80]
    rows = page.locator('#detections tbody tr')
    assert rows.count() == expected_rows(served, image_file) > 0
    assert rows.first.locator('td').nth(1).inner_text() == 'pedestrian'
    assert 'detections in 96x80' in page.inner_text('#status')
    assert 'pedestrian' in page.inner_text('#model')  # GET /model with the key typed in


def test_choosing_a_file_that_is_not_an_image_shows_the_servers_message(page, tmp_path):
    text = tmp_path / 'notes.png'
    text.write_text('not an image')
    page.set_input_files('#file', str(text))
    page.wait_for_selector('body[data-state="error"]', timeout=WAIT_MS)
    assert page.inner_text('#status') == '415: not an image (JPEG, PNG, BMP, TIFF, WebP, ...)'
    assert page.locator('#overlay').is_hidden()


def test_without_the_api_key_the_page_shows_401(page, image_file):
    page.fill('#key', '')
    page.set_input_files('#file', str(image_file))
    page.wait_for_selector('body[data-state="error"]', timeout=WAIT_MS)
    assert page.inner_text('#status').startswith('401: this server needs its API key')


def test_api_docs_work_offline_and_send_the_key_given_to_authorize(browser, served):
    """/docs (Swagger UI) with every request to another host refused: it lists the API, and GET /model tried
    out after Authorize answers 200 (the key goes in the header the server reads)."""
    page = browser.new_page()
    elsewhere = []
    page.route(lambda url: not url.startswith(served.url),
               lambda route: (elsewhere.append(route.request.url), route.abort()))
    page.goto(f'{served.url}/docs')
    page.wait_for_selector('.opblock-summary-path[data-path="/predict"]', timeout=WAIT_MS)
    paths = page.locator('.opblock-summary-path').evaluate_all('(nodes) => nodes.map((n) => n.dataset.path)')
    page.click('button.authorize')
    key_form = page.locator('.auth-container', has_text='X-API-Key')
    key_form.locator('input').fill(API_KEY)
    key_form.locator('button.authorize').click()
    page.click('button.btn-done')
    model = page.locator('.opblock', has=page.locator('[data-path="/model"]'))
    model.locator('.opblock-summary').click()
    model.locator('button.try-out__btn').click()
    model.locator('button.execute').click()
    status = model.locator('.live-responses-table tr.response .response-col_status')
    status.wait_for(timeout=WAIT_MS)
    answered = status.inner_text()
    page.close()
    assert sorted(paths) == ['/health', '/model', '/predict'] and elsewhere == []
    assert answered.strip() == '200'
