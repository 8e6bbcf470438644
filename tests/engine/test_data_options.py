"""--data-root, --classes and --img-scale set everywhere a config uses them, a user's own config in its own
folder over the project's bases (custom::), and the loader workers a machine can run
(custom/engine/runtime.py, custom/engine/config_scope.py)."""

from pathlib import Path

import pytest

from custom.datasets.builder import build_dataset, configured_datasets
from custom.engine.config_checks import check_num_classes, head_num_classes
from custom.engine.runtime import load_config
from custom.errors import ConfigError, MissingFileError
from tests.helpers import REPO
from tests.helpers.json_source_writers import corners, labelme_shape, make_via_balloon, write_labelme
from tests.helpers.tool_runs import run_tool

CLASSES = ('cat', 'dog', 'bird')


def datasets_of(cfg) -> list[dict]:
    return [dataset for _, dataset in configured_datasets(cfg)]


@pytest.mark.parametrize('config', ['pennfudan_maskrcnn.py', 'pennfudan_cascade_maskrcnn.py',
                                    'pennfudan_mask2former.py', 'mixed_pedestrian_maskrcnn.py'])
def test_classes_flag_sets_every_dataset_and_every_head(config):
    cfg = load_config(REPO / 'configs' / config, work_dir='unused', classes=CLASSES)
    assert {tuple(dataset['metainfo']['classes']) for dataset in datasets_of(cfg)} == {CLASSES}
    heads = head_num_classes(cfg.model)
    assert heads and set(heads.values()) == {3}
    check_num_classes(cfg)  # what stops a run whose heads and datasets disagree
    if config == 'pennfudan_mask2former.py':  # one loss weight per class, then 'no object'
        assert cfg.model.panoptic_head.loss_cls.class_weight == [1.0, 1.0, 1.0, 0.1]


def test_data_root_flag_points_every_dataset_through_wrappers_at_the_folder(tmp_path):
    cfg = load_config(REPO / 'configs' / 'mixed_pedestrian_maskrcnn.py', work_dir='unused',
                      data_root=tmp_path / 'mine')
    roots = [dataset['data_root'] for dataset in datasets_of(cfg)]
    assert len(roots) == 5 and set(roots) == {f'{tmp_path}/mine/'}  # 3 concatenated sources, val, test


def test_the_balloon_layout_needs_one_flag(tmp_path):
    """MMDetection's balloon tutorial layout (train/ and val/, each a VIA json beside its images)."""
    make_via_balloon(tmp_path / 'balloon', 'train', n_images=3)
    make_via_balloon(tmp_path / 'balloon', 'val', n_images=2)
    cfg = load_config(REPO / 'configs' / 'via_balloon_maskrcnn.py', work_dir='unused',
                      data_root=tmp_path / 'balloon')
    sizes = [len(build_dataset(loader.dataset)) for loader in (cfg.train_dataloader, cfg.val_dataloader)]
    assert sizes == [3, 2]


def test_img_scale_flag_resizes_in_every_pipeline():
    cfg = load_config(REPO / 'configs' / 'pennfudan_maskrcnn_ms.py', work_dir='unused', img_scale=(666, 400))
    steps = [step for dataset in datasets_of(cfg) for step in dataset['pipeline'] if 'Resize' in step['type']]
    assert {step['type'] for step in steps} == {'RandomResize', 'Resize'}
    for step in steps:
        if step['type'] == 'Resize':
            assert tuple(step['scale']) == (666, 400)
        else:  # the multi-scale range, shrunk by the factor that takes 1333x800 to 666x400
            assert [tuple(scale) for scale in step['scale']] == [(666, 320), (666, 400)]


def test_loader_workers_are_at_most_the_cores(monkeypatch):
    monkeypatch.setattr('os.sched_getaffinity', lambda pid: {0, 1})
    cfg = load_config(REPO / 'configs' / 'pennfudan_maskrcnn.py', work_dir='unused')  # asks for 4 and 2
    assert (cfg.train_dataloader.num_workers, cfg.val_dataloader.num_workers) == (2, 2)


def write_user_config(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'my_config.py').write_text(text)
    return folder / 'my_config.py'


def make_labelme_folder(root: Path) -> Path:
    """Four labelme files with cats and dogs, split 3 train / 1 val."""
    for index in range(4):
        write_labelme(root, f'img{index}', [labelme_shape('cat', corners(8 + index, 10, 20)),
                                            labelme_shape('dog', corners(50, 30, 16 + index))], seed=index)
    (root / 'splits').mkdir()
    (root / 'splits' / 'train.txt').write_text('img0\nimg1\nimg2\n')
    (root / 'splits' / 'val.txt').write_text('img3\n')
    return root


@pytest.mark.slow
def test_a_users_config_in_its_own_folder_sets_data_root_and_classes_once_and_trains(tmp_path):
    data = make_labelme_folder(tmp_path / 'pets')
    config = write_user_config(tmp_path / 'my_project', (
        "_base_ = 'custom::labelme_maskrcnn.py'\n"
        f"data_root = '{data}/'\n"
        "classes = ('cat', 'dog')\n"
        'load_from = None  # offline test: no COCO checkpoint\n'))
    cfg = load_config(config, work_dir='unused')
    assert {dataset['data_root'] for dataset in datasets_of(cfg)} == {f'{data}/'}
    assert {tuple(dataset['metainfo']['classes']) for dataset in datasets_of(cfg)} == {('cat', 'dog')}
    assert set(head_num_classes(cfg.model).values()) == {2}
    assert len(build_dataset(cfg.train_dataloader.dataset)) == 3

    work_dir = tmp_path / 'work'
    run_tool('train.py', str(config), '--work-dir', str(work_dir), '--img-scale', '96', '72', '--cfg-options',
             'train_cfg.max_epochs=1', 'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
             'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
             'val_dataloader.persistent_workers=False', 'default_hooks.visualization.draw=False')
    assert list(work_dir.glob('epoch_1.pth'))


def test_a_top_level_data_root_that_fits_no_single_source_is_refused(tmp_path):
    config = write_user_config(tmp_path, "_base_ = 'custom::mixed_pedestrian_maskrcnn.py'\n"
                                         "data_root = 'data/elsewhere/'\n")
    with pytest.raises(ConfigError, match="data_root = 'data/elsewhere/' at the top of the config matches "
                                          'none of its 5 datasets, which have 3 different ones'):
        load_config(config)


def test_an_unknown_project_config_is_named(tmp_path):
    config = write_user_config(tmp_path, "_base_ = 'custom::labelme_maskrnn.py'\n")
    with pytest.raises(MissingFileError, match=r'custom::labelme_maskrnn\.py: no such project config'):
        load_config(config)


def test_the_config_a_run_dumps_reads_back_with_the_datasets_it_ran_on(tmp_path):
    """Datasets pointed elsewhere with --cfg-options: the top-level data_root follows them into the dump, so
    tools that read a run's dumped config (run report, analysis) see the run's data, not the file's."""
    moved = f'{tmp_path}/elsewhere/'
    options = {f'{loader}.dataset.data_root': moved for loader in ('train_dataloader', 'val_dataloader',
                                                                    'test_dataloader')}
    cfg = load_config(REPO / 'configs' / 'pennfudan_maskrcnn.py', options, work_dir='unused')
    cfg.dump(tmp_path / 'dumped.py')
    again = load_config(tmp_path / 'dumped.py', work_dir='unused')
    assert {dataset['data_root'] for dataset in datasets_of(again)} == {moved}
