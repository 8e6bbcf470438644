"""COCO export of middle-format data lists from every source, checked with pycocotools."""

import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO

from custom.cli import convert_to_coco
from custom.cli.arguments import source_config
from custom.data_tools.coco_export import data_list_to_coco, dataset_to_coco, mask_to_polygons
from custom.datasets.builder import build_dataset
from custom.errors import DataError
from custom.structures.masks import mask_to_rle
from tests.helpers.source_writers import make_kitti, make_voc_with_masks

pytestmark = pytest.mark.usefixtures('mmdet_scope')


def build_source_dataset(source: str, root: Path, split: str = '', **options):
    """The dataset the data tools build for ``source`` (test mode: nothing filtered)."""
    return build_dataset(source_config(source, root, split, **options), test_mode=True, pipeline=[])


def load_coco(coco_dict: dict, tmp_path: Path) -> COCO:
    path = tmp_path / 'export.json'
    path.write_text(json.dumps(coco_dict))  # also proves the dict is JSON serialisable
    return COCO(str(path))


def blob_mask(height=48, width=64) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width]
    return ((yy - 24) ** 2 + (xx - 30) ** 2 <= 15**2).astype(np.uint8)


def test_rle_export_loads_in_pycocotools_and_ann_to_mask_reproduces_voc_masks(tmp_path):
    dataset = build_source_dataset(
        'voc', make_voc_with_masks(tmp_path / 'voc'), classes=('person', 'dog'), with_mask=True
    )
    coco = load_coco(dataset_to_coco(dataset), tmp_path)
    assert [cat['id'] for cat in coco.loadCats(coco.getCatIds())] == [1, 2]
    assert [img['file_name'] for img in coco.loadImgs(coco.getImgIds())] == [
        '2008_000001.jpg',
        '2008_000002.jpg',
    ]
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    assert [ann['category_id'] for ann in anns] == [1, 2]
    assert anns[0]['bbox'] == [20.0, 10.0, 30.0, 30.0]
    assert anns[0]['area'] == 900.0 and anns[1]['area'] == 600.0  # pixel counts of the masks
    for ann, instance in zip(anns, dataset.get_data_info(0)['instances'], strict=False):
        expected = mask_to_rle(coco.annToMask(ann))
        assert expected == instance['mask']


def one_image(height: int, width: int, instances: list[dict]) -> list[dict]:
    """The middle-format data list of one image 'a.png' holding ``instances``."""
    return [dict(img_path='a.png', img_id='a', height=height, width=width, instances=instances)]


def test_polygon_export_restores_masks_pixel_for_pixel_down_to_one_pixel(tmp_path):
    blob, dot = blob_mask(), np.zeros((48, 64), dtype=np.uint8)
    dot[3, 60] = 1
    data_list = one_image(48, 64, [
        dict(bbox=[15.0, 9.0, 46.0, 40.0], bbox_label=0, ignore_flag=0, mask=mask_to_rle(blob)),
        dict(bbox=[60.0, 3.0, 61.0, 4.0], bbox_label=0, ignore_flag=0, mask=mask_to_rle(dot)),
    ])
    coco = load_coco(data_list_to_coco(data_list, ('pedestrian',), mask_format='polygon'), tmp_path)
    polygon_ann, dot_ann = coco.loadAnns([1, 2])
    assert isinstance(polygon_ann['segmentation'], list)
    assert np.array_equal(coco.annToMask(polygon_ann), blob)
    assert dot_ann['segmentation'] == [[60.0, 3.0, 60.0, 4.0, 61.0, 4.0, 61.0, 3.0]]
    assert np.array_equal(coco.annToMask(dot_ann), dot)


def test_box_only_kitti_export_has_xywh_boxes_box_areas_and_ignored_regions_as_crowd(tmp_path):
    dataset = build_source_dataset('kitti', make_kitti(tmp_path / 'kitti'), classes=['Pedestrian'])
    coco_dict = dataset_to_coco(dataset)
    coco = load_coco(coco_dict, tmp_path)
    first = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    assert first[0]['bbox'] == pytest.approx([10.5, 5.25, 20.25, 32.75])
    assert first[0]['area'] == pytest.approx(20.25 * 32.75)
    assert [ann['iscrowd'] for ann in first] == [0, 1]
    assert all('segmentation' not in ann for ann in coco_dict['annotations'])
    assert [(img['width'], img['height']) for img in coco_dict['images']] == [(120, 40), (100, 50), (160, 48)]
    assert [img['stem'] for img in coco_dict['images']] == ['000000', '000001', '000002']


def test_masks_given_as_polygons_or_uncompressed_rle_are_exported_as_rle(tmp_path):
    square = [[10.0, 10.0, 30.0, 10.0, 30.0, 30.0, 10.0, 30.0]]
    uncompressed = {'size': [48, 64], 'counts': [48 * 10, 5, 43, 5, 48 * 64 - 533]}  # column-major runs
    data_list = one_image(48, 64, [
        dict(bbox=[10.0, 10.0, 30.0, 30.0], bbox_label=0, ignore_flag=0, mask=square),
        dict(bbox=[10.0, 0.0, 12.0, 5.0], bbox_label=0, ignore_flag=1, mask=uncompressed),
    ])
    coco = load_coco(data_list_to_coco(data_list, ('pedestrian',)), tmp_path)
    square_ann, runs_ann = coco.loadAnns([1, 2])
    assert isinstance(square_ann['segmentation']['counts'], str)
    assert coco.annToMask(square_ann)[15, 15] == 1 and coco.annToMask(square_ann)[5, 5] == 0
    assert runs_ann['area'] == 10.0 and runs_ann['iscrowd'] == 1


def test_label_outside_classes_and_unknown_mask_format_are_rejected():
    data_list = [
        dict(
            img_path='a.png',
            img_id='a',
            height=8,
            width=8,
            instances=[dict(bbox=[0, 0, 4, 4], bbox_label=3, ignore_flag=0)],
        )
    ]
    with pytest.raises(DataError, match=r'a\.png: bbox_label 3 is outside the 2 classes'):
        data_list_to_coco(data_list, ('a', 'b'))
    with pytest.raises(ValueError, match='mask_format'):
        data_list_to_coco(data_list, ('a', 'b'), mask_format='bitmap')


def test_mask_to_polygons_returns_one_outline_per_separate_blob():
    mask = np.zeros((20, 20), dtype=np.uint8)
    mask[2:6, 2:6] = 1
    mask[10:16, 10:18] = 1
    polygons = mask_to_polygons(mask)
    assert len(polygons) == 2 and all(len(poly) >= 6 and len(poly) % 2 == 0 for poly in polygons)


def test_tool_converts_voc_with_class_map_and_polygons(tmp_path, capsys):
    root = make_voc_with_masks(tmp_path / 'voc')
    (root / 'val.txt').write_text('2008_000002\n')
    out = tmp_path / 'out' / 'voc_val.json'
    convert_to_coco.main(
        [
            'voc',
            str(root),
            '--split',
            'val.txt',
            '--with-mask',
            '--classes',
            'pedestrian',
            '--class-map',
            'person=pedestrian',
            '--mask-format',
            'polygon',
            '--out',
            str(out),
        ]
    )
    coco = COCO(str(out))
    assert [img['file_name'] for img in coco.dataset['images']] == ['2008_000002.jpg']
    (ann,) = coco.dataset['annotations']
    assert coco.cats == {1: {'id': 1, 'name': 'pedestrian'}}
    assert isinstance(ann['segmentation'], list) and coco.annToMask(ann)[25, 35] == 1
    assert '1 images, 1 annotations' in capsys.readouterr().out


def test_tool_converts_kitti_and_rejects_bad_class_map(tmp_path):
    out = tmp_path / 'kitti.json'
    convert_to_coco.main(['kitti', str(make_kitti(tmp_path / 'kitti')), '--out', str(out)])
    coco = COCO(str(out))
    assert [cat['name'] for cat in coco.dataset['categories']] == ['Car', 'Pedestrian', 'Cyclist']
    # 4 objects to learn + DontCare and Van as crowd regions of each of the 3 categories
    assert len(coco.dataset['annotations']) == 10
    assert sum(not ann['iscrowd'] for ann in coco.dataset['annotations']) == 4
    with pytest.raises(SystemExit):
        convert_to_coco.main(['kitti', str(tmp_path / 'kitti'), '--class-map', 'Van', '--out', str(out)])


def test_tool_converts_pennfudan_split_and_masks_round_trip(pennfudan_root, tmp_path):
    out = tmp_path / 'val.json'
    convert_to_coco.main(['pennfudan', str(pennfudan_root), '--split', 'splits/val.txt', '--out', str(out)])
    coco = COCO(str(out))
    dataset = build_source_dataset('pennfudan', pennfudan_root, 'splits/val.txt')
    assert len(coco.dataset['images']) == len(dataset) == 2
    assert coco.dataset['categories'] == [{'id': 1, 'name': 'pedestrian'}]
    instances = [inst for i in range(len(dataset)) for inst in dataset.get_data_info(i)['instances']]
    anns = coco.dataset['annotations']
    assert len(anns) == len(instances) > 0
    for ann, instance in zip(anns, instances, strict=False):
        assert mask_to_rle(coco.annToMask(ann)) == instance['mask']
