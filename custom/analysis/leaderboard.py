"""Results of finished trainings side by side: one row per run, as Markdown, CSV and a plot of AP against
inference time (tools/sweep.py writes them; custom/jobs/sweep.py).

A row's figures come from the run's own work dir: best COCO AP and the epoch it was reached from the
validation records of every (resumed) run folder; training time per image from mmengine's logged iteration
``time`` (a moving mean over its log window) divided by the images per iteration; inference images/s from
the validation ``time`` per iteration (loading included, as a user's test run would see it); parameters and
FLOPs of the config mmengine dumped there (custom/analysis/complexity.py).

A run is ranked and plotted by the AP it is judged by: the metric its best checkpoint is chosen by (segm mAP
for mask models, bbox mAP for box-only ones, as the dataset bases list them first).
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
CSV_EXTRA = ['judged_by', 'config', 'options', 'work_dir']
KINDS = ('segm', 'bbox')
SERIES = {'segm': dict(marker='o', color='C0', label='segm mAP (mask models)'),
          'bbox': dict(marker='s', color='C1', label='bbox mAP (box-only models)')}
LABEL_CHARS = 32  # a point's label at most this long: at font size 7 under half the axes' width


def run_results(work_dir: Path) -> dict:
    """Best segm/bbox mAP and their epochs, time per training image, inference images/s, parameters and FLOPs
    of the finished training in ``work_dir``. A FLOPs count that fails is noted in ``error``, not raised: the
    training's results stay."""
    config_file = find_config(work_dir)
    if config_file is None:
        raise DataError(work_dir, 'no config dumped by mmengine, so this is not a training work dir')
    cfg = Config.fromfile(str(config_file))
    log = load_resumed_run_log(work_dir)
    row: dict = {'judged_by': judged_by(cfg)}
    table = metric_table(log)
    for kind in KINDS:
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


def judged_by(cfg: Config) -> str | None:
    """'segm' or 'bbox': the COCO AP the run's best checkpoint is chosen by, as the CheckpointHook decides
    (custom/engine/hooks/early_stopping.py watches the same): its ``save_best`` when that names
    coco/<kind>_mAP, else (``'auto'``) the first metric of the validation evaluator; None for others."""
    save_best = (cfg.get('default_hooks') or {}).get('checkpoint', {}).get('save_best')
    save_best = save_best[0] if isinstance(save_best, list | tuple) and save_best else save_best
    if isinstance(save_best, str) and save_best != 'auto':
        kind = save_best.removeprefix('coco/').removesuffix('_mAP')
        return kind if kind in KINDS and save_best == f'coco/{kind}_mAP' else None
    evaluator = cfg.get('val_evaluator') or {}
    evaluator = evaluator[0] if isinstance(evaluator, list | tuple) and evaluator else evaluator
    metric = evaluator.get('metric', 'bbox') if isinstance(evaluator, dict) else None
    metric = metric[0] if isinstance(metric, list | tuple) and metric else metric
    return metric if metric in KINDS else None


def judged_kind(row: dict) -> str:
    """'segm' or 'bbox', what a run is ranked by: the AP its config judges it by (``judged_by``, from
    ``run_results``), else segm mAP when the row has one, else bbox mAP."""
    return row.get('judged_by') or ('segm' if row.get('segm_mAP') is not None else 'bbox')


def primary_ap(row: dict) -> float | None:
    """The AP a run is ranked by (``judged_kind``); None when it logged none."""
    return row.get(f'{judged_kind(row)}_mAP')


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
    lines += ['', 'Ranked by the AP each run is judged by: segm mAP for mask models, bbox mAP for box-only '
              'ones. params and GFLOPs: mmengine\'s complexity analysis at the test size; train s/img: '
              'logged iteration time / batch size; infer img/s: validation images per second, loading '
              'included.']
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
    """``ap_time_figure`` as a PNG."""
    fig = ap_time_figure(rows)
    fig.savefig(out_file)
    plt.close(fig)


def ap_time_figure(rows: list[dict]) -> plt.Figure:
    """One point per finished run: the AP it is judged by against inference milliseconds per image, one
    series (and legend entry) per kind of AP among the runs, each point labelled with its rank and what
    tells it apart from the others (``short_labels``), the label turned towards the middle of the axes so it
    stays inside them."""
    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    ranks = {id(row): rank for rank, row in enumerate(ranked(rows), start=1)}
    points = [(row, 1000 / row['inference_images_per_s'], primary_ap(row)) for row in rows
              if primary_ap(row) is not None and row.get('inference_images_per_s')]
    for kind in KINDS:
        series = [(ms, ap) for row, ms, ap in points if judged_kind(row) == kind]
        if series:
            ax.scatter(*zip(*series, strict=True), **SERIES[kind])
    ax.set_xlabel('inference time per image (ms, loading included)')
    ax.set_ylabel('best mAP the run is judged by')
    ax.set_title('AP against inference time (label: rank in the leaderboard)')
    ax.grid(True, alpha=0.3)
    if not points:
        ax.text(0.5, 0.5, 'no finished run logged both AP and inference time', ha='center', va='center',
                transform=ax.transAxes)
        fig.tight_layout()
        return fig
    ax.margins(0.08)
    ax.legend(fontsize=8, loc='best')
    fig.tight_layout()  # fixes the axes' size and limits before the labels are placed in them
    to_axes = ax.transData + ax.transAxes.inverted()
    labels = short_labels([row['name'] for row, _, _ in points])
    for (row, ms, ap), label in zip(points, labels, strict=True):
        x, y = to_axes.transform((ms, ap))
        right, up = x < 0.5, y < 0.5
        ax.annotate(f'{ranks[id(row)]}. {label}', (ms, ap), fontsize=7, textcoords='offset points',
                    xytext=(4 if right else -4, 4 if up else -4), ha='left' if right else 'right',
                    va='bottom' if up else 'top')
    return fig


def short_labels(names: list[str]) -> list[str]:
    """What tells runs apart, from their names (``config__key=value__...``): the parts not all of them share,
    keys cut to their last part (``optim_wrapper.optimizer.lr=0.01`` -> ``lr=0.01``), at most LABEL_CHARS
    long (the middle of a longer one left out); the config's name when all parts are shared."""
    parts = [name.split('__') for name in names]
    shared = set.intersection(*map(set, parts)) if parts else set()
    labels = []
    for name_parts in parts:
        differing = [part for part in name_parts if part not in shared] or name_parts[:1]
        label = ' '.join(map(_without_key_path, differing))
        half = LABEL_CHARS // 2  # a long label keeps its start and its end, where grid values differ
        labels.append(label if len(label) <= LABEL_CHARS else f'{label[:half - 1]}…{label[-half:]}')
    return labels


def _without_key_path(part: str) -> str:
    key, equals, value = part.partition('=')
    return f'{key.rsplit(".", 1)[-1]}={value}' if equals else part
