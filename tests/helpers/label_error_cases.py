"""Hand-made predictions with one known label mistake of each kind per image, as tools/test.py --out pickles
them (mmdet's DumpDetResults, ground truth in 'instances'), for the label-error finder and its page; and
predictions equal to a data set's own labels but for one object."""

import pickle
from pathlib import Path

import cv2
import numpy as np
import torch

from custom.structures.masks import mask_extent_box, mask_to_rle

H, W = 64, 96
CLASSES = ('cat', 'dog')
CAT, DOG = 0, 1


def rect(x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[y1:y2, x1:x2] = True
    return mask


def thin_outline() -> np.ndarray:
    """A mask with the box of rect(10, 10, 40, 50) but only its top 15 rows and a 1 px line down to the
    bottom: box IoU 1 with the full rectangle, mask IoU 475 / 1200."""
    mask = rect(10, 10, 40, 25)
    mask[25:50, 10] = True
    return mask


# image -> (ground truth: (mask, class, ignore_flag), predictions: (mask, class, score))
CASES = {
    'clean': ([(rect(10, 10, 40, 50), CAT, 0)], [(rect(10, 10, 40, 50), CAT, 0.95)]),
    'missing': ([(rect(10, 10, 40, 50), CAT, 0)],
                [(rect(10, 10, 40, 50), CAT, 0.95), (rect(55, 10, 85, 50), DOG, 0.9)]),
    'spurious': ([(rect(10, 10, 40, 50), CAT, 0), (rect(55, 10, 85, 50), CAT, 0)],
                 [(rect(10, 10, 40, 50), CAT, 0.95)]),
    # the annotation drawn 15 px left of the dog: box IoU 1/3
    'bad_location': ([(rect(20, 10, 50, 50), DOG, 0)], [(rect(35, 10, 65, 50), DOG, 0.9)]),
    'wrong_class': ([(rect(30, 10, 60, 50), CAT, 0)], [(rect(30, 10, 60, 50), DOG, 0.9)]),
    # an any-class ignore region (one ignored copy per class, as labelme's __ignore__ and KITTI's DontCare
    # load) with a confident dog on it, and a second region nothing was predicted on
    'ignored': ([(rect(10, 10, 40, 50), CAT, 0), (rect(50, 0, 96, 64), CAT, 1), (rect(50, 0, 96, 64), DOG, 1),
                 (rect(0, 55, 20, 64), CAT, 1)],
                [(rect(10, 10, 40, 50), CAT, 0.95), (rect(60, 10, 90, 50), DOG, 0.9)]),
    'mask_outline': ([(thin_outline(), CAT, 0)], [(rect(10, 10, 40, 50), CAT, 0.95)]),
    # two annotated cats side by side, each found, and two more predictions that no annotation matches at
    # IoU 0.5 but that lie on annotated pixels: one of both cats as a group (IoU 0.48 with each), one of half
    # a cat (IoU 0.4)
    'covered': ([(rect(10, 10, 40, 50), CAT, 0), (rect(42, 10, 72, 50), CAT, 0)],
                [(rect(10, 10, 40, 50), CAT, 0.95), (rect(42, 10, 72, 50), CAT, 0.95),
                 (rect(10, 10, 72, 50), CAT, 0.8), (rect(10, 10, 22, 50), CAT, 0.7)]),
}


def dumped_sample(img_path: Path, ground_truth: list, predictions: list) -> dict:
    """One entry as mmdet's DumpDetResults pickles it (tensors; RLE masks with bytes counts)."""
    rles = [mask_to_rle(mask) for mask, _, _ in predictions]
    return dict(
        img_id=img_path.stem, img_path=str(img_path), ori_shape=(H, W),
        instances=[dict(bbox=mask_extent_box(mask), bbox_label=label, ignore_flag=ignore,
                        mask=mask_to_rle(mask)) for mask, label, ignore in ground_truth],
        pred_instances=dict(
            bboxes=torch.tensor([mask_extent_box(m) for m, _, _ in predictions],
                                dtype=torch.float32).reshape(-1, 4),
            scores=torch.tensor([score for _, _, score in predictions], dtype=torch.float32),
            labels=torch.tensor([label for _, label, _ in predictions], dtype=torch.int64),
            masks=[dict(rle, counts=rle['counts'].encode()) for rle in rles]))


def write_cases(root: Path) -> Path:
    """The images (root/images/<case>.png, a grey gradient) and root/predictions.pkl; returns the pickle."""
    (root / 'images').mkdir(parents=True, exist_ok=True)
    samples = []
    gradient = np.tile(np.linspace(60, 200, W, dtype=np.uint8)[None, :, None], (H, 1, 3))
    for name, (ground_truth, predictions) in CASES.items():
        path = root / 'images' / f'{name}.png'
        cv2.imwrite(str(path), gradient)
        samples.append(dumped_sample(path, ground_truth, predictions))
    out = root / 'predictions.pkl'
    out.write_bytes(pickle.dumps(samples))
    return out


def predictions_of_labels(infos: dict[str, dict], stems: list[str], drop: tuple[str, int] = ('', -1),
                          score: float = 0.9) -> list[dict]:
    """DumpDetResults entries for the images ``stems`` of a data set (``infos``: its middle-format infos by
    image id, as custom.analysis.predictions.dataset_ground_truth gives them) that predict each labelled
    object exactly, at ``score``, but object ``drop[1]`` of image ``drop[0]`` (then a spurious annotation)."""
    samples = []
    for stem in stems:
        info = infos[stem]
        instances = [instance for index, instance in enumerate(info['instances']) if (stem, index) != drop]
        samples.append(dict(img_id=stem, img_path=info['img_path'], ori_shape=(info['height'], info['width']),
                            pred_instances=dict(
                                bboxes=torch.tensor([i['bbox'] for i in instances]).reshape(-1, 4),
                                scores=torch.full((len(instances),), score),
                                labels=torch.tensor([i['bbox_label'] for i in instances], dtype=torch.int64),
                                masks=[i['mask'] for i in instances])))
    return samples
