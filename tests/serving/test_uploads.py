"""Reading an upload's image (custom/serving/uploads.py) without a server: the pixels tools/infer.py reads."""

import cv2
import numpy as np
import pytest
from PIL import ImageFile

from custom.errors import RequestError
from custom.serving import uploads
from custom.serving.uploads import decode_image
from tests.serving.conftest import png_bomb


def test_decoded_image_is_what_cv2_imread_reads_from_the_file(image_file):
    assert np.array_equal(decode_image(image_file.read_bytes(), 10**6), cv2.imread(str(image_file)))


def test_image_at_the_pixel_limit_is_decoded_and_one_pixel_more_is_refused():
    data = cv2.imencode('.png', np.zeros((10, 20, 3), np.uint8))[1].tobytes()
    assert decode_image(data, 200).shape == (10, 20, 3)
    with pytest.raises(RequestError, match='10x20|20x10') as refused:
        decode_image(data, 199)
    assert refused.value.status == 413


def test_decompression_bomb_is_refused_from_its_header_without_decoding_a_pixel(monkeypatch):
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, 'load', lambda image: decoded.append('PIL'))
    monkeypatch.setattr(uploads.cv2, 'imdecode', lambda *args: decoded.append('OpenCV'))
    with pytest.raises(RequestError, match='8000x8000 = 64000000 pixels') as refused:
        decode_image(png_bomb(8000, 8000), 50_000_000)
    assert refused.value.status == 413 and decoded == []
