"""One image's detections as numpy arrays: what every inference backend returns and overlays and JSON read."""

from dataclasses import dataclass
from typing import Any

import numpy as np

from custom.structures.masks import to_numpy


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

    def top(self, count: int) -> 'Detections':
        """The ``count`` highest-scoring detections (all when there are fewer), best first."""
        order = np.argsort(-self.scores, kind='stable')[:count]
        return Detections(self.bboxes[order], self.scores[order], self.labels[order],
                          None if self.masks is None else self.masks[order])

    @classmethod
    def from_instances(cls, pred: Any) -> 'Detections':
        """From MMDetection's ``pred_instances`` (an InstanceData of tensors, on any device)."""
        masks = to_numpy(pred.masks).astype(bool, copy=False) if 'masks' in pred else None
        return cls(to_numpy(pred.bboxes).astype(np.float32, copy=False),
                   to_numpy(pred.scores).astype(np.float32, copy=False),
                   to_numpy(pred.labels).astype(np.int64, copy=False), masks)
