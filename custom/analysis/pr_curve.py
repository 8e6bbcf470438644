"""Precision-recall curves (per class and overall) from predictions and GT, plotted as PNG.

The overall curve ('all') pools the detections of every class into one ranking; its AP is not COCO's mAP,
which is the mean of the per-class APs, so the plot labels it "all classes pooled". Per class, the AP at an
IoU of 0.5 equals pycocotools' AP50 (tests/evaluation/test_prf_metric.py).
"""

from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from tqdm import tqdm  # noqa: E402

from custom.evaluation.matching import ImageRecord, PRCurve, match_image, pr_curve  # noqa: E402

POOLED = 'all'  # key of the curve over every class's detections together


def compute_pr_curves(
    records: list[ImageRecord], kind: str, iou_thr: float, classes: list[str]
) -> dict[str, PRCurve]:
    """{'all': curve, '<class>': curve, ...} from one greedy matching of every prediction."""
    matches = [
        match_image(r, kind, iou_thr, score_thr=0.0)
        for r in tqdm(records, desc=f'matching {kind}', disable=len(records) < 50)
    ]
    curves = {POOLED: pr_curve(matches)}
    if len(classes) > 1:
        curves.update({name: pr_curve(matches, label) for label, name in enumerate(classes)})
    return curves


def plot_pr_curves(
    curves: dict[str, PRCurve], out_file: str | Path, title: str, mark_score: float | None = 0.5
) -> Path:
    """One PNG: a recall/precision line per curve, AP in the legend, a dot at ``mark_score``."""
    out_file = Path(out_file)
    fig, ax = plt.subplots(figsize=(6, 6), dpi=100)
    for name, curve in curves.items():
        label = 'all classes pooled' if name == POOLED and len(curves) > 1 else name
        (line,) = ax.plot(
            curve.recall, curve.precision, label=f'{label} (AP {curve.ap:.3f}, {curve.num_gt} GT)'
        )
        if mark_score is not None and curve.scores.size and (curve.scores >= mark_score).any():
            at = int((curve.scores >= mark_score).sum()) - 1
            ax.plot(curve.recall[at], curve.precision[at], 'o', color=line.get_color())
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel('recall')
    ax.set_ylabel('precision')
    ax.set_title(title + (f' (dot: score {mark_score:g})' if mark_score is not None else ''))
    ax.grid(True, alpha=0.3)
    ax.legend(loc='lower left', fontsize=8)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out_file)
    plt.close(fig)
    return out_file


def write_pr_curves(
    records: list[ImageRecord], kinds: list[str], iou_thr: float, classes: list[str], out_dir: str | Path
) -> dict[str, dict[str, PRCurve]]:
    """pr_<kind>.png for each kind in ``out_dir``; returns the curves by kind."""
    result = {}
    for kind in kinds:
        curves = compute_pr_curves(records, kind, iou_thr, classes)
        plot_pr_curves(curves, Path(out_dir) / f'pr_{kind}.png', f'{kind} PR @ IoU {iou_thr:g}')
        result[kind] = curves
    return result
