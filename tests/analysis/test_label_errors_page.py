"""The review page of tools/find_label_errors.py (custom/analysis/label_errors_page.py) in a real headless
Chromium, opened from disk (file://, no server) as a user opens it: the cards, the kind and class filters,
the sort order, the crops and the links to the images."""

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from custom.cli.find_label_errors import main
from tests.helpers.browser import requires_chromium
from tests.helpers.label_error_cases import CLASSES, write_cases

pytestmark = requires_chromium


@pytest.fixture(scope='module')
def review_page(tmp_path_factory) -> Path:
    """The page of the hand-made case: 5 suspects (missing dog, spurious cat, two bad locations, a cat the
    model calls a dog) in 8 images."""
    root = tmp_path_factory.mktemp('review')
    assert main([str(write_cases(root)), '--out-dir', str(root / 'out'), '--classes', *CLASSES]) == 0
    return root / 'out' / 'review.html'



@pytest.fixture
def page(browser, review_page):
    page = browser.new_page()
    errors = []
    page.on('pageerror', lambda error: errors.append(error))
    page.goto(review_page.as_uri())
    page.wait_for_selector('body[data-state="ready"]', timeout=30_000)
    yield page
    page.close()
    assert errors == []  # no script error in the page


def shown(page) -> list[tuple[str, str]]:
    """(kind, image) of the cards shown, in order."""
    return page.eval_on_selector_all('article.card', 'cards => cards.map(card => [card.dataset.kind, '
                                                     'card.querySelector("dd").textContent])')


def test_page_from_disk_shows_one_card_per_suspect_highest_score_first(page):
    cards = shown(page)
    assert len(cards) == 5 and page.inner_text('#count') == '5 of 5 suspects shown'
    assert cards[0] == ['spurious', 'spurious'] and cards[-1] == ['bad_location', 'mask_outline']
    scores = page.eval_on_selector_all('article.card', 'cards => cards.map(c => Number(c.dataset.score))')
    assert scores == sorted(scores, reverse=True)
    # every crop loaded from the crops/ folder beside the page, scaled up from the small image
    sides = page.eval_on_selector_all('article.card img',
                                      'images => images.map(i => Math.max(i.naturalWidth, i.naturalHeight))')
    assert len(sides) == 5 and min(sides) >= 224
    # each card links to its image file, relative to the page
    links = page.eval_on_selector_all('article.card a', 'links => links.map(a => a.href)')
    assert [Path(unquote(urlsplit(link).path)).name for link in links][0] == 'spurious.png'
    assert all(Path(unquote(urlsplit(link).path)).is_file() for link in links)


def test_kind_and_class_filters_and_the_image_order(page):
    page.uncheck('#kind-bad_location')
    # missing and wrong_class tie at 0.9 (and in image quality): the image names decide
    assert [kind for kind, _ in shown(page)] == ['spurious', 'missing', 'wrong_class']
    assert page.inner_text('#count') == '3 of 5 suspects shown'
    page.select_option('#class', 'dog')  # the dog nobody annotated and the cat the model calls a dog
    assert sorted(kind for kind, _ in shown(page)) == ['missing', 'wrong_class']
    page.check('#kind-bad_location')  # and the dog drawn 15 px off
    assert sorted(image for _, image in shown(page)) == ['bad_location', 'missing', 'wrong_class']
    page.select_option('#class', '')
    page.select_option('#sort', 'image')  # worst image first: the one with an annotation of nothing
    assert shown(page)[0] == ['spurious', 'spurious'] and len(shown(page)) == 5
    page.uncheck('#kind-spurious')
    page.uncheck('#kind-missing')
    page.uncheck('#kind-bad_location')
    page.uncheck('#kind-wrong_class')
    assert shown(page) == [] and page.inner_text('#count') == '0 of 5 suspects shown'
