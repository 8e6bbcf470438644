"""Config mistakes stop before training with one clear message (custom/engine/config_checks.py)."""

import pytest

from custom.engine.config_checks import check_config
from custom.engine.runtime import TRAIN_LOADERS, build_runner, load_config
from custom.errors import ConfigError
from tests.helpers import REPO
from tests.helpers.tool_runs import DEMO_CONFIG, run_tool, tiny_options, tiny_overrides


def demo_config(data_root, **overrides):
    return load_config(DEMO_CONFIG, {**tiny_overrides(data_root), **overrides}, work_dir='unused')


def test_demo_config_on_existing_data_passes_every_check(pennfudan_root):
    check_config(demo_config(pennfudan_root))  # the class-agnostic rpn_head (num_classes=1) is not compared


def test_num_classes_differing_from_metainfo_classes_names_head_and_classes(pennfudan_root):
    cfg = demo_config(pennfudan_root, **{'model.roi_head.mask_head.num_classes': 2})
    with pytest.raises(ConfigError) as error:
        build_runner(cfg, TRAIN_LOADERS)
    assert str(error.value) == (
        "model.roi_head.mask_head.num_classes is 2 but train_dataloader.dataset.metainfo has 1 classes "
        "('pedestrian',): set num_classes=1 in every head (--classes sets the classes of every dataset and "
        'head at once).')


def test_missing_data_root_names_the_setting_and_how_to_fix_it(pennfudan_root, tmp_path):
    missing = tmp_path / 'nowhere'
    cfg = demo_config(pennfudan_root, **{'val_dataloader.dataset.data_root': str(missing)})
    with pytest.raises(ConfigError) as error:
        build_runner(cfg, TRAIN_LOADERS)
    assert str(error.value) == (
        f"1 datasets of the config read folders that do not exist:\n  val_dataloader.dataset.data_root: "
        f"'{missing}'\nPut the data there (Penn-Fudan: python tools/download_pennfudan.py fetches it), or "
        "set each dataset's own, e.g. --cfg-options val_dataloader.dataset.data_root=DIR (--data-root DIR "
        'points every dataset at one folder).')


def test_dataset_type_typo_suggests_the_registered_name(pennfudan_root):
    cfg = demo_config(pennfudan_root, **{'train_dataloader.dataset.type': 'PennFudanDatset'})
    with pytest.raises(ConfigError, match=r"train_dataloader\.dataset\.type: unknown dataset type "
                                          r"'PennFudanDatset'\. Did you mean PennFudanDataset"):
        build_runner(cfg, TRAIN_LOADERS)


def test_mistakes_inside_concat_and_repeat_datasets_name_their_nested_location(pennfudan_root, tmp_path):
    cfg = demo_config(pennfudan_root)
    good = cfg.train_dataloader.dataset.to_dict()
    bad_root = dict(good, data_root=str(tmp_path / 'gone'))
    typo = dict(good, type='KittiDatset')
    cfg.train_dataloader.dataset = dict(
        type='ConcatDataset', datasets=[good, dict(type='RepeatDataset', times=2, dataset=bad_root)])
    with pytest.raises(ConfigError, match=r'train_dataloader\.dataset\.datasets\[1\]\.dataset\.data_root: '):
        check_config(cfg)

    cfg.train_dataloader.dataset.datasets[0] = typo
    with pytest.raises(ConfigError, match=r"datasets\[0\]\.type: unknown dataset type 'KittiDatset'\. "
                                          r'Did you mean KittiDataset'):
        check_config(cfg)

    wrong_classes = dict(good, metainfo=dict(classes=('pedestrian', 'cyclist')))
    cfg.train_dataloader.dataset.datasets = [good, dict(type='RepeatDataset', times=2, dataset=wrong_classes)]
    nested = r'train_dataloader\.dataset\.datasets\[1\]\.dataset'
    with pytest.raises(ConfigError, match=rf'{nested}\.metainfo has 2'):
        check_config(cfg)


@pytest.mark.parametrize('override, message', [
    ('train_dataloader.dataset.type=PennFudanDatset', 'Did you mean PennFudanDataset'),
    ('model.roi_head.bbox_head.num_classes=3', 'model.roi_head.bbox_head.num_classes is 3'),
])
def test_train_tool_reports_config_mistakes_in_one_line_without_traceback(pennfudan_root, tmp_path, override,
                                                                            message):
    process = run_tool('train.py', DEMO_CONFIG, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                       *tiny_options(pennfudan_root), override, check=False)
    assert process.returncode == 1
    lines = process.stderr.strip().splitlines()
    assert lines[-1].startswith('error: ') and message in lines[-1]
    assert 'Traceback' not in process.stderr + process.stdout
    assert not (tmp_path / 'work').exists() or not list((tmp_path / 'work').rglob('*.pth'))


def test_train_tool_reports_every_missing_data_root_once_with_the_flag_that_fixes_them(tmp_path):
    missing = tmp_path / 'no_data'
    process = run_tool('train.py', DEMO_CONFIG, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                       *tiny_options(missing), check=False)
    assert process.returncode == 1
    error = process.stderr[process.stderr.index('error: '):]
    assert error.startswith('error: 2 datasets of the config read folders that do not exist')  # train, val
    for loader in ('train_dataloader', 'val_dataloader'):  # tools/train.py reads these two
        assert error.count(f"{loader}.dataset.data_root: '{missing}/'") == 1
    assert 'point every dataset at your folder with --data-root DIR' in error
    assert 'Traceback' not in process.stderr


def test_a_missing_data_root_gets_only_the_hints_of_its_own_source():
    cfg = load_config(REPO / 'configs' / 'labelme_maskrcnn.py', work_dir='unused')
    with pytest.raises(ConfigError) as error:
        check_config(cfg)
    message = str(error.value)
    assert message.startswith('3 datasets of the config read folders that do not exist')
    assert 'Penn-Fudan' not in message and 'download' not in message
    assert message.endswith('or point every dataset at your folder with --data-root DIR.')
