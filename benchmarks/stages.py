"""Per-stage wall time of the two Mask R-CNNs: which part of a step the time goes to.

``StageTimer`` wraps methods of model parts (an instance attribute over the class's method, removed again by
``restore``) and books each call's time to its stage, minus the time of wrapped calls nested inside it, so
the stages add up to the step. Backward is split where the gradient reaches the FPN outputs: the time
before is the heads' backward, the time after the backbone's (with FPN).

The stages are the same for both models (``STAGES``); ``instrument_project`` and ``instrument_torchvision``
say which function of each framework belongs to which.
"""

import statistics
import time
from collections import defaultdict
from collections.abc import Callable

import torch

STAGES = ('preprocess (normalise, pad)', 'backbone + FPN', 'RPN + proposal NMS', 'RoI box head (+ NMS)',
          'RoI mask head', 'mask pasting', 'post-processing, other', 'backward: heads',
          'backward: backbone + FPN', 'optimizer step')
OTHER = 'post-processing, other'


class StageTimer:
    """Exclusive seconds per stage for one call at a time (``measure``), collected over many calls."""

    def __init__(self, synchronize: Callable[[], None] = lambda: None) -> None:
        self.synchronize = synchronize
        self.calls: list[dict[str, float]] = []  # one dict per measured call
        self._current: dict[str, float] = defaultdict(float)
        self._nested: list[float] = []
        self._wrapped: list[tuple[object, str, object, bool]] = []
        self._gradient_arrivals: list[float] = []

    def wrap(self, owner: object, attribute: str, stage: str, mark_backward: bool = False) -> None:
        """Books `owner.attribute(...)` calls to `stage`; with mark_backward, notes when the gradients of its
        outputs arrive (the boundary between the heads' backward and the backbone's)."""
        original = getattr(owner, attribute)
        own_attribute = attribute in getattr(owner, '__dict__', {})

        def timed(*args, **kwargs):
            self.synchronize()
            self._nested.append(0.0)
            start = time.perf_counter()
            try:
                output = original(*args, **kwargs)
                self.synchronize()
                return output
            finally:
                elapsed = time.perf_counter() - start
                self._current[stage] += elapsed - self._nested.pop()
                if self._nested:
                    self._nested[-1] += elapsed
                if mark_backward:
                    self._mark_gradients(output)

        setattr(owner, attribute, timed)
        self._wrapped.append((owner, attribute, original, own_attribute))

    def _mark_gradients(self, output) -> None:
        tensors = output.values() if isinstance(output, dict) else output
        for tensor in tensors:
            if isinstance(tensor, torch.Tensor) and tensor.requires_grad:
                tensor.register_hook(lambda grad: self._gradient_arrivals.append(time.perf_counter()))

    def time_backward(self, loss: torch.Tensor) -> None:
        self._gradient_arrivals = []
        start = time.perf_counter()
        loss.backward()
        self.synchronize()
        end = time.perf_counter()
        boundary = max(self._gradient_arrivals, default=end)
        self._current['backward: heads'] += boundary - start
        self._current['backward: backbone + FPN'] += end - boundary

    def time_stage(self, stage: str, call: Callable[[], object]) -> object:
        start = time.perf_counter()
        output = call()
        self.synchronize()
        self._current[stage] += time.perf_counter() - start
        return output

    def measure(self, call: Callable[[], object]) -> tuple[float, object]:
        """Runs `call`, books its unwrapped time to OTHER; returns (seconds, what it returned)."""
        self._current = defaultdict(float)
        self.synchronize()
        start = time.perf_counter()
        output = call()
        self.synchronize()
        total = time.perf_counter() - start
        self._current[OTHER] += total - sum(self._current.values())
        self.calls.append(dict(self._current))
        return total, output

    def medians(self) -> dict[str, float]:
        """Median seconds per stage over the measured calls."""
        return {stage: statistics.median(call.get(stage, 0.0) for call in self.calls) for stage in STAGES
                if any(stage in call for call in self.calls)}

    def reset(self) -> None:
        self.calls = []

    def restore(self) -> None:
        for owner, attribute, original, own_attribute in reversed(self._wrapped):
            if own_attribute:
                setattr(owner, attribute, original)
            else:
                delattr(owner, attribute)
        self._wrapped = []


def instrument_project(timer: StageTimer, model) -> None:
    """MMDetection's TwoStageDetector + StandardRoIHead: training (loss) and inference (predict) paths."""
    timer.wrap(model.data_preprocessor, 'forward', STAGES[0])
    timer.wrap(model, 'extract_feat', STAGES[1], mark_backward=True)
    timer.wrap(model.rpn_head, 'loss_and_predict', STAGES[2])
    timer.wrap(model.rpn_head, 'predict', STAGES[2])
    timer.wrap(model.roi_head, 'loss', STAGES[3])  # assigning and sampling RoIs, box head and loss
    timer.wrap(model.roi_head, 'predict_bbox', STAGES[3])
    timer.wrap(model.roi_head, 'mask_loss', STAGES[4])
    timer.wrap(model.roi_head, 'predict_mask', STAGES[4])
    timer.wrap(model.roi_head.mask_head, 'predict_by_feat', STAGES[5])  # sigmoid, paste into the image


def instrument_torchvision(timer: StageTimer, model) -> None:
    """torchvision's GeneralizedRCNN + RoIHeads (its mask loss and inference are module functions)."""
    from torchvision.models.detection import roi_heads

    timer.wrap(model.transform, 'forward', STAGES[0])
    timer.wrap(model.backbone, 'forward', STAGES[1], mark_backward=True)
    timer.wrap(model.rpn, 'forward', STAGES[2])
    timer.wrap(model.roi_heads, 'forward', STAGES[3])
    for part in (model.roi_heads.mask_roi_pool, model.roi_heads.mask_head, model.roi_heads.mask_predictor):
        timer.wrap(part, 'forward', STAGES[4])
    timer.wrap(roi_heads, 'maskrcnn_loss', STAGES[4])
    timer.wrap(roi_heads, 'maskrcnn_inference', STAGES[4])
    timer.wrap(model.transform, 'postprocess', STAGES[5])  # box rescaling and paste_masks_in_image
