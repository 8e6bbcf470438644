"""One image's detections as numpy arrays: what every inference backend returns and overlays and JSON read."""

from dataclasses import dataclass

import numpy as np


@dataclass
class Detections:
    """Boxes (N, 4) x1, y1, x2, y2 in the image's pixels (float32), scores (N,) float32, labels (N,) int64
    and, for models with a mask head, masks (N, H, W) bool at the image's size."""

    bboxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    masks: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.scores)
