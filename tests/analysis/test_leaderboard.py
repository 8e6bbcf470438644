"""The sweep's leaderboard (custom/analysis/leaderboard.py): runs ranked and plotted by the AP they are judged
by, failed runs last, a plot whose legend and labels say what is there."""

import csv

import matplotlib.pyplot as plt
from mmengine.config import Config

from custom.analysis.leaderboard import ap_time_figure, judged_by, ranked, short_labels, write_leaderboard

LONG = ('pennfudan_maskrcnn__optim_wrapper.optimizer.lr=0.01__train_cfg.max_epochs=12__'
        'model.roi_head.mask_head.num_convs=4')


def test_leaderboard_ranks_mask_models_by_segm_box_models_by_bbox_and_failed_runs_last(tmp_path):
    rows = [dict(name='failed', status='failed', error='ValueError: bad | worse'),
            dict(name='boxes', status='done', bbox_mAP=0.5, bbox_epoch=3, inference_images_per_s=10.0),
            dict(name='masks', status='done', segm_mAP=0.6, segm_epoch=2, bbox_mAP=0.4, bbox_epoch=2,
                 params=44e6, flops=260e9, inference_images_per_s=5.0, train_s_per_image=0.25)]
    paths = write_leaderboard(rows, tmp_path)

    with paths['csv'].open() as stream:
        table = list(csv.DictReader(stream))
    assert [row['name'] for row in table] == ['masks', 'boxes', 'failed']
    assert table[0]['segm_mAP'] == '0.6' and table[0]['flops'] == '260000000000.0'
    assert table[1]['segm_mAP'] == ''
    markdown = paths['md'].read_text()
    assert '| 1 | masks | done | 0.600 | 2 | 0.400 | 2 | 44.0 | 260.0 | - | 0.250 | 5.00 | - |' in markdown
    assert '| 3 | failed | failed | - |' in markdown and 'ValueError: bad \\| worse' in markdown
    assert paths['png'].read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_a_run_is_judged_by_the_metric_its_best_checkpoint_is_chosen_by():
    def config(metric: list[str], save_best: str = 'auto') -> Config:
        return Config(dict(default_hooks=dict(checkpoint=dict(save_best=save_best)),
                           val_evaluator=dict(type='PerClassCocoMetric', metric=metric)))

    assert judged_by(config(['segm', 'bbox'])) == 'segm'  # configs/_base_/datasets/instance.py
    assert judged_by(config(['bbox'])) == 'bbox'  # detection.py: box-only models
    assert judged_by(config(['bbox', 'segm'])) == 'bbox'  # save_best='auto' takes the first metric
    assert judged_by(config(['segm', 'bbox'], save_best='coco/bbox_mAP')) == 'bbox'
    assert judged_by(config(['segm', 'bbox'], save_best='val/loss')) is None

    # A mask model judged by bbox is ranked by its bbox mAP, not by its higher segm mAP.
    by_bbox = dict(name='by_bbox', judged_by='bbox', segm_mAP=0.9, bbox_mAP=0.1)
    by_segm = dict(name='by_segm', judged_by='segm', segm_mAP=0.5, bbox_mAP=0.2)
    assert [row['name'] for row in ranked([by_bbox, by_segm])] == ['by_segm', 'by_bbox']


def test_the_plot_shows_the_judged_ap_with_a_legend_entry_only_for_the_kinds_of_runs_it_holds():
    masks = [dict(name='cfg__lr=0.01', judged_by='segm', segm_mAP=0.6, bbox_mAP=0.7,
                  inference_images_per_s=5),
             dict(name='cfg__lr=0.02', judged_by='segm', segm_mAP=0.3, bbox_mAP=0.4,
                  inference_images_per_s=2),
             dict(name='cfg__lr=0.04', status='failed')]
    fig = ap_time_figure(masks)
    ax = fig.axes[0]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ['segm mAP (mask models)']
    assert [tuple(point) for point in ax.collections[0].get_offsets()] == [(200.0, 0.6), (500.0, 0.3)]
    assert sorted(text.get_text() for text in ax.texts) == ['1. lr=0.01', '2. lr=0.02']
    plt.close(fig)

    boxes = dict(name='kitti__lr=0.01', judged_by='bbox', bbox_mAP=0.5, inference_images_per_s=10.0)
    fig = ap_time_figure([*masks, boxes])
    ax = fig.axes[0]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == [
        'segm mAP (mask models)', 'bbox mAP (box-only models)']
    assert [tuple(point) for point in ax.collections[1].get_offsets()] == [(100.0, 0.5)]
    plt.close(fig)

    fig = ap_time_figure([masks[2]])
    assert fig.axes[0].get_legend() is None and not fig.axes[0].collections
    plt.close(fig)


def test_point_labels_are_short_and_stay_inside_the_axes_at_every_corner():
    corners = [dict(name=f'a_config_with_a_long_name_number_{index}__{LONG}__randomness.seed={index}',
                    segm_mAP=ap, inference_images_per_s=speed)
               for index, (ap, speed) in enumerate([(0.1, 1), (0.9, 1), (0.1, 50), (0.9, 50), (0.5, 5)])]
    fig = ap_time_figure(corners)
    ax = fig.axes[0]
    fig.canvas.draw()
    inside = ax.get_window_extent()
    labels = [text for text in ax.texts if text.get_text()[0].isdigit()]
    assert len(labels) == len(corners) and all(len(label.get_text()) <= 35 for label in labels)
    for label in labels:
        extent = label.get_window_extent()
        assert (inside.x0 <= extent.x0 and extent.x1 <= inside.x1 and inside.y0 <= extent.y0
                and extent.y1 <= inside.y1), f'{label.get_text()!r} sticks out of the axes'
    plt.close(fig)


def test_short_labels_keep_what_tells_runs_apart_with_keys_cut_to_their_last_part():
    grid = ['cfg__optim_wrapper.optimizer.lr=0.01__train_cfg.max_epochs=12',
            'cfg__optim_wrapper.optimizer.lr=0.02__train_cfg.max_epochs=12']
    assert short_labels(grid) == ['lr=0.01', 'lr=0.02']
    assert short_labels(['mask_rcnn__lr=0.01', 'faster_rcnn__lr=0.01']) == ['mask_rcnn', 'faster_rcnn']
    assert short_labels(['pennfudan_maskrcnn']) == ['pennfudan_maskrcnn']
    assert short_labels([LONG]) == ['pennfudan_maskrcnn']
    long_values = short_labels([f'cfg__scale=1{"0" * 60}2', 'cfg__scale=1'])
    assert long_values == ['scale=100000000…0000000000000002', 'scale=1']  # 32 characters
