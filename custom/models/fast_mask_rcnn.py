"""Mask R-CNN that predicts what MMDetection's MaskRCNN predicts, faster on the CPU.

    model = dict(type='FastMaskRCNN', roi_head=dict(mask_head=dict(type='SeparablePasteMaskHead')))

(``configs/_base_/models/fast_mask_rcnn.py``), measured by benchmarks/torchvision_speed.py:

- channels-last convolutions: oneDNN's 3x3 convolutions run about 20% faster on NHWC tensors on this CPU
  (2 threads: the mask head's 4 convs on 100 RoIs 460 -> 375 ms, ResNet-50 at 512x384 x2 4.0 -> 3.3 s).
  The FPN outputs are made contiguous again because mmcv's RoIAlign reads its input as NCHW memory (on a
  channels-last map it returns wrong values: measured max difference 1.7 on a unit-variance random map).
- BatchNorm folded into the convolutions for inference: with frozen statistics (``norm_eval``) a BN layer
  is an affine map, so conv+BN is one conv with scaled weights. The folded copy of the backbone is kept
  outside the state dict (checkpoints are unchanged) and rebuilt when a backbone weight changed.
- mask pasting as two small matrix products per mask over its box region (``paste_masks_separable``), the
  same bilinear values as MMDetection's grid_sample pasting, which on the CPU took longer than the mask
  head's convolutions.
- (in the config, not this class) RoIAlign as a sparse matrix product: ``custom/models/roi_align.py``.
"""

import copy

import torch
from mmcv.cnn import fuse_conv_bn
from mmdet.models.detectors import MaskRCNN
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmdet.registry import MODELS
from torch import Tensor


def paste_masks_separable(masks: Tensor, boxes: Tensor, height: int, width: int, threshold: float) -> Tensor:
    """(N, H, W) bool masks: each (M, M) probability mask resized into its box and thresholded (>=).

    Bilinear sampling with zero padding at pixel centres, exactly what ``F.grid_sample(align_corners=False)``
    over the box computes, written as ``rows @ mask @ columns.T``: a pixel centre at x maps to the mask
    coordinate u = (x + 0.5 - x1) / (x2 - x1) * M - 0.5, and its bilinear weight on mask column k is the
    tent max(0, 1 - |u - k|) (out-of-mask columns weigh nothing: zero padding). Only the box region plus one
    pixel is computed; everything else is background, as in MMDetection's CPU pasting.
    """
    pasted = torch.zeros(len(masks), height, width, dtype=torch.bool, device=masks.device)
    size = masks.shape[-1]
    cells = torch.arange(size, dtype=torch.float32, device=masks.device)
    for index, (mask, box) in enumerate(zip(masks, boxes.float(), strict=True)):
        x1, y1, x2, y2 = box.tolist()
        left, top = max(int(box[0].floor()) - 1, 0), max(int(box[1].floor()) - 1, 0)
        right, bottom = min(int(box[2].ceil()) + 1, width), min(int(box[3].ceil()) + 1, height)
        if right <= left or bottom <= top:
            continue
        rows = _tent_weights(top, bottom, y1, y2, size, cells)
        columns = _tent_weights(left, right, x1, x2, size, cells)
        values = rows @ mask.float() @ columns.T
        pasted[index, top:bottom, left:right] = values >= threshold
    return pasted


def _tent_weights(start: int, stop: int, low: float, high: float, size: int, cells: Tensor) -> Tensor:
    """(stop - start, size) bilinear weights of pixel centres start..stop-1 on the mask cells."""
    centres = torch.arange(start, stop, dtype=torch.float32, device=cells.device) + 0.5
    if high > low:
        coordinates = (centres - low) / (high - low) * size - 0.5
    else:  # a zero-size box: grid_sample's inf coordinate is replaced by the mask centre, as MMDetection does
        coordinates = torch.full_like(centres, (size - 1) / 2)
    return (1 - (coordinates[:, None] - cells[None, :]).abs()).clamp(min=0)


@MODELS.register_module()
class SeparablePasteMaskHead(FCNMaskHead):
    """FCNMaskHead whose inference pastes masks with ``paste_masks_separable`` (CPU, binary masks); anything
    else (GPU, augmentation test, soft masks) keeps FCNMaskHead's pasting."""

    def _predict_by_feat_single(self, mask_preds: Tensor, bboxes: Tensor, labels: Tensor, img_meta: dict,
                                rcnn_test_cfg, rescale: bool = False, activate_map: bool = False) -> Tensor:
        threshold = rcnn_test_cfg.mask_thr_binary
        if bboxes.device.type != 'cpu' or activate_map or threshold < 0:
            return super()._predict_by_feat_single(mask_preds, bboxes, labels, img_meta, rcnn_test_cfg,
                                                   rescale, activate_map)
        scale_factor = bboxes.new_tensor(img_meta['scale_factor']).repeat((1, 2))
        height, width = img_meta['ori_shape'][:2]
        if rescale:  # in place, as FCNMaskHead: this is where the predicted boxes reach the original scale
            bboxes /= scale_factor
        else:  # masks at the network input's size, as FCNMaskHead rounds it
            height = int(round(height * float(scale_factor[0, 1])))
            width = int(round(width * float(scale_factor[0, 0])))
        probabilities = mask_preds.sigmoid()
        if not self.class_agnostic:
            probabilities = probabilities[range(len(probabilities)), labels]
        else:
            probabilities = probabilities[:, 0]
        return paste_masks_separable(probabilities, bboxes, height, width, threshold)


@MODELS.register_module()
class FastMaskRCNN(MaskRCNN):
    """MaskRCNN with channels-last convolutions and, for inference, BatchNorm folded into the backbone's
    convolutions (module docstring). Same parameters and state dict as MaskRCNN."""

    def __init__(self, *args, channels_last: bool = True, fold_batchnorm: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.channels_last = channels_last
        self.fold_batchnorm = fold_batchnorm
        self._folded: list = []  # [(parameter versions, folded backbone)]; a list keeps it out of state_dict
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def extract_feat(self, batch_inputs: Tensor) -> tuple[Tensor, ...]:
        if self.channels_last:
            batch_inputs = batch_inputs.contiguous(memory_format=torch.channels_last)
        backbone = self.backbone if self.training or not self.fold_batchnorm else self._folded_backbone()
        features = self.neck(backbone(batch_inputs))
        return tuple(level.contiguous() for level in features)  # mmcv's RoIAlign reads NCHW memory

    def _folded_backbone(self) -> torch.nn.Module:
        """The backbone with BatchNorm folded in, rebuilt when a backbone parameter or buffer changed in place
        (optimizer steps and load_state_dict bump the tensors' version counters)."""
        tensors = (*self.backbone.parameters(), *self.backbone.buffers())
        versions = tuple(tensor._version for tensor in tensors)
        if not self._folded or self._folded[0][0] != versions:
            folded = copy.deepcopy(self.backbone)
            folded.eval()  # mmdet's ResNet.train() returns None, so no chaining
            with torch.no_grad():
                folded = fuse_conv_bn(folded)
            self._folded[:] = [(versions, folded)]
        return self._folded[0][1]
