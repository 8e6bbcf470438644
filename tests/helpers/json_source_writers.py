"""Writers of tiny COCO instances json, labelme and VIA data sets in the formats those tools write, shared by
the json source tests. Every image is 96x72; squares are polygons of 4 corners."""

import base64
import json
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils

from tests.helpers.source_writers import write_image

WIDTH, HEIGHT = 96, 72


def square(x: float, y: float, size: float) -> list[float]:
    """COCO polygon of a ``size`` x ``size`` square at (x, y): covers exactly size**2 pixels."""
    return [x, y, x + size, y, x + size, y + size, x, y + size]


def rle_of_box(x1: int, y1: int, x2: int, y2: int, compressed: bool = True) -> dict:
    """RLE of a filled box: compressed (str counts, as pycocotools writes it) or uncompressed (a list of run
    lengths in column-major order, as CVAT's "COCO 1.0" export writes every mask through Datumaro)."""
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[y1:y2, x1:x2] = 1
    if not compressed:
        flat = mask.flatten(order='F')
        changes = np.flatnonzero(np.diff(flat)) + 1
        runs = np.diff(np.concatenate([[0], changes, [flat.size]]))
        return dict(counts=([0] if flat[0] else []) + runs.tolist(), size=[HEIGHT, WIDTH])
    rle = mask_utils.encode(np.asfortranarray(mask))
    return dict(size=[HEIGHT, WIDTH], counts=rle['counts'].decode('ascii'))


def coco_annotation(ann_id: int, image_id: int, category_id: int, bbox: list, segmentation=None,
                    iscrowd: int = 0) -> dict:
    return dict(id=ann_id, image_id=image_id, category_id=category_id, bbox=bbox, iscrowd=iscrowd,
                area=float(bbox[2] * bbox[3]), segmentation=segmentation if segmentation is not None else [])


def write_coco(path: Path, images: list[dict], annotations: list[dict], categories: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(info={}, licenses=[], images=images, annotations=annotations,
                                    categories=categories)))
    return path


def make_coco(root: Path, ann_name: str = 'annotations/train.json') -> Path:
    """``root/images/{a,b,c}.jpg`` and a json in the shape labelme2coco writes (an unused ``_background_``
    category with id 0): a.jpg a person (2 polygon parts) and a car; b.jpg a crowd of persons (RLE,
    iscrowd=1) and a dog (category not in the test's classes); c.jpg a person."""
    for seed, name in enumerate('abc'):
        write_image(root / 'images' / f'{name}.jpg', WIDTH, HEIGHT, seed=seed)
    images = [dict(id=i, file_name=f'{name}.jpg', width=WIDTH, height=HEIGHT)
              for i, name in enumerate('abc', 1)]
    categories = [dict(id=0, name='_background_'), dict(id=1, name='person'), dict(id=2, name='car'),
                  dict(id=3, name='dog')]
    annotations = [
        coco_annotation(1, 1, 1, [10, 10, 30, 20], [square(10, 10, 10), square(30, 20, 10)]),
        coco_annotation(2, 1, 2, [50, 40, 20, 20], [square(50, 40, 20)]),
        coco_annotation(3, 2, 1, [0, 0, 40, 30], rle_of_box(0, 0, 40, 30), iscrowd=1),
        coco_annotation(4, 2, 3, [60, 30, 10, 10], [square(60, 30, 10)]),
        coco_annotation(5, 3, 1, [20, 20, 16, 16], [square(20, 20, 16)]),
    ]
    return write_coco(root / ann_name, images, annotations, categories)


def labelme_shape(label: str, points: list, shape_type: str = 'polygon', group_id: int | None = None) -> dict:
    return dict(label=label, points=points, group_id=group_id, description='', shape_type=shape_type,
                flags={}, mask=None)


def corners(x: float, y: float, size: float) -> list[list[float]]:
    """labelme polygon points of a square."""
    return [[x, y], [x + size, y], [x + size, y + size], [x, y + size]]


def write_labelme(folder: Path, stem: str, shapes: list[dict], image_path: str | None = None,
                  size: tuple[int, int] = (WIDTH, HEIGHT), embed: bool = False, write_image_file: bool = True,
                  seed: int = 0) -> Path:
    """``folder/<stem>.json`` as labelme 5 saves it; the image is written to ``image_path`` (relative to the
    json, default ``<stem>.jpg`` beside it) unless ``write_image_file`` is False; ``embed`` puts it in
    ``imageData`` (the image file is then written to a scratch place only to get its bytes)."""
    image_path = image_path or f'{stem}.jpg'
    on_disk = image_path.replace('\\', '/')  # labelme on Windows writes backslashes
    target = folder / on_disk if write_image_file else folder / '.scratch' / Path(on_disk).name
    write_image(target, *size, seed=seed)
    content = dict(version='5.4.1', flags={}, shapes=shapes, imagePath=image_path,
                   imageData=base64.b64encode(target.read_bytes()).decode('ascii') if embed else None,
                   imageHeight=size[1], imageWidth=size[0])
    if not write_image_file:
        target.unlink()
    path = folder / f'{stem}.json'
    path.write_text(json.dumps(content, indent=2))
    return path


def via_polygon(xs: list[float], ys: list[float], **attributes) -> dict:
    return dict(shape_attributes=dict(name='polygon', all_points_x=xs, all_points_y=ys),
                region_attributes=attributes)


def via_region(name: str, **shape) -> dict:
    """A region of another shape (rect, circle, ellipse, point, polyline) without attributes."""
    return dict(shape_attributes=dict(name=name, **shape), region_attributes={})


def via_record(image: Path, regions: list[dict], version: int = 1) -> tuple[str, dict]:
    """(key, record) as VIA writes them: key = file name + byte size; 1.x stores regions as a dict."""
    size = image.stat().st_size
    stored = {str(i): region for i, region in enumerate(regions)} if version == 1 else regions
    return f'{image.name}{size}', dict(fileref='', size=size, filename=image.name, base64_img_data='',
                                       file_attributes={}, regions=stored)


def make_via_balloon(root: Path, split: str = 'train', version: int = 1, n_images: int = 2) -> Path:
    """``root/<split>/`` with images and a balloon-style ``via_region_data.json``: image i holds i + 1 balloon
    polygons (squares of 12 px), no region attributes."""
    folder = root / split
    records = {}
    for i in range(n_images):
        image = write_image(folder / f'{split}_{i}.jpg', WIDTH, HEIGHT, seed=i)
        regions = [via_polygon(*square_xy(10 + 20 * k, 10, 12)) for k in range(i + 1)]
        key, record = via_record(image, regions, version)
        records[key] = record
    (folder / 'via_region_data.json').write_text(json.dumps(records))
    return folder / 'via_region_data.json'


def square_xy(x: float, y: float, size: float) -> tuple[list[float], list[float]]:
    """VIA's all_points_x, all_points_y of a square."""
    return [x, x + size, x + size, x], [y, y, y + size, y + size]
