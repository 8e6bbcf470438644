"""Penn-Fudan + VOC-XML + KITTI in one ConcatDataset, as configs/mixed_pedestrian_maskrcnn.py sets it up."""


import pytest
from mmdet.registry import DATASETS
from mmengine.config import Config
from mmengine.registry import DefaultScope

import custom.datasets.kitti  # noqa: F401  (registers KittiDataset)
import custom.datasets.pennfudan  # noqa: F401
import custom.datasets.voc_xml  # noqa: F401
from tests.helpers import REPO
from tests.helpers.source_writers import make_kitti, make_voc_with_masks


@pytest.fixture
def mixed_cfg(pennfudan_root, tmp_path) -> Config:
    """The mixed config with its three data roots pointed at tiny synthetic data sets."""
    voc_root = make_voc_with_masks(tmp_path / 'voc')
    (voc_root / 'ImageSets' / 'Segmentation').mkdir(parents=True)
    (voc_root / 'ImageSets' / 'Segmentation' / 'train.txt').write_text('2008_000001\n2008_000002\n')
    kitti_root = tmp_path / 'kitti'
    make_kitti(kitti_root / 'training')
    (kitti_root / 'ImageSets').mkdir()
    (kitti_root / 'ImageSets' / 'train.txt').write_text('000000\n000001\n000002\n')
    cfg = Config.fromfile(REPO / 'configs' / 'mixed_pedestrian_maskrcnn.py')
    for source, root in zip(
        cfg.train_dataloader.dataset.datasets, (pennfudan_root, voc_root, kitti_root), strict=False
    ):
        source.data_root = str(root)
    return cfg


def test_mixed_config_keeps_one_pedestrian_class_everywhere(mixed_cfg):
    assert mixed_cfg.custom_imports == dict(imports=['custom'], allow_failed_imports=False)
    heads = mixed_cfg.model.roi_head
    assert heads.bbox_head.num_classes == heads.mask_head.num_classes == 1
    sources = mixed_cfg.train_dataloader.dataset.datasets
    assert [s.type for s in sources] == ['PennFudanDataset', 'VOCXMLDataset', 'KittiDataset']
    assert all(s.metainfo.classes == ('pedestrian',) for s in sources)
    assert mixed_cfg.val_evaluator.ann_file is None
    assert 'instances' in mixed_cfg.val_dataloader.dataset.pipeline[-1].meta_keys


def test_mixed_concat_dataset_builds_with_consistent_metainfo_and_masks_for_every_sample(mixed_cfg):
    with DefaultScope.overwrite_default_scope('mmdet'):
        concat = DATASETS.build(mixed_cfg.train_dataloader.dataset)
    penn, voc, kitti = concat.datasets
    assert penn.metainfo == voc.metainfo == kitti.metainfo == concat.metainfo
    assert concat.metainfo['classes'] == ('pedestrian',)
    # VOC: the person of each image (dogs skipped); KITTI: 000001 has no pedestrian and is filtered out.
    assert (len(penn), len(voc), len(kitti)) == (4, 2, 2)
    assert [len(voc.get_data_info(i)['instances']) for i in range(2)] == [1, 1]
    kitti_labels = [(inst['bbox_label'], inst['ignore_flag']) for inst in kitti.get_data_info(1)['instances']]
    assert kitti_labels == [(0, 1), (0, 0)]  # Cyclist -> ignored region, Pedestrian -> pedestrian
    for index in (0, 4, 6):  # one sample of each source through the Mask R-CNN training pipeline
        sample = concat[index]['data_samples']
        assert len(sample.gt_instances) >= 1
        assert sample.gt_instances.masks.masks.shape[0] == len(sample.gt_instances.labels)
        assert set(sample.gt_instances.labels.tolist()) == {0}


def test_concat_refuses_a_source_with_different_classes(mixed_cfg):
    voc = mixed_cfg.train_dataloader.dataset.datasets[1]
    voc.metainfo = dict(voc.metainfo, classes=('person',))
    voc.class_map = None
    with (
        DefaultScope.overwrite_default_scope('mmdet'),
        pytest.raises(ValueError, match='2-th dataset does not match'),
    ):
        DATASETS.build(mixed_cfg.train_dataloader.dataset)


@pytest.mark.slow
def test_mixed_config_trains_and_validates_on_all_three_sources(mixed_cfg, pennfudan_root, tmp_path):
    from custom.engine.runtime import TRAIN_LOADERS, build_runner

    cfg = mixed_cfg
    cfg.work_dir = str(tmp_path / 'work')
    cfg.load_from = None
    cfg.model.backbone.init_cfg = None
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.visualization.draw = False
    cfg.train_dataloader.update(batch_size=3, num_workers=0, persistent_workers=False, pin_memory=False)
    for source in cfg.train_dataloader.dataset.datasets:
        source.pipeline[2].scale = (160, 128)  # Resize: small images keep the CPU step short
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        loader.update(num_workers=0, persistent_workers=False, pin_memory=False)
        loader.dataset.data_root = f'{pennfudan_root}/'
        loader.dataset.pipeline[1].scale = (160, 128)
    runner = build_runner(cfg, TRAIN_LOADERS)
    runner.train()
    assert len(runner.train_dataloader.dataset.datasets) == 3
    assert runner.train_loop.iter == len(runner.train_dataloader) > 0
    assert 'val/coco/segm_mAP' in runner.message_hub.log_scalars
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()


def test_coco_labelme_and_via_sources_join_the_mixed_config_as_pedestrians(mixed_cfg, tmp_path):
    from tests.helpers.json_source_writers import (
        corners,
        labelme_shape,
        make_coco,
        make_via_balloon,
        write_labelme,
    )

    make_coco(tmp_path / 'coco')
    write_labelme(tmp_path / 'labelme', 'walkers', [labelme_shape('walker', corners(10, 10, 20)),
                                                    labelme_shape('__ignore__', corners(50, 10, 20))])
    make_via_balloon(tmp_path / 'via', 'train')
    pipeline = mixed_cfg.train_dataloader.dataset.datasets[0].pipeline
    common = dict(metainfo=mixed_cfg.metainfo, pipeline=pipeline)
    mixed_cfg.train_dataloader.dataset.datasets += [
        dict(type='CocoJsonDataset', data_root=str(tmp_path / 'coco'), ann_file='annotations/train.json',
             data_prefix=dict(img='images/'), class_map=dict(person='pedestrian'), **common),
        dict(type='LabelmeDataset', data_root=str(tmp_path / 'labelme'), ann_file='',
             class_map=dict(walker='pedestrian'), **common),
        dict(type='VIADataset', data_root=str(tmp_path / 'via'), ann_file='train/via_region_data.json',
             data_prefix=dict(img='train/'), **common),  # no class attribute: every region a pedestrian
    ]
    with DefaultScope.overwrite_default_scope('mmdet'):
        concat = DATASETS.build(mixed_cfg.train_dataloader.dataset)
    coco, labelme, via = concat.datasets[3:]
    assert (len(coco), len(labelme), len(via)) == (3, 1, 2)
    first = sum(len(d) for d in concat.datasets[:3])
    for index in (first, first + 3, first + 4):  # one sample of each new source through the pipeline
        sample = concat[index]['data_samples']
        assert sample.gt_instances.masks.masks.shape[0] == len(sample.gt_instances.labels) >= 1
        assert set(sample.gt_instances.labels.tolist()) == {0}
    assert len(concat[first + 3]['data_samples'].ignored_instances) == 1  # labelme's __ignore__ region
