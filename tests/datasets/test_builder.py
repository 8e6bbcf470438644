"""What a dataset config gives, as the datasets say it (custom/datasets/builder.py)."""

from custom.datasets.builder import rle_masks
from tests.helpers.json_source_writers import make_coco


def test_the_datasets_say_which_configs_give_rle_masks_and_why(tmp_path, pennfudan_root):
    make_coco(tmp_path)  # holds one RLE mask (the crowd region)
    coco = dict(type='CocoJsonDataset', data_root=str(tmp_path), ann_file='annotations/train.json')
    assert rle_masks(coco) == f'{tmp_path}/annotations/train.json holds 1 RLE masks'
    assert rle_masks(dict(coco, type='CocoDataset')) == rle_masks(coco)  # mmdet's own reads the same json
    assert rle_masks(dict(type='PennFudanDataset', data_root=str(pennfudan_root))) == (
        'PennFudanDataset gives RLE masks')
    for polygons in ('LabelmeDataset', 'VIADataset', 'NoSuchDataset'):
        assert rle_masks(dict(type=polygons, data_root=str(tmp_path))) is None
    assert rle_masks(dict(coco, ann_file='missing.json')) is None  # loading says what is wrong

