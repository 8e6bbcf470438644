"""RoI Align and NMS as torch functions that run mmcv's kernels eagerly and export as standard ONNX operators.

mmcv 2.1's own RoIAlign exports the opset-10 operator with the rois shifted by half a pixel, which still
clamps small RoIs to one pixel and so differs from ``aligned=True``; its NMS has no ONNX export at all
(mmdeploy supplied both). Opset 16's RoiAlign has ``coordinate_transformation_mode='half_pixel'``, exactly
mmcv's ``aligned=True``, and NonMaxSuppression with one class is mmcv's ``nms`` (IoU above the threshold
suppresses, kept indices in decreasing score order).
"""

import torch
from mmcv.ops import nms, roi_align
from torch import Tensor

# RoiAlign's half_pixel mode needs opset 16.
OPSET = 16
# NonMaxSuppression keeps nothing unless told how many boxes it may keep per class: more than any image has.
MAX_KEPT = 1 << 30


class RoIAlignOp(torch.autograd.Function):
    """mmcv ``roi_align`` (mode 'avg') on one feature level: rois (K, 5) = batch index, x1, y1, x2, y2."""

    @staticmethod
    def forward(ctx, features: Tensor, rois: Tensor, output_size: tuple[int, int], spatial_scale: float,
                sampling_ratio: int, aligned: bool) -> Tensor:
        return roi_align(features, rois, output_size, spatial_scale, sampling_ratio, 'avg', aligned)

    @staticmethod
    def symbolic(g, features, rois, output_size, spatial_scale, sampling_ratio, aligned):
        batch_index = g.op('Gather', rois, g.op('Constant', value_t=torch.tensor(0)), axis_i=1)
        batch_index = g.op('Cast', batch_index, to_i=torch.onnx.TensorProtoDataType.INT64)
        boxes = g.op('Gather', rois, g.op('Constant', value_t=torch.tensor([1, 2, 3, 4])), axis_i=1)
        return g.op('RoiAlign', features, boxes, batch_index, mode_s='avg',
                    coordinate_transformation_mode_s='half_pixel' if aligned else 'output_half_pixel',
                    output_height_i=output_size[0], output_width_i=output_size[1],
                    sampling_ratio_i=max(0, sampling_ratio), spatial_scale_f=spatial_scale)


class NMSOp(torch.autograd.Function):
    """mmcv ``nms``: indices of the kept boxes (N, 4) in decreasing score order."""

    @staticmethod
    def forward(ctx, boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
        return nms(boxes, scores, iou_threshold)[1]

    @staticmethod
    def symbolic(g, boxes, scores, iou_threshold):
        zero = g.op('Constant', value_t=torch.tensor([0]))
        batch_boxes = g.op('Unsqueeze', boxes, zero)  # (1, N, 4)
        class_scores = g.op('Unsqueeze', scores, g.op('Constant', value_t=torch.tensor([0, 1])))  # (1, 1, N)
        selected = g.op('NonMaxSuppression', batch_boxes, class_scores,
                        g.op('Constant', value_t=torch.tensor([MAX_KEPT])),
                        g.op('Constant', value_t=torch.tensor([iou_threshold], dtype=torch.float32)))
        return g.op('Gather', selected, g.op('Constant', value_t=torch.tensor(2)), axis_i=1)  # box index


def batched_nms_keep(boxes: Tensor, scores: Tensor, groups: Tensor, iou_threshold: float) -> Tensor:
    """Indices kept by NMS run separately within each group, in decreasing score order: mmcv's
    ``batched_nms``, with its trick of moving each group's boxes apart so one NMS serves all groups."""
    offsets = groups.to(boxes) * (boxes.max() + 1)
    return NMSOp.apply(boxes + offsets[:, None], scores, iou_threshold)
