"""Every config in configs/: MMDetection's model and COCO checkpoint with only what must differ, both from its
one model base, and one training iteration plus one validation pass on tiny synthetic data on the CPU, from
random weights."""

import ast
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from custom.datasets.builder import configured_datasets
from custom.engine.model_zoo import mmdet_model, zoo_checkpoint
from custom.engine.runtime import TRAIN_LOADERS, adapt_to_device, build_runner
from tests.helpers import REPO
from tests.helpers.source_writers import make_kitti, make_voc_with_masks

CONFIGS = sorted(path.name for path in (REPO / 'configs').glob('*.py'))
# Configs whose training on tiny data another test already runs (so this file does not repeat it): the mixed
# sources in tests/datasets/test_mixed_sources.py, the json sources in tests/datasets/test_json_sources.py
# (labelstudio_maskrcnn is labelme_maskrcnn's model: there its data goes through the training pipeline),
# the CPU demo in the tool tests (tests/tools/test_tools.py and others).
TRAINED_ELSEWHERE = {'mixed_pedestrian_maskrcnn.py', 'pennfudan_demo_cpu.py', 'coco_json_maskrcnn.py',
                     'coco_json_fasterrcnn.py', 'labelme_maskrcnn.py', 'via_balloon_maskrcnn.py',
                     'labelstudio_maskrcnn.py'}

# The MMDetection config whose model and COCO checkpoint each fine-tuning config takes.
MMDET_CONFIG = {
    'pennfudan_maskrcnn.py': 'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    'pennfudan_maskrcnn_ms.py': 'mask_rcnn/mask-rcnn_r50_fpn_ms-poly-3x_coco.py',
    'pennfudan_maskrcnn_r101.py': 'mask_rcnn/mask-rcnn_r101_fpn_1x_coco.py',
    'pennfudan_maskrcnn_x101.py': 'mask_rcnn/mask-rcnn_x101-32x4d_fpn_1x_coco.py',
    'pennfudan_cascade_maskrcnn.py': 'cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py',
    'pennfudan_pointrend.py': 'point_rend/point-rend_r50-caffe_fpn_ms-1x_coco.py',
    'pennfudan_rtmdet_ins_tiny.py': 'rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py',
    'pennfudan_rtmdet_ins_s.py': 'rtmdet/rtmdet-ins_s_8xb32-300e_coco.py',
    'pennfudan_solov2.py': 'solov2/solov2_r50_fpn_1x_coco.py',
    'pennfudan_mask2former.py': 'mask2former/mask2former_r50_8xb2-lsj-50e_coco.py',
    'mixed_pedestrian_maskrcnn.py': 'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    'coco_json_maskrcnn.py': 'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    'labelme_maskrcnn.py': 'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    'via_balloon_maskrcnn.py': 'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    'labelstudio_maskrcnn.py': 'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    'voc_maskrcnn.py': 'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    'kitti_fasterrcnn.py': 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'coco_json_fasterrcnn.py': 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'kitti_retinanet.py': 'retinanet/retinanet_r50_fpn_1x_coco.py',
    'kitti_rtmdet_tiny.py': 'rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
    'voc_fasterrcnn.py': 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'voc_retinanet.py': 'retinanet/retinanet_r50_fpn_1x_coco.py',
    'voc_rtmdet_tiny.py': 'rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
}
MODEL_BASES = REPO / 'configs' / '_base_' / 'models'
# Configs that change the checkpoint of the config they are built on: the multi-scale variant takes
# MMDetection's multi-scale (3x) checkpoint, the CPU demo trains from scratch.
OWN_CHECKPOINT = {'pennfudan_maskrcnn_ms.py', 'pennfudan_demo_cpu.py'}
# What a fine-tuning config may change in MMDetection's model: its classes, the ImageNet initialisation and
# how a batch is padded.
MAY_DIFFER = re.compile(r'(num_classes|num_things_classes|class_weight|init_cfg|pad_size_divisor|pad_mask)$')
# In the CPU runs every input size shrinks by this factor (1333x800 -> 133x80, the size of the test images).
SHRINK = 0.1
# ... and the models keep fewer proposals, sampled RoIs and detections: an untrained model keeps its maximum
# of detections per image, which would make validation slower than training.
FEWER = {'nms_pre': 200, 'max_per_img': 50, 'max_per_image': 50, 'num': 64}
# Random weights predict little that passes the trained models' filters: RTMDet's initial scores (~0.01) are
# below its score_thr 0.05 and its random box distances can be negative (min_bbox_size -1 turns off the size
# filter); SOLOv2's random mask logits are below its mask_thr 0.5 (it keeps no mask) and its matrix NMS decays
# the scores of such look-alike masks below filter_thr 0.05.
KEEP_ALL = {'score_thr': 0.0, 'min_bbox_size': -1, 'mask_thr': 0.0, 'filter_thr': 0.0}


def load(name: str) -> Config:
    return Config.fromfile(REPO / 'configs' / name)


def assigned(path: Path) -> dict[str, ast.expr]:
    """The names a config file assigns at its top level (not what it inherits), with their expressions."""
    return {target.id: node.value for node in ast.parse(path.read_text()).body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)}


def model_base(path: Path) -> Path:
    """The one model base (configs/_base_/models/) a config is built on, directly or through the config it
    changes; MMDetection's own files (mmdet::) are left out."""
    listed = ast.literal_eval(assigned(path)['_base_'])
    bases = [(path.parent / name).resolve() for name in ([listed] if isinstance(listed, str) else listed)
             if '::' not in name]
    models = [base for base in bases if base.parent == MODEL_BASES]
    if models:
        [found] = models
        return found
    [changed] = bases  # a config that changes another config has it as its one base
    return model_base(changed)


def differences(ours: object, theirs: object, path: str = '') -> list[str]:
    """Paths where two model configs differ (leaves, missing or extra keys); mmengine's '_scope_' marks where
    a section came from, not what it is."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return [diff for key in (ours.keys() | theirs.keys()) - {'_scope_'}
                for diff in differences(ours.get(key, '<missing>'), theirs.get(key, '<missing>'),
                                        f'{path}.{key}')]
    if isinstance(ours, list | tuple) and isinstance(theirs, list | tuple) and len(ours) == len(theirs):
        return [diff for index, (a, b) in enumerate(zip(ours, theirs, strict=True))
                for diff in differences(a, b, f'{path}[{index}]')]
    return [] if ours == theirs else [path]


def pretrained_inits(node: object) -> list[str]:
    """Every checkpoint a model config would load while it initialises (init_cfg of type Pretrained)."""
    if isinstance(node, dict):
        found = [node['checkpoint']] if node.get('type') == 'Pretrained' else []
        return found + [c for value in node.values() for c in pretrained_inits(value)]
    if isinstance(node, list | tuple):
        return [c for item in node for c in pretrained_inits(item)]
    return []


def test_every_fine_tuning_config_is_listed_with_the_mmdetection_config_it_comes_from():
    fine_tuned = {name for name in CONFIGS if load(name).get('load_from')}
    assert fine_tuned == set(MMDET_CONFIG)


@pytest.mark.parametrize('name', CONFIGS)
def test_checkpoint_and_model_come_from_one_model_base_and_only_the_classes_are_the_configs(name):
    path = REPO / 'configs' / name
    base = Config.fromfile(model_base(path))
    assert ('load_from' in assigned(path)) == (name in OWN_CHECKPOINT)
    if name not in OWN_CHECKPOINT:
        assert load(name).load_from == base.load_from


@pytest.mark.parametrize('name', sorted(MMDET_CONFIG))
def test_config_is_mmdetections_model_and_coco_checkpoint_with_only_the_classes_changed(name):
    cfg = load(name)
    assert cfg.load_from == zoo_checkpoint(MMDET_CONFIG[name])
    changed = differences(cfg.model.to_dict(), mmdet_model(MMDET_CONFIG[name]))
    assert [path for path in changed if not MAY_DIFFER.search(path)] == []
    # Only load_from's file is needed: no ImageNet backbone (torchvision:// cannot load without torchvision).
    assert pretrained_inits(cfg.model.to_dict()) == []


def shrink_inputs(node: object, factor: float) -> object:
    """Every resize scale and fixed pad size in a config section, multiplied by ``factor``."""
    if isinstance(node, dict):
        return {key: scaled(value, factor) if key in ('scale', 'size') else shrink_inputs(value, factor)
                for key, value in node.items()}
    if isinstance(node, list | tuple):
        return type(node)(shrink_inputs(item, factor) for item in node)
    return node


def fewer_boxes(node: object) -> object:
    """A train_cfg or test_cfg with the limits in FEWER and the filters in KEEP_ALL, so that a model with
    random weights still predicts something to evaluate."""
    if isinstance(node, dict):
        return {key: KEEP_ALL[key] if key in KEEP_ALL else
                min(value, FEWER[key]) if key in FEWER and isinstance(value, int) else fewer_boxes(value)
                for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [fewer_boxes(item) for item in node]
    return node


def scaled(size: object, factor: float) -> object:
    if isinstance(size, list):
        return [scaled(item, factor) for item in size]
    return tuple(round(side * factor) for side in size)


def write_sources(tmp_path: Path, pennfudan_factory) -> dict[str, Path]:
    """A tiny data set per source type, with the split files its configs name."""
    pennfudan = pennfudan_factory(tmp_path / 'PennFudanPed', n_images=4)  # 2 train, 2 val
    kitti = tmp_path / 'kitti'
    make_kitti(kitti / 'training')
    (kitti / 'ImageSets').mkdir()
    (kitti / 'ImageSets' / 'train.txt').write_text('000000\n000002\n')
    (kitti / 'ImageSets' / 'val.txt').write_text('000001\n000002\n')
    voc = make_voc_with_masks(tmp_path / 'voc')
    for split_dir in ('Main', 'Segmentation'):
        for split in ('train', 'val'):
            path = voc / 'ImageSets' / split_dir / f'{split}.txt'
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text('2008_000001\n2008_000002\n')
    return {'PennFudanDataset': pennfudan, 'KittiDataset': kitti, 'VOCXMLDataset': voc}


def tiny_cpu_run(cfg: Config, name: str, roots: dict[str, Path], work_dir: Path) -> Config:
    """The config on the tiny data sets: random weights, small inputs, one epoch, in this process."""
    cfg.load_from = None
    cfg.model = shrink_inputs(cfg.model, SHRINK)
    for section in ('train_cfg', 'test_cfg'):
        cfg.model[section] = fewer_boxes(cfg.model.get(section, {}))
    for _, dataset in configured_datasets(cfg):
        dataset.data_root = f'{roots[dataset.type]}/'
        dataset.pipeline = shrink_inputs(dataset.pipeline, SHRINK)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].update(num_workers=0, persistent_workers=False)
    cfg.train_dataloader.batch_size = 2
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.default_hooks.visualization.draw = False
    cfg.default_hooks.checkpoint = None  # saving is not what this test checks
    cfg.experiment_name = f'zoo_{Path(name).stem}'
    # Random weights, but the same ones every run: whether an untrained model predicts anything valid to
    # evaluate depends on them (RTMDet's box distances, for one, start with a random sign).
    cfg.randomness = dict(seed=0)
    cfg.work_dir = str(work_dir)
    adapt_to_device(cfg)
    return cfg


def trains_on_masks(cfg: Config) -> bool:
    return any(step['type'] == 'LoadAnnotations' and step.get('with_mask')
               for _, dataset in configured_datasets(cfg, ('train_dataloader',)) for step in dataset.pipeline)


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(set(CONFIGS) - TRAINED_ELSEWHERE))
def test_config_trains_one_iteration_and_validates_on_the_cpu(name, tmp_path, pennfudan_factory):
    cfg = tiny_cpu_run(load(name), name, write_sources(tmp_path, pennfudan_factory), tmp_path / 'work')
    with_masks = trains_on_masks(cfg)
    metrics = list(cfg.val_evaluator.metric)
    assert ('segm' in metrics) == with_masks  # a mask model is judged by its masks, a box model by its boxes

    runner = build_runner(cfg, TRAIN_LOADERS)
    runner.train()

    scalars = runner.message_hub.log_scalars
    assert runner.train_loop.iter >= 1
    assert all(torch.isfinite(torch.tensor(buffer.current())) for key, buffer in scalars.items()
               if key.startswith('train/loss'))
    for metric in metrics:
        assert f'val/coco/{metric}_mAP' in scalars
    assert ('val/coco/segm_mAP' in scalars) == with_masks
    if with_masks:
        # The project's RLE masks reach the model as non-empty bitmaps and the mask loss uses them.
        samples = next(iter(runner.train_dataloader))['data_samples']
        for sample in samples:
            masks = sample.gt_instances.masks
            assert len(masks) == len(sample.gt_instances.labels) > 0
            assert (masks.areas > 0).all()
        mask_losses = [key for key in scalars if key.startswith('train/') and key.endswith('loss_mask')]
        assert mask_losses and all(scalars[key].current() > 0 for key in mask_losses)
