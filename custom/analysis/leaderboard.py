"""Results of finished trainings side by side: one row per run, as Markdown, CSV and a plot of AP against
inference time (tools/sweep.py writes them; custom/jobs/sweep.py).

A row's figures come from the run's own work dir: best COCO AP and the epoch it was reached from the
validation records of every (resumed) run folder; training time per image from mmengine's logged iteration
``time`` (a moving mean over its log window) divided by the images per iteration; inference images/s from
the validation ``time`` per iteration (loading included, as a user's test run would see it); parameters and
FLOPs of the config mmengine dumped there (custom/analysis/complexity.py).
"""

import csv
import math
from pathlib import Path
from statistics import mean

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from mmengine.config import Config  # noqa: E402

from custom.analysis.complexity import model_complexity  # noqa: E402
from custom.analysis.log_curves import load_resumed_run_log  # noqa: E402
from custom.analysis.run_report import find_config, metric_table  # noqa: E402
from custom.errors import DataError  # noqa: E402

# (key of a row, CSV column = key, Markdown heading, format); a missing value prints as '-'.
COLUMNS = [
    ('name', 'run', '{}'),
    ('status', 'status', '{}'),
    ('segm_mAP', 'segm mAP', '{:.3f}'),
    ('segm_epoch', 'at epoch', '{:g}'),
    ('bbox_mAP', 'bbox mAP', '{:.3f}'),
    ('bbox_epoch', 'at epoch', '{:g}'),
    ('params', 'params (M)', '{:.1f}', 1e-6),
    ('flops', 'GFLOPs', '{:.1f}', 1e-9),
    ('test_size', 'test size', '{}'),
    ('train_s_per_image', 'train s/img', '{:.3f}'),
    ('inference_images_per_s', 'infer img/s', '{:.2f}'),
    ('error', 'error / note', '{}'),
]
CSV_EXTRA = ['config', 'options', 'work_dir']


def run_results(work_dir: Path) -> dict:
    """Best segm/bbox mAP and their epochs, time per training image, inference images/s, parameters and FLOPs
    of the finished training in ``work_dir``. A FLOPs count that fails is noted in ``error``, not raised: the
    training's results stay."""
    config_file = find_config(work_dir)
    if config_file is None:
        raise DataError(work_dir, 'no config dumped by mmengine, so this is not a training work dir')
    cfg = Config.fromfile(str(config_file))
    log = load_resumed_run_log(work_dir)
    row: dict = {}
    table = metric_table(log)
    for kind in ('segm', 'bbox'):
        best = table.get(f'coco/{kind}_mAP')
        if best:
            row.update({f'{kind}_mAP': best['best'], f'{kind}_epoch': best['best_step']})
    train_times = [record['time'] for record in log.train if 'time' in record]
    if train_times:
        row['train_s_per_image'] = mean(train_times) / cfg.train_dataloader.batch_size
    val_times = [record['time'] for record in log.val if 'time' in record]
    if val_times:
        row['inference_images_per_s'] = cfg.val_dataloader.batch_size / mean(val_times)
    try:
        complexity = model_complexity(cfg)
    except Exception as error:  # noqa: BLE001 - any failure of the count must keep the training's row
        row['error'] = f'FLOPs not counted: {type(error).__name__}: {error}'
    else:
        row.update(params=complexity['params'], flops=complexity['flops'],
                   test_size=f'{complexity["width"]}x{complexity["height"]}')
    return row


def primary_ap(row: dict) -> float | None:
    """What a run is ranked by: segm mAP for a mask model, else bbox mAP."""
    return row.get('segm_mAP', row.get('bbox_mAP'))


def ranked(rows: list[dict]) -> list[dict]:
    """Finished runs by primary AP, best first, then runs without an AP (failed ones) in their order."""
    scored = sorted((row for row in rows if primary_ap(row) is not None), key=primary_ap, reverse=True)
    return scored + [row for row in rows if primary_ap(row) is None]


def cell(row: dict, column: tuple) -> str:
    key, _, fmt, *scale = column
    value = row.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '-'
    if scale:
        value = value * scale[0]
    return fmt.format(value).replace('|', '\\|').replace('\n', ' ')


def leaderboard_markdown(rows: list[dict], title: str) -> str:
    header = ['rank', *(column[1] for column in COLUMNS)]
    lines = [f'# {title}', '', '| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for rank, row in enumerate(ranked(rows), start=1):
        lines.append(f'| {rank} | ' + ' | '.join(cell(row, column) for column in COLUMNS) + ' |')
    lines += ['', 'Ranked by segm mAP (bbox mAP for box-only models). params and GFLOPs: mmengine\'s '
              'complexity analysis at the test size; train s/img: logged iteration time / batch size; '
              'infer img/s: validation images per second, loading included.']
    return '\n'.join(lines) + '\n'


def write_leaderboard(rows: list[dict], out_dir: Path, title: str = 'Sweep leaderboard') -> dict[str, Path]:
    """leaderboard.md, leaderboard.csv and leaderboard.png (AP against inference time) in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {suffix: out_dir / f'leaderboard.{suffix}' for suffix in ('md', 'csv', 'png')}
    paths['md'].write_text(leaderboard_markdown(rows, title), encoding='utf-8')
    fields = [column[0] for column in COLUMNS] + CSV_EXTRA
    with paths['csv'].open('w', newline='', encoding='utf-8') as stream:
        writer = csv.DictWriter(stream, fieldnames=fields, extrasaction='ignore')
        writer.writeheader()
        for row in ranked(rows):
            writer.writerow({**row, 'options': ' '.join(row.get('options', []))})
    plot_ap_against_time(rows, paths['png'])
    return paths


def plot_ap_against_time(rows: list[dict], out_file: Path) -> None:
    """One point per finished run: primary AP against inference milliseconds per image."""
    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    for row in rows:
        ap, speed = primary_ap(row), row.get('inference_images_per_s')
        if ap is None or not speed:
            continue
        kind = 'segm' if 'segm_mAP' in row else 'bbox'
        ax.scatter(1000 / speed, ap, marker='o' if kind == 'segm' else 's', color=f'C{kind == "bbox":d}')
        ax.annotate(row['name'], (1000 / speed, ap), fontsize=7, xytext=(4, 4), textcoords='offset points')
    ax.scatter([], [], marker='o', color='C0', label='segm mAP')
    ax.scatter([], [], marker='s', color='C1', label='bbox mAP (box-only model)')
    ax.set_xlabel('inference time per image (ms, loading included)')
    ax.set_ylabel('best mAP')
    ax.set_title('AP against inference time')
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_file)
    plt.close(fig)
