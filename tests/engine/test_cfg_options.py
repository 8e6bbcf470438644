"""--cfg-options that would change nothing, name a misspelt key or give a value of another kind are refused
before anything runs (custom/engine/cfg_options.py)."""

import pytest

from custom.engine.runtime import load_config
from custom.errors import ConfigError
from tests.helpers.tool_runs import DEMO_CONFIG, run_tool

PENNFUDAN = 'configs/pennfudan_maskrcnn.py'


@pytest.mark.parametrize('option, message', [
    # A variable the file used when it was read: the error names the keys that hold its value.
    ({'max_epochs': 2}, 'max_epochs is a variable of the config file, used when the file was read, so '
                        'setting it now changes nothing. Set the keys that hold its value (12) instead: '
                        'train_cfg.max_epochs, param_scheduler.1.end'),
    ({'classes': ('person', 'dog')}, 'Use --classes NAME [NAME ...] instead, which sets it everywhere'),
    ({'data_root': 'data/mine/'}, 'Use --data-root DIR instead'),
    ({'num_epochs': 2}, "the config has no key 'num_epochs'"),
    ({'train_cfg.max_epoch': 2}, 'the config has no train_cfg.max_epoch; did you mean train_cfg.max_epochs?'),
    ({'train_dataloader.batch_size': 'abc'}, 'train_dataloader.batch_size=abc: expected a number (the config '
                                             'has 2)'),
    ({'param_scheduler.5.end': 3}, 'param_scheduler is a list of 2 items, so 5 is not one of its indices'),
])
def test_options_that_would_change_nothing_or_fail_later_are_refused(option, message):
    with pytest.raises(ConfigError, match='--cfg-options') as error:
        load_config(PENNFUDAN, option, work_dir='unused')
    assert message in str(error.value)


def test_new_keys_and_values_of_the_right_kind_pass():
    cfg = load_config(PENNFUDAN, {'train_cfg.max_epochs': 2, 'optim_wrapper.clip_grad': {'max_norm': 5.0},
                                  'model.backbone.frozen_stages': 2, 'load_from': None}, work_dir='unused')
    assert cfg.train_cfg.max_epochs == 2 and cfg.optim_wrapper.clip_grad == {'max_norm': 5.0}


@pytest.mark.parametrize('option, message', [
    ('classes=(cat,dog)', 'classes is a variable of the config file'),
    ('data_root=data/mine/', 'Use --data-root DIR instead'),
    ('train_cfg.max_epoch=2', 'did you mean train_cfg.max_epochs?'),
])
def test_train_tool_refuses_them_in_one_line_before_training(tmp_path, option, message):
    process = run_tool('train.py', DEMO_CONFIG, '--work-dir', str(tmp_path / 'work'), '--cfg-options', option,
                       check=False)
    assert process.returncode == 1
    assert process.stderr.strip().splitlines()[-1].startswith(f'error: --cfg-options {option.split("=")[0]}')
    assert message in process.stderr and 'Traceback' not in process.stderr
    assert not (tmp_path / 'work').exists()
