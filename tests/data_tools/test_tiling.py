"""Tiles for training (custom/data_tools/tiling.py, tools/make_tiles.py): objects clipped to each tile,
dropped below the visible fraction and counted, ignore regions kept, and the result read back by the COCO
json dataset that trains on it."""

import json

import cv2
import numpy as np
import pycocotools.mask as mask_utils

from custom.cli import make_tiles
from custom.data_tools.tiling import tile_dataset
from custom.datasets.builder import build_dataset
from custom.structures.tiles import TileSize
from tests.helpers.json_source_writers import HEIGHT, WIDTH, coco_annotation, rle_of_box, square, write_coco
from tests.helpers.source_writers import write_image

# 96x72 in tiles of 48x48 overlapping by 12 px: x from 0, 36 and 48; y from 0 and 24 (6 tiles).
TILE = TileSize(48, 48)


def scene(root):
    """One image: a person 20x16 at x 40-60, y 10-26 (whole only in the tile from x 36) and a crowd region
    x 0-40, y 0-30 (iscrowd=1)."""
    write_image(root / 'images' / 'scene.png', WIDTH, HEIGHT)
    annotations = [coco_annotation(1, 1, 1, [40, 10, 20, 16], [square(40, 10, 20)[:4] + [60, 26, 40, 26]]),
                   coco_annotation(2, 1, 1, [0, 0, 40, 30], rle_of_box(0, 0, 40, 30), iscrowd=1)]
    image = dict(id=1, file_name='scene.png', width=WIDTH, height=HEIGHT)
    write_coco(root / 'annotations' / 'all.json', [image], annotations, [dict(id=1, name='person')])
    return dict(type='CocoJsonDataset', data_root=str(root), ann_file='annotations/all.json',
                data_prefix=dict(img='images/'), metainfo=dict(classes=('person',)))


def test_objects_are_clipped_dropped_below_the_visible_fraction_and_counted_and_crowds_kept(tmp_path, capsys):
    source = tmp_path / 'source'
    scene(source)
    out = tmp_path / 'tiles'
    assert make_tiles.main(['coco', str(source), '--split', 'annotations/all.json', '--data-prefix',
                            'img=images/', '--tile', '48x48', '--overlap', '0.25', '--out', str(out)]) == 0
    # the person is 0.6 inside the tile from x 48, 0.4 inside the one from x 0, 2 of its 16 rows in the lower
    # row of tiles: kept twice, dropped 4 times
    warning = 'warning: 4 object pieces dropped: less than 0.5 of the object inside the tile'
    assert warning in capsys.readouterr().err
    coco = json.loads((out / 'annotations' / 'tiles.json').read_text())
    names = {image['id']: image['file_name'] for image in coco['images']}
    assert sorted(names.values()) == sorted(f'scene_{x}_{y}.png' for x in (0, 36, 48) for y in (0, 24))
    source_image = cv2.imread(str(source / 'images' / 'scene.png'))
    for name in names.values():
        x, y = (int(v) for v in name[:-4].split('_')[1:])
        assert np.array_equal(cv2.imread(str(out / 'images' / name)), source_image[y:y + 48, x:x + 48])
    people = {names[a['image_id']]: a for a in coco['annotations'] if not a['iscrowd']}
    assert set(people) == {'scene_36_0.png', 'scene_48_0.png'}
    assert people['scene_36_0.png']['bbox'] == [4, 10, 20, 16]  # whole
    assert people['scene_48_0.png']['bbox'] == [0, 10, 12, 16]  # cut at the tile's left border
    cut = mask_utils.decode(people['scene_48_0.png']['segmentation'])
    assert cut.shape == (48, 48) and cut.sum() == 12 * 16 and cut[10:26, 0:12].all()
    # the crowd region, in every tile that holds any of it, however little
    crowds = sorted(names[a['image_id']] for a in coco['annotations'] if a['iscrowd'])
    assert crowds == ['scene_0_0.png', 'scene_0_24.png', 'scene_36_0.png', 'scene_36_24.png']

    # what a coco_json config trains on reads it back: crowds as ignored instances
    tiles = build_dataset(dict(type='CocoJsonDataset', data_root=str(out), ann_file='annotations/tiles.json',
                               data_prefix=dict(img='images/'), metainfo=dict(classes=('person',))),
                          test_mode=True, pipeline=[])
    flags = sorted(instance['ignore_flag'] for index in range(len(tiles))
                   for instance in tiles.get_data_info(index)['instances'])
    assert len(tiles) == 6 and flags == [0, 0, 1, 1, 1, 1]


def test_a_lower_visible_fraction_keeps_more_pieces(tmp_path, capsys):
    summary = tile_dataset(scene(tmp_path / 'source'), tmp_path / 'tiles', TILE, 0.25, min_visible=0.3)
    assert (summary.tiles, summary.objects, summary.dropped) == (6, 7, 3)  # the 0.4 piece is kept now
