"""Stand-ins for a trained detector, for tests of what runs around one (custom/apis/inference.py,
custom/data_engine/pre_annotate.py)."""

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


class StripeDetector:
    """Detections read from the image, for tests that choose the scores: each 16 px wide column band whose
    top-left pixel has a blue value b > 0 is one 'pedestrian' filling the band below row 4, score b / 255
    (``stripe_image`` writes such images). ``interrupt_at=n`` raises KeyboardInterrupt (a Ctrl-C) when the
    n-th image arrives."""

    classes = ('pedestrian',)
    BAND = 16

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.interrupt_at = interrupt_at
        self.seen: list[int] = []  # the id (green value of pixel (0, 0)) of each image run, in order

    def __call__(self, image: np.ndarray, score_thr: float = 0.0) -> Detections:
        if len(self.seen) + 1 == self.interrupt_at:
            raise KeyboardInterrupt
        self.seen.append(int(image[0, 0, 1]))
        height, width = image.shape[:2]
        starts = [x for x in range(0, width - self.BAND + 1, self.BAND) if image[0, x, 0] > 0]
        scores = np.array([image[0, x, 0] / 255 for x in starts], np.float32)
        masks = np.zeros((len(starts), height, width), bool)
        for i, x in enumerate(starts):
            masks[i, 4:, x:x + self.BAND] = True
        boxes = np.array([[x, 4, x + self.BAND, height] for x in starts], np.float32).reshape(-1, 4)
        keep = scores >= score_thr
        return Detections(boxes[keep], scores[keep], np.zeros(int(keep.sum()), np.int64), masks[keep])


def stripe_image(path, scores: list[float], image_id: int = 0, size: tuple[int, int] = (64, 48)):
    """A PNG for StripeDetector: a detection of each score, one band each from the left; ``image_id`` is
    written into pixel (0, 0)'s green value so the detector can tell which image it was given."""
    import cv2

    width, height = size
    image = np.full((height, width, 3), 90, np.uint8)
    image[0, :, 0] = 0
    image[0, 0, 1] = image_id
    for band, score in enumerate(scores):
        image[0, band * StripeDetector.BAND, 0] = round(score * 255)
    cv2.imwrite(str(path), image)
    return path


class BlobDetector:
    """Detections read from the image, for sliced inference: each 8-connected blob of pixels whose red value
    (BGR channel 2) is above 0 is one detection, of class green value % 2 (of its first pixel), score = its
    highest red value / 255, mask = the blob's pixels in the image it was given, box = their extent. A blob
    cut by a tile's border is found again, cut, in each tile. Runs one image at a time; ``BatchBlobDetector``
    takes batches."""

    classes = ('a', 'b')

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []  # the shape of each image run, in order

    def __call__(self, image: np.ndarray, score_thr: float = 0.0) -> Detections:
        import cv2

        self.shapes.append(image.shape)
        height, width = image.shape[:2]
        count, components = cv2.connectedComponents((image[..., 2] > 0).astype(np.uint8), connectivity=8)
        boxes, scores, labels, masks = [], [], [], []
        for blob in range(1, count):
            mask = components == blob
            score = image[..., 2][mask].max() / 255
            if score < score_thr:
                continue
            ys, xs = np.nonzero(mask)
            boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
            scores.append(score)
            labels.append(int(image[ys[0], xs[0], 1]) % 2)
            masks.append(mask)
        return Detections(np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32),
                          np.array(labels, np.int64), np.array(masks, bool).reshape(-1, height, width))


class BatchBlobDetector(BlobDetector):
    """``BlobDetector`` with ``detect_batch``, as a backend that runs several images at once; records the
    size of each batch."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def detect_batch(self, images: list[np.ndarray], score_thr: float = 0.0) -> list[Detections]:
        self.batches.append(len(images))
        return [BlobDetector.__call__(self, image, score_thr) for image in images]
