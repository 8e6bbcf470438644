"""Report of a training run: config summary, final/best metrics, loss and metric curves, and with the run's
predictions (tools/test.py --out) confusion matrices, the worst images and a link to the review page of likely
label mistakes in the split predicted (custom/analysis/label_errors.py). Written twice from one gathering:
``report.md`` (figures linked) and ``report.html``, one self-contained page (figures embedded) that opens
offline in any browser."""

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custom.analysis.confusion_report import write_confusion_matrices
from custom.analysis.error_report import OVERLAY_LEGEND, ImageErrors, build_error_report, draw_overlay
from custom.analysis.label_errors import Settings, find_label_errors, write_queue
from custom.analysis.label_errors_page import write_review_page
from custom.analysis.log_curves import RunLog, is_val_loss, load_run_log, plot_run_curves, series
from custom.analysis.predictions import load_records
from custom.datasets.builder import configured_datasets
from custom.errors import DataError
from custom.evaluation.matching import DEFAULT_SCORE_THR
from custom.evaluation.records import class_names
from custom.files import write_image


def find_config(work_dir: Path) -> Path | None:
    """The config mmengine dumped into the work_dir (``<name>.py``), else the newest vis_data/config.py."""
    dumped = sorted(work_dir.glob('*.py'))
    if dumped:
        return dumped[0]
    copies = sorted(work_dir.glob('*/vis_data/config.py'))
    return copies[-1] if copies else None


def _get(cfg: Any, dotted: str, default: Any = None) -> Any:
    value = cfg
    for key in dotted.split('.'):
        if not hasattr(value, 'get'):
            return default
        value = value.get(key)
        if value is None:
            return default
    return value


def config_summary(config_file: str | Path) -> dict[str, Any]:
    """The settings a reader wants first: model, classes, data, schedule, optimiser, batch size."""
    from custom.engine.runtime import read_config

    cfg = read_config(str(config_file))
    # The datasets inside Concat/Repeat/ClassBalanced wrappers; the first gives data_root and ann_file.
    train_datasets = [dataset for _, dataset in configured_datasets(cfg, ('train_dataloader',))] or [{}]
    train_dataset = train_datasets[0]
    classes = _get(cfg, 'metainfo.classes') or _get(train_dataset, 'metainfo.classes')
    schedulers = _get(cfg, 'param_scheduler', [])
    schedulers = schedulers if isinstance(schedulers, (list, tuple)) else [schedulers]
    summary = {
        'model': _get(cfg, 'model.type'),
        'backbone': _get(cfg, 'model.backbone.type'),
        'depth': _get(cfg, 'model.backbone.depth'),
        'num_classes (bbox head)': _get(cfg, 'model.roi_head.bbox_head.num_classes'),
        'classes': ', '.join(classes) if classes else None,
        'train dataset': ', '.join(str(d['type']) for d in train_datasets if d.get('type')) or None,
        'data_root': _get(train_dataset, 'data_root'),
        'train ann_file': _get(train_dataset, 'ann_file'),
        'train loop': _get(cfg, 'train_cfg.type'),
        'max_epochs': _get(cfg, 'train_cfg.max_epochs'),
        'max_iters': _get(cfg, 'train_cfg.max_iters'),
        'val_interval': _get(cfg, 'train_cfg.val_interval'),
        'optimizer': _get(cfg, 'optim_wrapper.optimizer.type'),
        'lr': _get(cfg, 'optim_wrapper.optimizer.lr'),
        'momentum': _get(cfg, 'optim_wrapper.optimizer.momentum'),
        'weight_decay': _get(cfg, 'optim_wrapper.optimizer.weight_decay'),
        'lr schedule': ', '.join(str(_get(s, 'type')) for s in schedulers) or None,
        'batch size (per GPU)': _get(cfg, 'train_dataloader.batch_size'),
        'auto_scale_lr base_batch_size': _get(cfg, 'auto_scale_lr.base_batch_size'),
        'load_from': _get(cfg, 'load_from'),
        'mask head': _get(cfg, 'model.roi_head.mask_head.type'),
    }
    return {key: value for key, value in summary.items() if value not in (None, '')}


def metric_table(log: RunLog) -> dict[str, dict[str, float]]:
    """{metric: {'final', 'best', 'best_step'}}; best is the maximum of a metric, the minimum of a loss."""
    table = {}
    for key in log.metric_keys() + log.val_loss_keys():
        steps, values = series(log.val, key)
        pick = min if is_val_loss(key) else max
        best = pick(range(len(values)), key=lambda i: values[i])
        table[key] = {'final': values[-1], 'best': values[best], 'best_step': steps[best]}
    return table


@dataclass
class RunReport:
    """What both report pages show; paths are the PNG/CSV files written beside the report."""

    work_dir: Path
    log: RunLog
    config_file: Path | None
    summary: dict[str, Any]
    metrics: dict[str, dict[str, float]]
    plots: dict[str, Path]
    predictions: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # iou_thr, score_thr, split of the analysis below
    confusion: dict[str, dict] = field(default_factory=dict)  # kind -> {'matrix', 'csv', 'png'}
    classes: list[str] = field(default_factory=list)
    worst: list[tuple[ImageErrors, Path]] = field(default_factory=list)  # (errors, overlay PNG)
    label_review: Path | None = None  # review.html of likely label mistakes in the split predicted
    label_review_counts: tuple[int, int] = (0, 0)  # (suspects, images)


def analyse_predictions(report: RunReport, pred_file: Path, out_dir: Path, split: str, iou_thr: float,
                        score_thr: float, worst: int) -> None:
    """Confusion matrices (segm and bbox for a model with masks) and overlays of the ``worst`` images."""
    if not report.config_file:
        raise DataError(pred_file, 'the report needs the run\'s config (--config) to read the ground truth')
    kinds = ['segm', 'bbox'] if report.summary.get('mask head') else ['bbox']
    records, classes = load_records(pred_file, 'segm' in kinds, report.config_file, split)
    report.predictions, report.classes = pred_file, class_names(records, classes)
    report.settings = {'split': split, 'iou_thr': iou_thr, 'score_thr': score_thr}
    report.confusion = write_confusion_matrices(records, report.classes, kinds, out_dir, iou_thr, score_thr)
    entries = build_error_report(records, report.classes, kinds[0], iou_thr, score_thr)
    for errors, match, record in entries[:worst]:
        canvas = draw_overlay(record, match, kinds[0]) if errors.errors else None
        if canvas is not None:
            path = out_dir / f'worst_{len(report.worst)}_{Path(errors.img_id).name}.png'
            write_image(path, canvas)
            report.worst.append((errors, path))
    if split != 'train':  # a model agrees with the labels it trained on: no review of those
        write_label_review(report, records, pred_file, out_dir.parent / 'label_errors',
                           Settings(kinds[0], iou_thr, score_thr))


def write_label_review(report: RunReport, records: list, pred_file: Path, out_dir: Path,
                       settings: Settings, min_score: float = DEFAULT_SCORE_THR) -> None:
    """The queue of likely label mistakes in the predicted split and its review page, in ``out_dir``."""
    source = (f'Predictions {pred_file} of the run {report.work_dir.name} on the {report.settings["split"]} '
              'split, which it did not train on')
    errors = find_label_errors(records, report.classes, settings, source)
    rows = errors.queue(min_score)
    write_queue(errors, out_dir, min_score)
    report.label_review = write_review_page(errors, rows, out_dir)
    report.label_review_counts = (len(rows), len(records))


def gather_run_report(work_dir: Path, config_file: Path | None, out_dir: Path, pred_file: Path | None = None,
                      split: str = 'test', iou_thr: float = 0.5, score_thr: float = DEFAULT_SCORE_THR,
                      worst: int = 6) -> RunReport:
    """Read the run's log and config, plot its curves into ``out_dir``, analyse the predictions if given."""
    if not work_dir.is_dir():
        raise DataError(work_dir, 'work_dir does not exist')
    config_file = config_file if config_file else find_config(work_dir)
    config_file = config_file if config_file and config_file.is_file() else None
    log = load_run_log(work_dir)
    plots = {name: info['path'] for name, info in plot_run_curves(work_dir, out_dir, log=log).items()}
    summary = config_summary(config_file) if config_file else {}
    report = RunReport(work_dir, log, config_file, summary, metric_table(log), plots)
    if pred_file:
        analyse_predictions(report, pred_file, out_dir, split, iou_thr, score_thr, worst)
    return report


def markdown_report(report: RunReport, base: Path) -> str:
    def link(path: Path) -> str:
        return path.relative_to(base).as_posix()

    lines = [f'# Run report: {report.work_dir.name}', '', f'Log: `{report.log.source}`', '']
    lines += ['## Configuration', '']
    if report.config_file:
        lines += [f'Config: `{report.config_file}`', '', '| setting | value |', '| --- | --- |']
        lines += [f'| {key} | {value} |' for key, value in report.summary.items()]
    else:
        lines.append('No config found in the work_dir.')
    lines += ['', '## Metrics', '']
    if report.metrics:
        lines += ['| metric | final | best | best at epoch/iter |', '| --- | --- | --- | --- |']
        lines += [f'| {key} | {v["final"]:.4f} | {v["best"]:.4f} | {v["best_step"]:g} |'
                  for key, v in report.metrics.items()]
    else:
        lines.append('No validation metrics logged.')
    if report.log.train:
        last = report.log.train[-1]
        losses = ', '.join(f'{k} {last[k]:.4f}' for k in report.log.loss_keys() if k in last)
        lines += ['', f'Last training record (step {last.get("step", "?")}): {losses}']
    lines += ['', '## Curves', '']
    lines += [f'![{name}]({link(path)})' for name, path in report.plots.items()]
    if report.confusion:
        lines += ['', '## Confusion matrix', '', f'`{report.predictions}`, {settings_text(report)}.', '']
        for kind, info in report.confusion.items():
            lines += [f'![confusion {kind}]({link(info["png"])}) ([CSV]({link(info["csv"])}))', '']
    if report.worst:
        lines += ['## Worst images', '', OVERLAY_LEGEND, '']
        lines += [f'![{errors.img_id}: FP {errors.fp}, FN {errors.fn}]({link(path)})'
                  for errors, path in report.worst]
    if report.label_review:
        lines += ['', '## Label review', '', f'{label_review_text(report)}: [{link(report.label_review)}]'
                                             f'({link(report.label_review)})']
    return '\n'.join(lines) + '\n'


def label_review_text(report: RunReport) -> str:
    suspects, images = report.label_review_counts
    return (f'{suspects} likely label mistakes in the {images} images of the {report.settings["split"]} '
            'split (missing, spurious, badly located or wrongly classed annotations), one card each')


def settings_text(report: RunReport) -> str:
    settings = report.settings
    return f'{settings["split"]} split, IoU >= {settings["iou_thr"]:g}, score >= {settings["score_thr"]:g}'


def embedded_png(path: Path, alt: str) -> str:
    """An <img> holding the PNG itself (base64), so the page reads offline and travels as one file."""
    data = base64.b64encode(path.read_bytes()).decode('ascii')
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def html_table(header: list[str], rows: list[list[Any]]) -> str:
    head = ''.join(f'<th>{html.escape(str(cell))}</th>' for cell in header)
    body = ''.join('<tr>' + ''.join(f'<td>{html.escape(str(cell))}</td>' for cell in row) + '</tr>'
                   for row in rows)
    return f'<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


HTML_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; } th { background: #f3f3f3; }
td:not(:first-child) { font-variant-numeric: tabular-nums; }
.figures > img, .figures > div { display: inline-block; vertical-align: top; margin: .3em; }
.figures > img { width: 520px; max-width: 100%; }
.worst figure { display: inline-block; vertical-align: top; margin: .4em; }
.worst img { width: 320px; image-rendering: pixelated; }  /* small images scaled up, pixels kept sharp */
figcaption, .note { color: #555; font-size: .85em; } code { background: #f3f3f3; padding: 0 .2em; }
"""


def html_report(report: RunReport, base: Path) -> str:
    """One self-contained page: every figure is embedded, no script, no external style or font; the label
    review is linked relative to ``base``, the page's folder."""
    title = f'Run report: {report.work_dir.name}'
    parts = [f'<h1>{html.escape(title)}</h1>',
             f'<p class="note">Log: <code>{html.escape(str(report.log.source))}</code></p>']
    parts.append('<h2>Configuration</h2>')
    if report.config_file:
        parts.append(f'<p class="note">Config: <code>{html.escape(str(report.config_file))}</code></p>')
        parts.append(html_table(['setting', 'value'], [[k, v] for k, v in report.summary.items()]))
    else:
        parts.append('<p>No config found in the work_dir.</p>')
    parts.append('<h2>Metrics</h2>')
    if report.metrics:
        rows = [[key, f'{v["final"]:.4f}', f'{v["best"]:.4f}', f'{v["best_step"]:g}']
                for key, v in report.metrics.items()]
        parts.append(html_table(['metric', 'final', 'best', 'best at epoch/iter'], rows))
    else:
        parts.append('<p>No validation metrics logged.</p>')
    parts.append('<h2>Curves</h2><p class="note">Validation losses are dashed, in the colour of their '
                 'training loss.</p><div class="figures">')
    parts += [embedded_png(path, name) for name, path in report.plots.items()]
    parts.append('</div>')
    if report.confusion:
        parts.append('<h2>Confusion matrix</h2>')
        parts.append(f'<p class="note"><code>{html.escape(str(report.predictions))}</code>, '
                     f'{html.escape(settings_text(report))}. Rows: ground truth; columns: detections. Ignore '
                     'regions count nowhere; background row: false positives, column: misses.</p>')
        parts.append('<div class="figures">')
        for kind, info in report.confusion.items():
            names = [*report.classes, 'background']
            rows = [[name, *(int(v) for v in row)] for name, row in zip(names, info['matrix'], strict=True)]
            table = html_table([f'{kind}: GT / detected', *names], rows)
            parts.append(f'<div><h3>{kind}</h3>{embedded_png(info["png"], f"confusion {kind}")}{table}</div>')
        parts.append('</div>')
    if report.worst:
        parts.append(f'<h2>Worst images</h2><p class="note">{html.escape(OVERLAY_LEGEND)}</p>')
        parts.append('<div class="worst">')
        for errors, path in report.worst:
            caption = f'{errors.img_id}: TP {errors.tp}, FP {errors.fp}, FN {errors.fn}'
            parts.append(f'<figure>{embedded_png(path, caption)}'
                         f'<figcaption>{html.escape(caption)}</figcaption></figure>')
        parts.append('</div>')
    if report.label_review:
        href = html.escape(report.label_review.relative_to(base).as_posix())
        parts.append(f'<h2>Label review</h2><p>{html.escape(label_review_text(report))}: '
                     f'<a href="{href}">{href}</a></p>')
    body = '\n'.join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<title>{html.escape(title)}</title><style>{HTML_STYLE}</style></head>\n'
            f'<body>\n{body}\n</body></html>\n')


def write_run_report(
    work_dir: str | Path, config_file: str | Path | None = None, out_file: str | Path | None = None,
    predictions: str | Path | None = None, split: str = 'test', iou_thr: float = 0.5,
    score_thr: float = DEFAULT_SCORE_THR,
    worst: int = 6,
) -> Path:
    """Write ``<work_dir>/report.md`` and, beside it, the self-contained ``report.html`` (figures in
    ``plots/``); with ``predictions`` (a tools/test.py --out pickle) both add confusion matrices and the worst
    images. Returns the Markdown path."""
    work_dir = Path(work_dir)
    out_file = Path(out_file) if out_file else work_dir / 'report.md'
    report = gather_run_report(work_dir, Path(config_file) if config_file else None,
                               out_file.parent / 'plots', Path(predictions) if predictions else None, split,
                               iou_thr, score_thr, worst)
    out_file.write_text(markdown_report(report, out_file.parent))
    out_file.with_suffix('.html').write_text(html_report(report, out_file.parent))
    return out_file
