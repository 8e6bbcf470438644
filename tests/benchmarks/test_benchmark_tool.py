"""The torchvision benchmark's parts that run without torchvision: the clear failure, the inputs, the stage
timer, torchvision's output as the project's Detections and the agreement check."""

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


def test_stage_timer_books_nested_calls_to_their_own_stage_and_the_rest_to_other(monkeypatch):
    from types import SimpleNamespace

    from benchmarks import stages
    from benchmarks.stages import OTHER, StageTimer

    now = [0.0]  # the timer's clock moves only by the work below: exact bookings, however loaded the machine

    def work(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(stages, 'time', SimpleNamespace(perf_counter=lambda: now[0]))

    class Part:
        def outer(self):
            work(0.01)
            return self.inner()

        def inner(self):
            work(0.1)
            return 'done'

    part, timer = Part(), StageTimer()
    timer.wrap(part, 'outer', 'backbone + FPN')
    timer.wrap(part, 'inner', 'RPN + proposal NMS')
    total, output = timer.measure(lambda: (work(0.02), part.outer())[1])
    assert output == 'done' and total == pytest.approx(0.13)
    # Without subtracting the nested call, the outer stage would hold both (0.11 s).
    assert timer.calls[0] == pytest.approx({'backbone + FPN': 0.01, 'RPN + proposal NMS': 0.1, OTHER: 0.02})
    timer.restore()
    assert 'outer' not in vars(part) and 'inner' not in vars(part)  # the class's methods again


def two_pedestrians(scores=(0.9, 0.6), shift=(0.0, 0.0)):
    """Project-side Detections of two pedestrians in a 40x40 image, as the models' InstanceData holds them;
    `shift` moves each box (not its mask) right."""
    import torch
    from mmengine.structures import InstanceData

    from custom.structures.detections import Detections

    masks = torch.zeros(2, 40, 40, dtype=torch.bool)
    masks[0, 5:20, 5:15] = masks[1, 20:35, 22:30] = True
    boxes = torch.tensor([[5.0, 5.0, 15.0, 20.0], [22.0, 20.0, 30.0, 35.0]])
    boxes[:, [0, 2]] += torch.tensor(shift)[:, None]
    return Detections.from_instances(InstanceData(bboxes=boxes, scores=torch.tensor(scores),
                                                  labels=torch.zeros(2, dtype=torch.long), masks=masks))


def test_agreement_check_matches_equal_detections_and_rejects_moved_boxes_and_scores():
    from benchmarks.torchvision_speed import check_agreement
    from custom.structures.detections import Detections

    ours = two_pedestrians()
    assert check_agreement('project', [ours], [ours]) == ('2 vs 2 detections, 2 matched at box IoU >= 0.9, '
                                                          'max score difference 0, mean mask IoU of matched '
                                                          '1.000')
    with pytest.raises(BenchmarkError, match='1 matched at box IoU'):  # the second box moves 6 px right
        check_agreement('project', [ours], [two_pedestrians(shift=(0.0, 6.0))])
    with pytest.raises(BenchmarkError, match='max score difference 0.002'):
        check_agreement('project', [ours], [two_pedestrians(scores=(0.9, 0.602))])
    one = Detections(ours.bboxes[:1], ours.scores[:1], ours.labels[:1], ours.masks[:1])
    with pytest.raises(BenchmarkError, match='4 vs 3 detections'):  # counted over the batch
        check_agreement('project', [ours, ours], [ours, one])


def test_torchvision_output_becomes_the_projects_detections_with_the_background_label_left_out():
    import torch

    from benchmarks.matched_models import torchvision_detections
    from benchmarks.torchvision_speed import check_agreement

    ours = two_pedestrians()
    probabilities = torch.from_numpy(ours.masks).float()[:, None] * 0.4 + 0.3  # 0.7 inside, 0.3 outside
    output = dict(boxes=torch.from_numpy(ours.bboxes), scores=torch.from_numpy(ours.scores),
                  labels=torch.ones(2, dtype=torch.int64), masks=probabilities)  # label 1: pedestrian
    theirs = torchvision_detections(output)
    assert theirs.labels.tolist() == [0, 0] and theirs.masks.dtype == bool
    assert (theirs.masks == ours.masks).all()
    assert '2 matched' in check_agreement('project', [ours], [theirs])  # same labels: paired
