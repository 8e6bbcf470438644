"""Optional checks on the real Penn-Fudan copy at ../shared/data/PennFudanPed (skipped when absent)."""


import pytest

from custom.cli.arguments import source_config
from custom.data_tools.splitting import source_images, write_splits
from custom.datasets.pennfudan import DEFAULT_SPLIT, PennFudanDataset, parse_annotation
from tests.helpers import REAL_PENNFUDAN

REAL_ROOT = REAL_PENNFUDAN

pytestmark = pytest.mark.skipif(not REAL_ROOT.is_dir(), reason=f'no real Penn-Fudan data at {REAL_ROOT}')


def test_real_dataset_loads_170_images_with_423_instances():
    dataset = PennFudanDataset(data_root=str(REAL_ROOT), ann_file='')
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert len(infos) == 170
    assert sum(len(info['instances']) for info in infos) == 423


def test_real_annotation_boxes_are_within_6px_of_mask_extent_and_16_differ():
    dataset = PennFudanDataset(data_root=str(REAL_ROOT), ann_file='')
    differences = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        ann = parse_annotation(REAL_ROOT / 'Annotation' / f'{info["img_id"]}.txt')
        for (x1, y1, x2, y2), instance in zip(ann.boxes, info['instances'], strict=True):
            converted = (x1 - 1, y1 - 1, x2, y2)
            differences.append(max(abs(a - m) for a, m in zip(converted, instance['bbox'], strict=True)))
    assert len(differences) == 423
    assert max(differences) <= 6 <= dataset.box_tolerance
    assert sum(d > 0 for d in differences) == 16


def test_real_split_tool_gives_120_train_and_50_val(tmp_path):
    written = write_splits(source_images(source_config('pennfudan', REAL_ROOT)), tmp_path, **DEFAULT_SPLIT)
    train, val = (written[name].read_text().split() for name in ('train', 'val'))
    assert (len(train), len(val)) == (120, 50) and not set(train) & set(val)
    assert len(PennFudanDataset(data_root=str(REAL_ROOT), ann_file=str(written['val']))) == 50
