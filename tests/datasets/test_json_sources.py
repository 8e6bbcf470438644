"""The json sources (COCO, labelme, VIA, Label Studio) through the data tools and training: the round trip
through tools/convert_to_coco.py and pycocotools, splits and k-fold, and a CPU training run of each new
config."""

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO

from custom.cli import convert_to_coco, make_splits
from custom.cli.arguments import add_source_arguments, source_config_from_args
from custom.data_tools.splitting import source_images, write_folds
from custom.datasets.builder import build_dataset
from custom.engine.runtime import load_config
from custom.errors import ConfigError
from custom.jobs.kfold import fold_overrides, parse_cfg_options
from custom.structures.masks import to_rle
from tests.helpers import REPO
from tests.helpers.json_source_writers import (
    corners,
    labelme_shape,
    make_coco,
    make_via_balloon,
    write_coco,
    write_labelme,
)
from tests.helpers.label_studio import make_label_studio_export

pytestmark = pytest.mark.usefixtures('mmdet_scope')


def make_labelme(root: Path) -> Path:
    """Three labelme files: a person in two grouped parts with an __ignore__ region, a car, an embedded
    image."""
    write_labelme(root, 'one', [labelme_shape('person', corners(10, 10, 12), group_id=3),
                                labelme_shape('person', corners(10, 30, 12), group_id=3),
                                labelme_shape('__ignore__', [[50, 10], [80, 40]], 'rectangle')])
    write_labelme(root, 'two', [labelme_shape('car', [[40, 40], [50, 40]], 'circle')], seed=1)
    write_labelme(root, 'three', [labelme_shape('person', corners(60, 20, 16))], seed=2, embed=True,
                  write_image_file=False)
    return root


# source -> (writes its data under a root, the data tool arguments for it); coco's classes default to the
# categories its annotations use (person, car, dog).
SOURCES = {
    'coco': (make_coco, ['--split', 'annotations/train.json', '--data-prefix', 'img=images/']),
    'labelme': (make_labelme, ['--classes', 'person', 'car']),
    'via': (lambda root: make_via_balloon(root, 'train', n_images=3),
            ['--split', 'train/via_region_data.json', '--data-prefix', 'img=train/', '--classes', 'balloon']),
}


def tool_config(source: str, root: Path) -> dict:
    """The dataset config the data tools build from ``SOURCES[source]``'s arguments."""
    parser = argparse.ArgumentParser()
    add_source_arguments(parser)
    return source_config_from_args(parser.parse_args([source, str(root), *SOURCES[source][1]]))


@pytest.mark.parametrize('source', sorted(SOURCES))
def test_round_trip_through_convert_to_coco_and_pycocotools_keeps_images_boxes_masks_and_ignore_flags(
        source, tmp_path):
    root = tmp_path / source
    SOURCES[source][0](root)
    out = tmp_path / 'export.json'
    convert_to_coco.main([source, str(root), *SOURCES[source][1], '--out', str(out)])

    original = build_dataset(tool_config(source, root), test_mode=True, pipeline=[])
    coco = COCO(str(out))
    classes = tuple(cat['name'] for cat in coco.loadCats(coco.getCatIds()))
    assert classes == original.metainfo['classes']
    back = build_dataset(dict(type='CocoJsonDataset', ann_file=str(out),
                              data_prefix=dict(img=original.data_prefix['img']),
                              metainfo=dict(classes=classes)),
                         test_mode=True, pipeline=[])
    assert len(back) == len(original) == len(coco.getImgIds()) == 3
    for index in range(len(original)):
        before, after = original.get_data_info(index), back.get_data_info(index)
        assert Path(after['img_path']).resolve() == Path(before['img_path']).resolve()
        assert (after['width'], after['height']) == (before['width'], before['height'])
        assert len(after['instances']) == len(before['instances'])
        for old, new in zip(before['instances'], after['instances'], strict=True):
            assert new['bbox'] == pytest.approx(old['bbox'])
            assert (new['bbox_label'], new['ignore_flag']) == (old['bbox_label'], old['ignore_flag'])
            height, width = before['height'], before['width']
            assert (to_rle(new['mask'], height, width, 'back')
                    == to_rle(old['mask'], height, width, 'original'))
    crowd = coco.loadAnns(coco.getAnnIds(iscrowd=True))
    expected_crowd = {'coco': 1, 'labelme': 2, 'via': 0}[source]  # labelme's __ignore__: once per class
    assert len(crowd) == expected_crowd


@pytest.mark.parametrize('source', sorted(SOURCES))
def test_make_splits_deals_each_sources_own_image_names_and_the_source_loads_them(source, tmp_path):
    root = tmp_path / source
    SOURCES[source][0](root)
    out = tmp_path / 'splits'
    make_splits.main([source, str(root), *SOURCES[source][1], '--train', '2', '--val', '1',
                      '--out-dir', str(out)])
    train = (out / 'train.txt').read_text().split()
    val = (out / 'val.txt').read_text().split()
    all_names = {'coco': {'a', 'b', 'c'}, 'labelme': {'one', 'two', 'three'},
                 'via': {'train_0', 'train_1', 'train_2'}}
    assert set(train) | set(val) == all_names[source] and len(train) == 2 and len(val) == 1
    split_arg = 'ann_file' if source == 'labelme' else 'split_file'  # ann_file is the json of coco and via
    dataset = build_dataset({**tool_config(source, root), split_arg: str(out / 'val.txt')}, test_mode=True,
                            pipeline=[])
    [info] = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert (Path(info['img_path']).stem if source == 'coco' else info['img_id']) == val[0]


def test_splits_refuse_names_split_files_cannot_tell_apart_and_mmdets_own_coco_dataset(tmp_path, capsys):
    json_path = make_coco(tmp_path)
    content = json.loads(json_path.read_text())
    content['images'][2]['file_name'] = 'night/a.jpg'  # two images named 'a' in different folders
    json_path.write_text(json.dumps(content))
    assert make_splits.main(['coco', str(tmp_path), *SOURCES['coco'][1], '--train', '2', '--val', '1']) == 1
    assert ("train.json: several images are named 'a': split files list images by name; rename them"
            in capsys.readouterr().err)
    stock = dict(type='CocoDataset', data_root=str(tmp_path), ann_file='annotations/train.json',
                 metainfo=dict(classes=('person',)))
    with pytest.raises(ConfigError, match=r'CocoDataset has no image names to split: .*CocoJsonDataset reads '
                                          r'the same COCO json'):
        write_folds(source_images(stock), tmp_path / 'folds', k=2)


def test_kfold_sets_split_file_for_the_json_sources_and_ann_file_for_the_others(tmp_path):
    make_via_balloon(tmp_path / 'balloon', 'train', n_images=4)
    make_via_balloon(tmp_path / 'balloon', 'val', n_images=1)
    cfg = load_config(REPO / 'configs' / 'via_balloon_maskrcnn.py',
                      {'train_dataloader.dataset.data_root': f'{tmp_path}/balloon/'}, work_dir='unused')
    folds = write_folds(source_images(cfg.train_dataloader.dataset), tmp_path / 'folds', k=2)
    overrides = fold_overrides(cfg, f'{tmp_path}/balloon/', folds[0])
    assert f'train_dataloader.dataset.split_file={folds[0]["train"].resolve()}' in overrides
    cfg.merge_from_dict(parse_cfg_options(overrides))
    # the fold's val images are in the training json: val reads that json with the fold's val names
    assert cfg.val_dataloader.dataset.ann_file == 'train/via_region_data.json'
    assert cfg.val_dataloader.dataset.data_prefix.img == 'train/'
    train = build_dataset(cfg.train_dataloader.dataset, pipeline=[], test_mode=True)
    val = build_dataset(cfg.val_dataloader.dataset, pipeline=[], test_mode=True)
    names = lambda d: sorted(d.get_data_info(i)['img_id'] for i in range(len(d)))  # noqa: E731
    assert names(train) == folds[0]['train'].read_text().split()
    assert names(val) == folds[0]['val'].read_text().split()
    assert len(train) + len(val) == 4

    pennfudan = load_config(REPO / 'configs' / 'pennfudan_maskrcnn.py', work_dir='unused')
    assert any('.ann_file=' in option for option in fold_overrides(pennfudan, '/data/', folds[0]))


def config_data(config: str, root: Path) -> None:
    """Tiny data in the layout each new config expects: 2 training images, 1 validation image."""
    if config.startswith('coco_json'):
        make_coco(root, 'annotations/train.json')  # b.jpg holds a crowd only: filtered from training
        content = json.loads((root / 'annotations' / 'train.json').read_text())
        if config == 'coco_json_fasterrcnn':  # boxes only: no annotation has a segmentation
            for annotation in content['annotations']:
                del annotation['segmentation']
            write_coco(root / 'annotations' / 'train.json', content['images'], content['annotations'],
                       content['categories'])
        write_coco(root / 'annotations' / 'val.json', content['images'][:1], content['annotations'][:2],
                   content['categories'])
    elif config == 'labelme_maskrcnn':
        make_labelme(root)
        (root / 'splits').mkdir()
        (root / 'splits' / 'train.txt').write_text('one\nthree\n')
        (root / 'splits' / 'val.txt').write_text('one\n')
    else:
        make_via_balloon(root, 'train')
        make_via_balloon(root, 'val', n_images=1)


@pytest.mark.slow
@pytest.mark.parametrize('config', ['coco_json_maskrcnn', 'coco_json_fasterrcnn', 'labelme_maskrcnn',
                                    'via_balloon_maskrcnn'])
def test_each_new_config_trains_an_iteration_and_validates_on_the_cpu(config, tmp_path):
    from custom.engine.runtime import TRAIN_LOADERS, build_runner

    config_data(config, tmp_path / 'data')
    cfg = load_config(REPO / 'configs' / f'{config}.py', work_dir=str(tmp_path / 'work'))
    cfg.load_from = None
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.visualization.draw = False
    cfg.default_hooks.checkpoint.update(interval=2, save_best=None)  # no 170 MB checkpoint to write
    # Fewer proposals and RoIs: an untrained model otherwise keeps 1000 proposals and 100 masks per image.
    cfg.model.train_cfg.rpn_proposal.max_per_img = 100
    cfg.model.train_cfg.rcnn.sampler.num = 64
    cfg.model.test_cfg.rpn.max_per_img = 100
    cfg.model.test_cfg.rcnn.max_per_img = 10
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.update(batch_size=2 if loader is cfg.train_dataloader else 1, num_workers=0,
                      persistent_workers=False)
        loader.dataset.data_root = f'{tmp_path}/data/'
        for step in loader.dataset.pipeline:
            if step.type == 'Resize':
                step.scale = (160, 128)  # small images keep the CPU step short
    runner = build_runner(cfg, TRAIN_LOADERS)
    runner.train()
    assert runner.train_loop.iter == 1
    with_masks = config.endswith('maskrcnn')  # coco_json_fasterrcnn: boxes only, trained and judged on boxes
    loss = 'train/loss_mask' if with_masks else 'train/loss_bbox'
    assert np.isfinite(runner.message_hub.get_scalar(loss).current())
    assert ('val/coco/segm_mAP' in runner.message_hub.log_scalars) == with_masks
    assert 'val/coco/bbox_mAP' in runner.message_hub.log_scalars


def test_the_label_studio_config_feeds_polygons_rectangles_and_a_brush_mask_through_the_training_pipeline(
        tmp_path):
    # The model is labelme_maskrcnn's (trained above); what differs is the data: an export with a brush (RLE)
    # mask beside polygons, split by name, through LoadAnnotations and the augmentations.
    make_label_studio_export(tmp_path)
    (tmp_path / 'splits').mkdir()
    (tmp_path / 'splits' / 'train.txt').write_text('a\nb\n')
    (tmp_path / 'splits' / 'val.txt').write_text('a\n')
    cfg = load_config(REPO / 'configs' / 'labelstudio_maskrcnn.py', work_dir='unused')
    cfg.train_dataloader.dataset.data_root = cfg.val_dataloader.dataset.data_root = f'{tmp_path}/'
    cfg.train_dataloader.dataset.metainfo = dict(classes=('person', 'car'))
    train = build_dataset(cfg.train_dataloader.dataset)
    assert len(train) == 2
    for index in range(2):
        sample = train[index]['data_samples']
        masks = sample.gt_instances.masks
        assert len(masks) == 2 and masks.to_ndarray().reshape(2, -1).any(axis=1).all()
    val = build_dataset(cfg.val_dataloader.dataset, test_mode=True)
    assert [val.get_data_info(0)['img_path']] == [str(tmp_path / 'images' / 'a.jpg')]
