"""Writers of tiny Penn-Fudan, VOC-XML and KITTI data sets in their real on-disk formats, shared by the source
tests, and an editor of Penn-Fudan annotation files."""

from pathlib import Path

import numpy as np
from PIL import Image

from custom.data_tools.demo_data import generate_demo_dataset
from custom.datasets.pennfudan import format_annotation, parse_annotation

PENNFUDAN_IMAGES = 6
PENNFUDAN_SIZE = (96, 80)  # (width, height)
PENNFUDAN_VAL = 2


def make_pennfudan(root: Path, n_images: int = PENNFUDAN_IMAGES, seed: int = 0) -> Path:
    """Write a synthetic Penn-Fudan folder (with splits/train.txt and splits/val.txt) at ``root``."""
    generate_demo_dataset(root, n_images=n_images, size=PENNFUDAN_SIZE, seed=seed, n_val=PENNFUDAN_VAL)
    return root


VOC_PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0] + [0, 0, 0] * 251 + [224, 224, 192]


def write_image(path: Path, width: int, height: int, mode: str = 'RGB', seed: int = 0) -> Path:
    """Random image of ``mode`` ('RGB', 'L' grayscale, 'P' palette) at ``path`` (format from the suffix)."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == 'RGB':
        img = Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
    else:
        img = Image.fromarray(rng.integers(0, 4, (height, width), dtype=np.uint8), mode='L')
        if mode == 'P':
            img = img.convert('P')
            img.putpalette(VOC_PALETTE)
    img.save(path)
    return path


def voc_object(name: str, box, difficult: int | None = 0, truncated: int = 0) -> str:
    """One ``<object>`` element; ``box`` = (xmin, ymin, xmax, ymax) as written (1-based inclusive)."""
    coords = ''.join(
        f'<{key}>{value}</{key}>' for key, value in zip(('xmin', 'ymin', 'xmax', 'ymax'), box, strict=False)
    )
    flag = '' if difficult is None else f'<difficult>{difficult}</difficult>'
    return (
        f'<object><name>{name}</name><pose>Unspecified</pose><truncated>{truncated}</truncated>{flag}'
        f'<bndbox>{coords}</bndbox></object>'
    )


def write_voc_xml(
    root: Path,
    stem: str,
    objects: list[str],
    size: tuple | None = None,
    filename: str | None = None,
    path_tag: str | None = None,
) -> Path:
    """``root/Annotations/<stem>.xml`` as LabelImg/VOC write it; ``size`` = (width, height), None omits it."""
    size_xml = (
        ''
        if size is None
        else (f'<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>')
    )
    path_xml = '' if path_tag is None else f'<path>{path_tag}</path>'
    text = (
        f'<annotation><folder>JPEGImages</folder><filename>{filename or stem + ".jpg"}</filename>{path_xml}'
        f'<source><database>Unknown</database></source>{size_xml}<segmented>0</segmented>'
        + ''.join(objects)
        + '</annotation>\n'
    )
    xml_path = root / 'Annotations' / f'{stem}.xml'
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    xml_path.write_text(text)
    return xml_path


def write_object_png(root: Path, stem: str, object_ids: np.ndarray) -> Path:
    """``root/SegmentationObject/<stem>.png``: palette PNG whose pixel value k is the k-th XML object."""
    png = Image.fromarray(object_ids.astype(np.uint8), mode='L').convert('P')
    png.putpalette(VOC_PALETTE)
    path = root / 'SegmentationObject' / f'{stem}.png'
    path.parent.mkdir(parents=True, exist_ok=True)
    png.save(path)
    return path


def make_voc_with_masks(root: Path) -> Path:
    """Two 96x72 images, a 'person' (id 1) and a 'dog' (id 2) each, masks with a 255 boundary ring."""
    for index, stem in enumerate(('2008_000001', '2008_000002')):
        write_image(root / 'JPEGImages' / f'{stem}.jpg', 96, 72, seed=index)
        ids = np.zeros((72, 96), dtype=np.uint8)
        ids[9:41, 19:51] = 255  # boundary ring around the person
        ids[10:40, 20:50] = 1
        ids[50:70, 60:90] = 2
        write_object_png(root, stem, ids)
        write_voc_xml(
            root,
            stem,
            [voc_object('person', (21, 11, 50, 40)), voc_object('dog', (61, 51, 90, 70))],
            size=(96, 72),
        )
    return root


def kitti_line(name: str, box, truncated: float = 0.0, occluded: int = 0) -> str:
    """One 15-column KITTI label line; ``box`` = (x1, y1, x2, y2) pixels."""
    x1, y1, x2, y2 = box
    return (
        f'{name} {truncated:.2f} {occluded} -1.57 {x1:.2f} {y1:.2f} {x2:.2f} {y2:.2f} '
        '1.50 1.60 3.70 -0.50 1.70 20.00 -1.55'
    )


def write_kitti(root: Path, stem: str, lines: list[str], size=(120, 40), suffix: str = '.png') -> None:
    """``root/image_2/<stem><suffix>`` and ``root/label_2/<stem>.txt``."""
    write_image(root / 'image_2' / f'{stem}{suffix}', *size, seed=int(stem) if stem.isdigit() else 0)
    label = root / 'label_2' / f'{stem}.txt'
    label.parent.mkdir(parents=True, exist_ok=True)
    label.write_text(''.join(line + '\n' for line in lines))


def make_kitti(root: Path) -> Path:
    """Three images (png 120x40, jpeg 100x50, png 160x48) with Car/Pedestrian/Cyclist/DontCare/Van labels."""
    write_kitti(
        root,
        '000000',
        [kitti_line('Pedestrian', (10.5, 5.25, 30.75, 38.0)), kitti_line('DontCare', (80, 0, 119, 20))],
    )
    write_kitti(
        root,
        '000001',
        [kitti_line('Car', (0, 10, 60, 45)), kitti_line('Van', (60, 10, 99, 40))],
        size=(100, 50),
        suffix='.jpg',
    )
    write_kitti(
        root,
        '000002',
        [kitti_line('Cyclist', (100, 8, 140, 47)), kitti_line('Pedestrian', (20, 4, 32, 40))],
        size=(160, 48),
    )
    return root


def rewrite_annotation(root: Path, stem: str, edit) -> None:
    """Parse ``root/Annotation/<stem>.txt``, let ``edit`` change the PennFudanAnnotation, write it back."""
    path = root / 'Annotation' / f'{stem}.txt'
    ann = parse_annotation(path)
    edit(ann)
    path.write_text(format_annotation(ann), encoding='latin-1', newline='')
