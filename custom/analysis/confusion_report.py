"""Confusion matrix (custom/evaluation/confusion.py) written as CSV and as a PNG heat map."""

import csv
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from custom.evaluation.confusion import BACKGROUND, confusion_matrix  # noqa: E402
from custom.evaluation.matching import DEFAULT_SCORE_THR, ImageRecord  # noqa: E402


def write_confusion_csv(matrix: np.ndarray, classes: list[str], out_file: Path) -> Path:
    """Rows ground truth, columns detections, both ``classes + ['background']``; the corner names the axes."""
    names = [*classes, BACKGROUND]
    with out_file.open('w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['ground truth \\ detected', *names])
        for name, row in zip(names, matrix, strict=True):
            writer.writerow([name, *(int(v) for v in row)])
    return out_file


def plot_confusion_matrix(matrix: np.ndarray, classes: list[str], out_file: Path, title: str) -> Path:
    """Heat map of the counts, each row shaded by its share of that row's total (the counts are printed)."""
    names = [*classes, BACKGROUND]
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    side = 2.5 + 0.7 * len(names)
    fig, ax = plt.subplots(figsize=(side + 1, side), dpi=100)
    image = ax.imshow(shares, cmap='Blues', vmin=0, vmax=1)
    for row in range(len(names)):
        for col in range(len(names)):
            if row == col == len(classes):
                continue
            ax.text(col, row, str(int(matrix[row, col])), ha='center', va='center',
                    color='white' if shares[row, col] > 0.6 else 'black')
    ax.set_xticks(range(len(names)), names, rotation=45, ha='right')
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel('detected')
    ax.set_ylabel('ground truth')
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, label='share of the ground-truth row')
    fig.tight_layout()
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_file)
    plt.close(fig)
    return out_file


def write_confusion_matrices(records: list[ImageRecord], classes: list[str], kinds: list[str],
                             out_dir: str | Path, iou_thr: float = 0.5,
                             score_thr: float = DEFAULT_SCORE_THR) -> dict[str, dict]:
    """confusion_<kind>.csv and .png in ``out_dir`` per kind; returns {kind: {'matrix', 'csv', 'png'}}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for kind in kinds:
        matrix = confusion_matrix(records, kind, len(classes), iou_thr, score_thr)
        title = f'{kind} confusion @ IoU {iou_thr:g}, score >= {score_thr:g}'
        written[kind] = {
            'matrix': matrix,
            'csv': write_confusion_csv(matrix, classes, out_dir / f'confusion_{kind}.csv'),
            'png': plot_confusion_matrix(matrix, classes, out_dir / f'confusion_{kind}.png', title),
        }
    return written
