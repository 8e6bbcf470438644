"""The tile grid that sliced inference and tiling for training share (custom/structures/tiles.py)."""

import pytest

from custom.errors import ConfigError
from custom.structures.tiles import TileSize, parse_tile_size, tile_boxes


def test_an_image_smaller_than_a_tile_is_one_tile_the_image_itself():
    assert tile_boxes(50, 40, TileSize(64, 64), 0.2) == [(0, 0, 50, 40)]
    assert tile_boxes(64, 64, TileSize(64, 64), 0.5) == [(0, 0, 64, 64)]


def test_tiles_have_the_full_size_overlap_and_cover_the_image():
    tiles = tile_boxes(150, 100, TileSize(64, 48), 0.25)
    assert {(x2 - x1, y2 - y1) for x1, y1, x2, y2 in tiles} == {(64, 48)}
    assert sorted({x1 for x1, *_ in tiles}) == [0, 48, 86]  # stride 64 - 16; the last moved back inside
    assert sorted({y1 for _, y1, *_ in tiles}) == [0, 36, 52]
    covered = {(x, y) for x1, y1, x2, y2 in tiles for x in range(x1, x2) for y in range(y1, y2)}
    assert len(covered) == 150 * 100
    # an image narrower than a tile: one column, as wide as the image
    assert {(x1, x2) for x1, _, x2, _ in tile_boxes(40, 100, TileSize(64, 48), 0.25)} == {(0, 40)}


def test_tile_sizes_parse_and_bad_ones_are_refused():
    assert parse_tile_size('640x480') == TileSize(640, 480)
    assert parse_tile_size('512') == TileSize(512, 512)
    for text in ('640x', 'x480', '0x10', '64*64', '-5'):
        with pytest.raises(ConfigError, match='WIDTHxHEIGHT'):
            parse_tile_size(text)
    with pytest.raises(ConfigError, match='overlap'):
        tile_boxes(100, 100, TileSize(64, 64), 1.0)
