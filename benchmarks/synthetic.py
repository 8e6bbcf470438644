"""Synthetic data sets for the scale benchmark (benchmarks/scale.py): N images of ~10 objects each, written as
a COCO json with polygon masks, the same json with RLE masks, a folder of labelme files and a VIA 2.x export,
plus a COCO results json and a tools/test.py ``--out`` pickle of predictions near the ground truth.

Made quickly: every image is one small PNG hard-linked N times (so the image checks read N real files, but
the disk holds one), and the objects are random 12-gons drawn with a seeded generator. Per image: 8-12
objects of 3 classes (about 2% of them COCO crowd regions: RLE, ``iscrowd=1``, in the COCO jsons only);
the predictions find ~85% of the objects with jittered outlines (5% with the wrong class), add 2 false
positives, and leave ~3% of the images without any prediction.

Layout under ``root``::

    blank.png                  the one image (320x240)
    images/img_0000000.png     N hard links to it
    coco_polygon.json          COCO instances json, polygon masks (crowd regions RLE)
    coco_rle.json              the same objects with every mask as compressed RLE
    labelme/img_0000000.json   one labelme 5 file per image (imagePath ../images/...), crowd regions left out
    via.json                   VIA 2.x export (regions as lists, class in region attribute "class")
    predictions.json           COCO results (segmentation RLE, bbox, score) for the COCO jsons' image ids
    predictions.pkl            the same as tools/test.py --out writes them (GT in 'instances')
"""

import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import torch

CLASSES = ('person', 'car', 'bicycle')
WIDTH, HEIGHT = 320, 240
VERTICES = 12
CROWD_SHARE = 0.02
FOUND_SHARE, WRONG_CLASS_SHARE, FALSE_POSITIVES, NO_PREDICTION_SHARE = 0.85, 0.05, 2, 0.03


@dataclass
class SyntheticImage:
    stem: str
    labels: list[int]
    polygons: list[list[float]]  # flat x, y, ... of each object (a crowd region's outline too)
    crowd: list[bool]


def random_polygon(rng: np.random.Generator) -> list[float]:
    """A 12-gon inside the image: radii log-uniform 4-70 px (small, medium and large COCO areas)."""
    rx, ry = np.exp(rng.uniform(np.log(4), np.log(70), 2))
    cx, cy = rng.uniform(rx + 1, WIDTH - rx - 1), rng.uniform(ry + 1, HEIGHT - ry - 1)
    angles = np.sort(rng.uniform(0, 2 * np.pi, VERTICES))
    scale = rng.uniform(0.75, 1.0, VERTICES)
    xs, ys = cx + rx * scale * np.cos(angles), cy + ry * scale * np.sin(angles)
    return [round(float(v), 2) for xy in zip(xs, ys, strict=True) for v in xy]


def jittered(polygon: list[float], rng: np.random.Generator) -> list[float]:
    """A prediction's outline: the object's shifted by up to 3 px and scaled by 0.85-1.15 about its centre."""
    points = np.asarray(polygon).reshape(-1, 2)
    centre = points.mean(axis=0)
    moved = (points - centre) * rng.uniform(0.85, 1.15) + centre + rng.uniform(-3, 3, 2)
    moved[:, 0] = moved[:, 0].clip(0, WIDTH)
    moved[:, 1] = moved[:, 1].clip(0, HEIGHT)
    return [round(float(v), 2) for v in moved.ravel()]


def synthetic_images(n_images: int, seed: int = 0) -> list[SyntheticImage]:
    rng = np.random.default_rng(seed)
    images = []
    for index in range(n_images):
        count = int(rng.integers(8, 13))
        labels = [int(v) for v in rng.integers(0, len(CLASSES), count)]
        images.append(SyntheticImage(f'img_{index:07d}', labels, [random_polygon(rng) for _ in range(count)],
                                     [bool(v) for v in rng.random(count) < CROWD_SHARE]))
    return images


def polygon_rle(polygon: list[float]) -> dict:
    """Compressed RLE (str counts, as pycocotools writes it in a json) of one polygon."""
    rle = mask_utils.frPyObjects([polygon], HEIGHT, WIDTH)[0]
    return dict(size=[HEIGHT, WIDTH], counts=rle['counts'].decode('ascii'))


def box_of(rle: dict) -> list[float]:
    return [float(v) for v in mask_utils.toBbox(dict(rle, counts=rle['counts'].encode('ascii')))]


def write_images(root: Path, images: list[SyntheticImage]) -> Path:
    blank = root / 'blank.png'
    canvas = np.full((HEIGHT, WIDTH, 3), 127, dtype=np.uint8)
    canvas[::8] = 90  # a little texture, as a real PNG has
    cv2.imwrite(str(blank), canvas)
    folder = root / 'images'
    folder.mkdir(exist_ok=True)
    for image in images:
        target = folder / f'{image.stem}.png'
        if not target.exists():
            os.link(blank, target)
    return blank


def write_coco(root: Path, images: list[SyntheticImage]) -> None:
    """coco_polygon.json and coco_rle.json: the same objects, the masks as polygons or as RLE."""
    entries = [dict(id=i, file_name=f'{image.stem}.png', width=WIDTH, height=HEIGHT)
               for i, image in enumerate(images, start=1)]
    categories = [dict(id=i, name=name) for i, name in enumerate(CLASSES, start=1)]
    polygon_anns, rle_anns = [], []
    for image_id, image in enumerate(images, start=1):
        for label, polygon, crowd in zip(image.labels, image.polygons, image.crowd, strict=True):
            rle = polygon_rle(polygon)
            bbox = box_of(rle)
            common = dict(id=len(rle_anns) + 1, image_id=image_id, category_id=label + 1, bbox=bbox,
                          area=float(mask_utils.area(dict(rle, counts=rle['counts'].encode('ascii')))),
                          iscrowd=int(crowd))
            rle_anns.append(dict(common, segmentation=rle))
            polygon_anns.append(dict(common, segmentation=rle if crowd else [polygon]))
    for name, annotations in (('coco_polygon', polygon_anns), ('coco_rle', rle_anns)):
        content = dict(info={}, licenses=[], images=entries, annotations=annotations, categories=categories)
        (root / f'{name}.json').write_text(json.dumps(content))


def write_labelme(root: Path, images: list[SyntheticImage]) -> None:
    folder = root / 'labelme'
    folder.mkdir(exist_ok=True)
    for image in images:
        shapes = [dict(label=CLASSES[label], points=np.asarray(polygon).reshape(-1, 2).tolist(),
                       group_id=None, description='', shape_type='polygon', flags={}, mask=None)
                  for label, polygon, crowd in zip(image.labels, image.polygons, image.crowd, strict=True)
                  if not crowd]
        content = dict(version='5.4.1', flags={}, shapes=shapes, imagePath=f'../images/{image.stem}.png',
                       imageData=None, imageHeight=HEIGHT, imageWidth=WIDTH)
        (folder / f'{image.stem}.json').write_text(json.dumps(content))


def write_via(root: Path, images: list[SyntheticImage], size: int) -> None:
    records = {}
    for image in images:
        regions = [dict(shape_attributes=dict(name='polygon', all_points_x=polygon[0::2],
                                              all_points_y=polygon[1::2]),
                        region_attributes={'class': CLASSES[label]})
                   for label, polygon, crowd in zip(image.labels, image.polygons, image.crowd, strict=True)
                   if not crowd]
        records[f'{image.stem}.png{size}'] = dict(filename=f'{image.stem}.png', size=size, regions=regions,
                                                  file_attributes={})
    (root / 'via.json').write_text(json.dumps(records))


def write_predictions(root: Path, images: list[SyntheticImage], seed: int = 1) -> None:
    """predictions.json (COCO results) and predictions.pkl (tools/test.py --out) of the same detections."""
    rng = np.random.default_rng(seed)
    results, samples = [], []
    for image_id, image in enumerate(images, start=1):
        outlines, labels = [], []
        if rng.random() >= NO_PREDICTION_SHARE:
            for label, polygon, crowd in zip(image.labels, image.polygons, image.crowd, strict=True):
                if not crowd and rng.random() < FOUND_SHARE:
                    wrong = rng.random() < WRONG_CLASS_SHARE
                    outlines.append(jittered(polygon, rng))
                    labels.append(int((label + 1) % len(CLASSES)) if wrong else label)
            for _ in range(FALSE_POSITIVES):
                outlines.append(random_polygon(rng))
                labels.append(int(rng.integers(0, len(CLASSES))))
        scores = [round(float(v), 4) for v in rng.uniform(0.05, 1.0, len(outlines))]
        rles = [polygon_rle(outline) for outline in outlines]
        boxes = [box_of(rle) for rle in rles]
        for rle, box, label, score in zip(rles, boxes, labels, scores, strict=True):
            results.append(dict(image_id=image_id, category_id=label + 1, bbox=box, score=score,
                                segmentation=rle))
        samples.append(dict(
            img_id=image_id, img_path=str(root / 'images' / f'{image.stem}.png'), ori_shape=(HEIGHT, WIDTH),
            instances=[dict(bbox=[x, y, x + w, y + h], bbox_label=label, ignore_flag=int(crowd),
                            mask=[polygon])
                       for (x, y, w, h), label, polygon, crowd in zip(
                           (box_of(polygon_rle(p)) for p in image.polygons), image.labels, image.polygons,
                           image.crowd, strict=True)],
            pred_instances=dict(
                bboxes=torch.tensor([[x, y, x + w, y + h] for x, y, w, h in boxes],
                                    dtype=torch.float32).reshape(-1, 4),
                scores=torch.tensor(scores, dtype=torch.float32),
                labels=torch.tensor(labels, dtype=torch.int64),
                masks=[dict(rle, counts=rle['counts'].encode('ascii')) for rle in rles])))
    (root / 'predictions.json').write_text(json.dumps(results))
    with (root / 'predictions.pkl').open('wb') as f:
        pickle.dump(samples, f)


def make_synthetic(root: str | Path, n_images: int, seed: int = 0) -> Path:
    """Every file of the layout in the module docstring under ``root`` (made once: an existing
    ``predictions.pkl`` means done)."""
    root = Path(root)
    if (root / 'predictions.pkl').is_file():
        return root
    root.mkdir(parents=True, exist_ok=True)
    images = synthetic_images(n_images, seed)
    blank = write_images(root, images)
    write_coco(root, images)
    write_labelme(root, images)
    write_via(root, images, blank.stat().st_size)
    write_predictions(root, images)
    return root
