"""checked_polygon: what the json sources accept as polygon coordinates."""

import pytest

from custom.datasets.polygons import checked_polygon
from custom.errors import DataError


@pytest.mark.parametrize('coords', [[1, 1, 30, 1, 30, 20], (1.5, 1, 30, 1.0, 30, 20)])
def test_json_numbers_become_floats(coords):
    polygon = checked_polygon(coords, 40, 30, 'a.json', 'shape #1')
    assert polygon == [float(v) for v in coords] and all(type(v) is float for v in polygon)


@pytest.mark.parametrize('bad', [True, '30', None, float('nan'), float('inf')])
def test_anything_but_finite_numbers_is_refused_with_the_shape_named(bad):
    with pytest.raises(DataError, match=r'a.json: shape #1: polygon coordinates must be a list of numbers'):
        checked_polygon([1, 1, bad, 1, 30, 20], 40, 30, 'a.json', 'shape #1')
