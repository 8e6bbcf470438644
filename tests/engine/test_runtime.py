"""How tools/train.py and tools/test.py turn flags into config changes (custom/engine/runtime.py)."""

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.structures import InstanceData

from custom.engine.runtime import (
    add_result_dump,
    apply_test_options,
    apply_train_options,
    apply_tta,
    fit_intervals_to_schedule,
    load_config,
)
from custom.errors import ConfigError, DataError, MissingFileError, report_user_errors
from tests.helpers.logs import mmengine_messages
from tests.helpers.source_writers import write_image
from tests.helpers.tool_runs import DEMO_CONFIG, run_tool

PENNFUDAN = 'configs/pennfudan_maskrcnn.py'
KITTI = 'configs/kitti_fasterrcnn.py'


def test_work_dir_comes_from_the_flag_else_the_config_name():
    assert load_config(PENNFUDAN).work_dir == 'work_dirs/pennfudan_maskrcnn'
    assert load_config(PENNFUDAN, work_dir='/tmp/elsewhere').work_dir == '/tmp/elsewhere'


def test_cfg_options_override_nested_settings():
    cfg = load_config(PENNFUDAN, {'train_cfg.max_epochs': 3, 'optim_wrapper.optimizer.lr': 0.01})
    assert cfg.train_cfg.max_epochs == 3 and cfg.optim_wrapper.optimizer.lr == 0.01


def test_without_cuda_loaders_do_not_pin_memory_and_distributed_runs_use_gloo():
    cfg = load_config(PENNFUDAN)
    assert cfg.train_dataloader.pin_memory is False and cfg.val_dataloader.pin_memory is False
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'


def test_resume_flag_resumes_from_the_latest_checkpoint_or_the_one_named_instead_of_load_from(tmp_path):
    (tmp_path / 'epoch_3.pth').write_bytes(b'x')
    cfg = apply_train_options(load_config(PENNFUDAN, work_dir=str(tmp_path)), resume='auto')
    assert cfg.resume is True and cfg.load_from == str(tmp_path / 'epoch_3.pth')
    cfg = apply_train_options(load_config(PENNFUDAN), resume='work_dirs/x/epoch_3.pth')
    assert cfg.resume is True and cfg.load_from == 'work_dirs/x/epoch_3.pth'


def test_resume_without_a_checkpoint_says_so_naming_the_work_dir_and_trains_as_without_resume(tmp_path):
    """Before, load_from became None: mmengine logged 'Auto resumed from the latest checkpoint None' and a
    fine-tuning config trained from random weights instead of its COCO checkpoint."""
    work_dir = tmp_path / 'run'
    cfg = load_config(PENNFUDAN, work_dir=str(work_dir))
    coco_weights = cfg.load_from
    with mmengine_messages() as messages:
        apply_train_options(cfg, resume='auto')
    assert messages == [f'--resume: no checkpoint in {work_dir}, training from the start']
    assert cfg.resume is False and cfg.load_from == coco_weights and coco_weights.startswith('https://')


def test_show_dir_turns_on_drawing_in_the_visualization_hook():
    cfg = apply_test_options(load_config(PENNFUDAN), 'best.pth', show_dir='painted')
    assert cfg.load_from == 'best.pth'
    assert cfg.default_hooks.visualization.draw is True
    assert cfg.default_hooks.visualization.test_out_dir == 'painted'


def found_in(detections: InstanceData, candidates: InstanceData) -> torch.Tensor:
    """For each detection, whether `candidates` hold its label, its score and its box (to 1e-3 px)."""
    same_box = (detections.bboxes[:, None] - candidates.bboxes[None]).abs().amax(-1) < 1e-3
    same_label = detections.labels[:, None] == candidates.labels[None]
    same_score = (detections.scores[:, None] - candidates.scores[None]).abs() < 1e-6
    return (same_box & same_label & same_score).any(1)


def overlapping_pairs(instances: InstanceData, iou: float = 0.5) -> int:
    """The pairs of boxes of one class that overlap at IoU > iou."""
    overlaps = bbox_overlaps(instances.bboxes, instances.bboxes).triu(1)
    return int(((overlaps > iou) & (instances.labels[:, None] == instances.labels[None])).sum())


def test_tta_predicts_on_original_and_flipped_images_and_merges_their_boxes_in_original_coordinates(tmp_path):
    cfg = load_config(KITTI)
    for step in cfg.test_dataloader.dataset.pipeline:  # 80x48 image -> 160x96: a quick CPU forward
        if step['type'] == 'Resize':
            step['scale'] = (160, 96)
    cfg = apply_tta(cfg)
    assert cfg.model.type == 'DetTTAModel' and cfg.model.module.type == 'FasterRCNN'
    register_all_modules()
    cfg.model.module.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    packed = pipeline(dict(img_path=str(write_image(tmp_path / 'image.png', 80, 48)), img_id=0))
    views = []  # (input, metainfo, predictions) of every view the wrapped model is run on
    run_view = model.module.test_step

    def recorded(data):
        predictions = run_view(data)
        views.append((data['inputs'][0], data['data_samples'][0].metainfo, predictions[0].pred_instances))
        return predictions

    model.module.test_step = recorded
    with torch.no_grad():
        merged, = model.test_step(pseudo_collate([packed]))

    # Two views of the image, one its mirror image.
    assert len(views) == 2
    (image, original_meta, original), (mirrored, flipped_meta, flipped) = sorted(
        views, key=lambda view: view[1]['flip'])
    assert original_meta['flip'] is False and flipped_meta['flip'] is True
    assert flipped_meta['flip_direction'] == 'horizontal'
    assert torch.equal(mirrored, image.flip(-1))

    # One prediction, in the original image's coordinates ...
    detections = merged.pred_instances
    n = len(detections)
    assert 0 < n <= 100  # tta_cfg.max_per_img (untrained, every RoI scores about 0.28 for each class)
    assert detections.bboxes.shape == (n, 4) and detections.scores.shape == (n,)
    assert detections.labels.shape == (n,)
    boxes = detections.bboxes
    assert (boxes >= 0).all() and (boxes[:, [0, 2]] <= 80).all() and (boxes[:, [1, 3]] <= 48).all()
    # ... made of both views' boxes, the flipped view's mirrored back (x -> 80 - x) ...
    unflipped = flipped.clone()
    unflipped.bboxes = flipped.bboxes.clone()
    unflipped.bboxes[:, [0, 2]] = 80 - flipped.bboxes[:, [2, 0]]
    from_original, from_flipped = found_in(detections, original), found_in(detections, unflipped)
    assert (from_original | from_flipped).all()
    assert (from_original & ~from_flipped).any() and (from_flipped & ~from_original).any()
    # ... merged by NMS at IoU 0.5: of the views' overlapping boxes of one class, one is left.
    assert overlapping_pairs(InstanceData.cat([original, unflipped])) > 0
    assert overlapping_pairs(detections) == 0


def test_tta_with_a_mask_model_is_refused_with_the_reason():
    with pytest.raises(ConfigError, match='merges boxes only'):
        apply_tta(load_config(PENNFUDAN))


def test_resume_auto_uses_the_newest_checkpoint_when_last_checkpoint_was_left_empty(tmp_path):
    for name in ('epoch_1.pth', 'epoch_2.pth'):
        (tmp_path / name).write_bytes(b'x')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    cfg = apply_train_options(load_config(PENNFUDAN, work_dir=str(tmp_path)), resume='auto')
    assert cfg.load_from == str(tmp_path / 'epoch_1.pth')
    (tmp_path / 'last_checkpoint').write_text('')  # killed while mmengine rewrote it
    cfg = apply_train_options(load_config(PENNFUDAN, work_dir=str(tmp_path)), resume='auto')
    assert cfg.resume is True and cfg.load_from == str(tmp_path / 'epoch_2.pth')


def test_intervals_beyond_a_shortened_training_become_its_length_in_one_log_line_each():
    """The demo config validates and saves every 24 epochs (its max_epochs variable); trained for 4, the run's
    config says every 4, so the config it dumps states what the run does."""
    cfg = load_config(DEMO_CONFIG, {'train_cfg.max_epochs': 4})
    with mmengine_messages() as messages:
        apply_train_options(cfg)
    assert cfg.train_cfg.val_interval == 4 and cfg.default_hooks.checkpoint.interval == 4
    assert messages == [
        'train_cfg.val_interval=24 is beyond the end of training (train_cfg.max_epochs=4): set to 4, '
        'so the last epoch is validated',
        'default_hooks.checkpoint.interval=24 is beyond the end of training (train_cfg.max_epochs=4): '
        'set to 4, so the last epoch is saved']

    cfg = load_config(DEMO_CONFIG, {'train_cfg.max_epochs': 48})
    with mmengine_messages() as messages:
        apply_train_options(cfg)
    assert (cfg.train_cfg.val_interval, cfg.default_hooks.checkpoint.interval, messages) == (24, 24, [])

    # An iteration-based loop counts in iterations; a checkpoint hook counting epochs is left alone.
    cfg = Config(dict(
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=300, val_interval=1000, val_begin=500),
        default_hooks=dict(checkpoint=dict(interval=2))))
    with mmengine_messages() as messages:
        fit_intervals_to_schedule(cfg)
    assert (cfg.train_cfg.val_interval, cfg.train_cfg.val_begin, cfg.default_hooks.checkpoint.interval) == (
        300, 300, 2)
    assert [message.split(':')[0] for message in messages] == [
        'train_cfg.val_interval=1000 is beyond the end of training (train_cfg.max_iters=300)',
        'train_cfg.val_begin=500 is beyond the end of training (train_cfg.max_iters=300)']


def test_bad_show_and_out_flags_are_config_errors_reported_without_a_traceback():
    cfg = load_config(PENNFUDAN)
    cfg.default_hooks.pop('visualization')
    with pytest.raises(ConfigError, match='--show/--show-dir need default_hooks.visualization'):
        apply_test_options(cfg, 'model.pth', show_dir='vis')
    with pytest.raises(ConfigError, match='--out results.json: the results file must end with .pkl'):
        add_result_dump(None, 'results.json')


def test_user_errors_print_one_line_and_return_1_but_bugs_keep_their_traceback(capsys):
    @report_user_errors
    def failing(error: Exception) -> int:
        raise error

    assert failing(DataError('a.txt', 'line 3 is broken')) == 1
    assert capsys.readouterr().err == 'error: a.txt: line 3 is broken\n'
    assert failing(MissingFileError('b.pth: no such checkpoint')) == 1
    assert capsys.readouterr().err == 'error: b.pth: no such checkpoint\n'
    with pytest.raises(ValueError, match='a bug'):
        failing(ValueError('a bug'))
    # A FileNotFoundError that no user path check raised is a bug (code opening a file it made): traceback.
    with pytest.raises(FileNotFoundError, match='scalars.json'):
        failing(FileNotFoundError('work_dirs/run/vis_data/scalars.json'))


def test_a_config_path_that_does_not_exist_is_named_in_one_line(tmp_path):
    with pytest.raises(MissingFileError, match=r'configs/pennfudan_maskrnn\.py: no such config file'):
        load_config('configs/pennfudan_maskrnn.py')
    process = run_tool('test.py', 'configs/pennfudan_maskrnn.py', str(tmp_path / 'model.pth'), check=False)
    assert process.returncode == 1
    last_line = process.stderr.strip().splitlines()[-1]
    assert last_line == 'error: configs/pennfudan_maskrnn.py: no such config file'


def test_default_hooks_set_to_none_on_the_command_line_are_removed():
    """mmengine's Runner asserts on a None default hook other than its own six: load_config drops them."""
    import argparse

    from custom.cli.arguments import add_runner_arguments

    parser = argparse.ArgumentParser()
    add_runner_arguments(parser)
    args = parser.parse_args(['--cfg-options', 'default_hooks.val_loss=None',
                              'default_hooks.early_stopping=None'])
    cfg = load_config(PENNFUDAN, args.cfg_options)
    assert 'val_loss' not in cfg.default_hooks and 'early_stopping' not in cfg.default_hooks
    assert cfg.default_hooks.checkpoint.save_best == 'auto'  # the others stay
    assert load_config(PENNFUDAN).default_hooks.early_stopping.type == 'JudgedMetricEarlyStoppingHook'
