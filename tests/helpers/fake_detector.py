"""A stand-in for a trained detector, for tests of what runs around one (custom/apis/inference.py)."""

import os
import signal

import numpy as np

from custom.structures.detections import Detections


class BoxDetector:
    """One 'pedestrian' per image: the middle half of it, score 0.9, with its mask. ``kill_at=n`` kills the
    process (SIGKILL: no exception, no cleanup) when the n-th image arrives, as an out-of-memory kill does."""

    classes = ('pedestrian',)

    def __init__(self, kill_at: int | None = None) -> None:
        self.kill_at, self.calls = kill_at, 0

    def __call__(self, image: np.ndarray, score_thr: float = 0.0) -> Detections:
        self.calls += 1
        if self.calls == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        height, width = image.shape[:2]
        masks = np.zeros((1, height, width), bool)
        masks[0, height // 4:3 * height // 4, width // 4:3 * width // 4] = True
        box = np.array([[width / 4, height / 4, 3 * width / 4, 3 * height / 4]], np.float32)
        return Detections(box, np.array([0.9], np.float32), np.zeros(1, np.int64), masks)
