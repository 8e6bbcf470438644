"""Label Studio JSON exports as Label Studio writes them (Export > JSON): tasks with annotations whose results
are in percent of the image, brush masks in Label Studio's own RLE, and the upload and local-files URLs."""

import json
from pathlib import Path

import numpy as np

from tests.helpers.json_source_writers import HEIGHT, WIDTH
from tests.helpers.source_writers import write_image

RUN_SIZES = (3, 4, 8, 16)  # the run-length field sizes label_studio_converter's encoder uses


def brush_rle(values: np.ndarray) -> list[int]:
    """Label Studio's brush RLE of flat byte values (RGBA, row by row): header, then a repeat block per run
    (runs longer than 2**16 split) and a 1-value literal block for lone values."""
    values = np.asarray(values, dtype=np.uint8).ravel()
    bits = [f'{values.size:032b}', f'{8 - 1:05b}', ''.join(f'{size - 1:04b}' for size in RUN_SIZES)]
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    for start, end in zip(starts, np.r_[starts[1:], values.size], strict=True):
        value, length = int(values[start]), int(end - start)
        if length == 1:
            bits.append(f'0{0:02b}{0:03b}{value:08b}')
            continue
        while length > 0:
            run = min(length, 2 ** 16)
            index = next(i for i, size in enumerate(RUN_SIZES) if run - 1 < 2 ** size)
            bits.append(f'1{index:02b}{run - 1:0{RUN_SIZES[index]}b}{value:08b}')
            length -= run
    stream = ''.join(bits)
    stream += '0' * (-len(stream) % 8)
    return [int(stream[i:i + 8], 2) for i in range(0, len(stream), 8)]


def mask_rgba(mask: np.ndarray, colour=(255, 0, 0)) -> np.ndarray:
    """The RGBA canvas Label Studio's brush paints: the label's colour, opaque on the mask, clear
    elsewhere."""
    canvas = np.zeros((*mask.shape, 4), dtype=np.uint8)
    canvas[mask] = (*colour, 255)
    return canvas


def region(kind: str, label: str, region_id: str, sized: bool = True, **value) -> dict:
    """One result of an annotation, with the fields Label Studio exports."""
    result = dict(id=region_id, type=kind, from_name='label', to_name='image', origin='manual',
                  image_rotation=0, value={**value, kind: [label]})
    if sized:
        result.update(original_width=WIDTH, original_height=HEIGHT)
    return result


def percent_points(points: list[tuple[float, float]]) -> list[list[float]]:
    return [[x / WIDTH * 100, y / HEIGHT * 100] for x, y in points]


def square_corners(x: float, y: float) -> list[tuple[float, float]]:
    """The corners of a 20 x 10 box at (x, y)."""
    return [(x, y), (x + 20, y), (x + 20, y + 10), (x, y + 10)]


def task(task_id: int, url: str, *annotations: list[dict], cancelled: tuple[bool, ...] = ()) -> dict:
    """A task as Label Studio exports it, with one annotation per result list."""
    flags = cancelled or (False,) * len(annotations)
    return dict(id=task_id, data=dict(image=url), predictions=[], meta={}, file_upload='',
                annotations=[dict(id=100 + n, result=result, was_cancelled=flag, ground_truth=False,
                                  completed_by=1, task=task_id, lead_time=3.5)
                             for n, (result, flag) in enumerate(zip(annotations, flags, strict=True))])


def brush_square() -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[40:60, 10:30] = True
    return mask


def make_label_studio_export(root: Path) -> Path:
    """``root/images/{a,b,c,d}.jpg`` and ``root/export.json``:

    * task 1, an uploaded file (``/data/upload/3/1a2b3c4d-a.jpg``): a person in two polygon pieces joined by
      a relation, a car rectangle, and a per-image choice (skipped);
    * task 2, local-files storage (``?d=images/b.jpg``): a person brush mask and a car rectangle turned 90
      degrees without original_width/height;
    * task 3: a cancelled annotation, then one with an empty result (an image without objects);
    * task 4: not labelled yet.
    """
    for seed, name in enumerate('abcd'):
        write_image(root / 'images' / f'{name}.jpg', WIDTH, HEIGHT, seed=seed)
    first = [
        region('polygonlabels', 'person', 'p1', points=percent_points(square_corners(10, 10))),
        region('polygonlabels', 'person', 'p2', points=percent_points(square_corners(10, 30))),
        dict(from_id='p1', to_id='p2', type='relation', direction='right'),
        region('rectanglelabels', 'car', 'r1', x=50 / WIDTH * 100, y=40 / HEIGHT * 100,
               width=20 / WIDTH * 100, height=10 / HEIGHT * 100, rotation=0),
        dict(id='c1', type='choices', from_name='weather', to_name='image', value=dict(choices=['sunny'])),
    ]
    second = [
        region('brushlabels', 'person', 'b1', rle=brush_rle(mask_rgba(brush_square())), format='rle'),
        region('rectanglelabels', 'car', 'r2', sized=False, x=60 / WIDTH * 100, y=10 / HEIGHT * 100,
               width=20 / WIDTH * 100, height=10 / HEIGHT * 100, rotation=90),
    ]
    tasks = [task(1, '/data/upload/3/1a2b3c4d-a.jpg', first),
             task(2, '/data/local-files/?d=images/b.jpg', second),
             task(3, '/data/upload/3/99aa00ff-c.jpg', first, [], cancelled=(True, False)),
             task(4, '/data/upload/3/0badcafe-d.jpg')]
    path = root / 'export.json'
    path.write_text(json.dumps(tasks, indent=2))
    return path
