"""The torchvision benchmark's parts that run without torchvision: the clear failure and the inputs."""

import sys

import numpy as np
import pytest

from benchmarks.torchvision_speed import BenchmarkError, load_samples, require_torchvision


def test_benchmark_without_torchvision_fails_with_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, 'torchvision', None)  # makes `import torchvision` fail here
    with pytest.raises(BenchmarkError) as error:
        require_torchvision()
    message = str(error.value)
    assert 'torchvision cannot be imported here' in message and 'benchmarks/setup_env.sh' in message


def test_both_models_get_images_resized_to_the_benchmark_size_with_boxes_fitting_their_masks(pennfudan_root):
    samples = load_samples(pennfudan_root, count=2, size=(128, 96))
    assert len(samples) == 2
    for sample in samples:
        assert sample.image.shape == (96, 128, 3) and sample.masks.shape[1:] == (96, 128)
        assert len(sample.boxes) == len(sample.masks) > 0
        for box, mask in zip(sample.boxes, sample.masks, strict=True):
            ys, xs = np.nonzero(mask)
            assert list(box) == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_benchmark_asking_for_more_images_than_the_folder_has_names_the_folder(pennfudan_root):
    with pytest.raises(BenchmarkError, match=str(pennfudan_root)):
        load_samples(pennfudan_root, count=50, size=(128, 96))
