"""custom/files.py: images written whole or not at all, and never lost without a word."""

import cv2
import numpy as np
import pytest

from custom.files import write_image


def test_write_image_round_trips_png_and_refuses_a_suffix_opencv_cannot_write(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    write_image(tmp_path / 'out' / 'a.png', image)  # the folder is made
    assert np.array_equal(cv2.imread(str(tmp_path / 'out' / 'a.png'), cv2.IMREAD_COLOR), image)
    write_image(tmp_path / 'a.jpg', image)
    assert cv2.imread(str(tmp_path / 'a.jpg')).shape == image.shape
    (tmp_path / 'b.txt').write_text('kept')
    with pytest.raises(ValueError, match=r'b\.txt: OpenCV cannot write this image as'):
        write_image(tmp_path / 'b.txt', image)  # cv2.imwrite would return False and write nothing
    assert (tmp_path / 'b.txt').read_text() == 'kept'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.jpg', 'b.txt', 'out']
