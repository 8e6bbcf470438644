"""read_image_size: the size LoadImageFromFile decodes (EXIF orientation included), from the header only."""

import struct
from pathlib import Path

import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from PIL import Image, ImageFile

from custom.datasets.builder import build_dataset
from custom.datasets.images import read_image_size
from tests.helpers.json_source_writers import corners, labelme_shape, write_labelme

WIDTH, HEIGHT = 100, 40  # as stored; orientations 5-8 show it 40 x 100


def photo(path: Path, orientation: int | None = None) -> Path:
    """A WIDTH x HEIGHT image in the format of the suffix, with an EXIF orientation tag when given."""
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8))
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    image.save(path, exif=exif.tobytes()) if orientation else image.save(path)
    return path


def late_exif_png(path: Path, orientation: int) -> Path:
    """A PNG whose eXIf chunk comes after the image data (PIL writes it before): OpenCV still honours it."""
    data = photo(path, orientation).read_bytes()
    position, chunks = 8, []
    while position < len(data):
        length = struct.unpack('>I', data[position:position + 4])[0]
        chunks.append(data[position:position + length + 12])
        position += length + 12
    exif = next(chunk for chunk in chunks if chunk[4:8] == b'eXIf')
    others = [chunk for chunk in chunks if chunk is not exif]
    path.write_bytes(data[:8] + b''.join(others[:-1]) + exif + others[-1])  # ... IDAT, eXIf, IEND
    return path


CASES = {  # file name -> how it is written
    'upright.jpg': lambda path: photo(path),
    'half_turn.jpg': lambda path: photo(path, 3),
    'phone_upright.jpg': lambda path: photo(path, 6),
    'turned_left.jpg': lambda path: photo(path, 8),
    'transposed.jpg': lambda path: photo(path, 5),
    'plain.png': lambda path: photo(path),
    'early_exif.png': lambda path: photo(path, 6),
    'late_exif.png': lambda path: late_exif_png(path, 6),
    'plain.bmp': lambda path: photo(path),
    'exif.webp': lambda path: photo(path, 6),  # OpenCV ignores WebP's EXIF
}
QUARTER_TURNED = {'phone_upright.jpg', 'turned_left.jpg', 'transposed.jpg', 'early_exif.png', 'late_exif.png'}


@pytest.fixture(scope='module')
def images(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp('images')
    return {name: write(folder / name) for name, write in CASES.items()}


@pytest.mark.parametrize('name', list(CASES))
def test_header_size_is_the_size_load_image_from_file_decodes(images, name, monkeypatch):
    decoded = LoadImageFromFile()(dict(img_path=str(images[name])))['img']
    monkeypatch.setattr(ImageFile.ImageFile, 'load', lambda self: pytest.fail('the image was decoded'))
    size = read_image_size(images[name])
    assert size == (decoded.shape[1], decoded.shape[0])
    assert size == ((HEIGHT, WIDTH) if name in QUARTER_TURNED else (WIDTH, HEIGHT))


def test_labelme_file_of_a_turned_photo_loads_at_the_size_labelme_and_the_pipeline_see(tmp_path):
    """labelme draws on the photo turned by its EXIF orientation and writes that size."""
    folder = tmp_path / 'labelme'
    write_labelme(folder, 'street', [labelme_shape('person', corners(5, 60, 20))], size=(HEIGHT, WIDTH),
                  write_image_file=False)
    photo(folder / 'street.jpg', orientation=6)
    cfg = dict(type='LabelmeDataset', data_root=str(folder), ann_file='', metainfo=dict(classes=('person',)),
               pipeline=[dict(type='LoadImageFromFile')])
    dataset = build_dataset(cfg, test_mode=True)
    info, image = dataset.get_data_info(0), dataset[0]['img']
    assert (info['width'], info['height']) == (HEIGHT, WIDTH) == (image.shape[1], image.shape[0])
    assert info['instances'][0]['bbox'] == [5.0, 60.0, 25.0, 80.0]
