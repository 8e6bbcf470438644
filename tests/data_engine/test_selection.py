"""custom/data_engine/selection.py: ranking unlabelled images by the corrections their drafts need."""

import numpy as np
import pytest

from custom.data_engine.selection import expected_corrections, low_confidence, rank_by_need


def test_expected_corrections_add_the_doubt_of_kept_detections_and_the_chance_of_missed_objects():
    # kept (>= 0.3): deleted with chance 1 - p; below: an object to add with chance p
    assert expected_corrections(np.array([0.9, 0.6, 0.2, 0.05]), 0.3) == pytest.approx(0.1 + 0.4 + 0.2 + 0.05)
    assert expected_corrections(np.array([]), 0.3) == 0.0


def test_low_confidence_looks_at_kept_detections_only():
    assert low_confidence(np.array([0.9, 0.7, 0.1]), 0.3) == pytest.approx(0.2)
    assert low_confidence(np.array([0.1]), 0.3) == 0.0


def test_images_are_ranked_most_expected_corrections_first_ties_in_given_order():
    confident, doubtful, missed, empty, empty_too = ([0.95, 0.9], [0.5, 0.35], [0.2, 0.25, 0.1], [], [])
    images = [np.array(scores) for scores in (confident, doubtful, missed, empty, empty_too)]
    # needs: 0.15, 1.15, 0.55, 0, 0
    assert rank_by_need(images, 0.3) == [1, 2, 0, 3, 4]
    # the mean-confidence rule puts the confident image before the one whose objects all fell below 0.3
    assert rank_by_need(images, 0.3, 'low-confidence') == [1, 0, 2, 3, 4]
