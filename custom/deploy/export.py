"""Export a trained two-stage detector (Mask R-CNN, Faster R-CNN) to an ONNX file that ONNX Runtime runs.

mmdeploy 1.3.1, the last release, does not run with torch 2.13 (docs/deploy.md), so the export is
``torch.onnx.export`` with the TorchScript-based exporter (``dynamo=False``): it traces the graph below with
the image height and width as dynamic axes, and RoI Align and NMS become standard ONNX operators
(onnx_ops.py).

The graph (``DetectorGraph``) takes the image as the test pipeline leaves it, resized (BGR, uint8, H x W x 3),
and computes what ``model.predict(rescale=False)`` does: normalisation and padding (the data preprocessor),
backbone and neck, RPN proposals, RoI head boxes with per-class NMS and, with a mask head, the 28 x 28 mask
probabilities of each detection's class. Resizing, scaling boxes back to the original image and pasting masks
stay outside, in custom/deploy/onnx_runtime.py, because they need the original image size and reproduce
OpenCV/numpy code exactly where ONNX operators would not (cv2's bilinear resize). The file's metadata carries
what that code needs: classes, the test resize, the mask threshold.
"""

import json
import math
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from mmcv.ops import RoIAlign
from mmdet.apis import init_detector
from mmdet.models.dense_heads import RPNHead
from mmdet.models.detectors import TwoStageDetector
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.roi_heads.bbox_heads import (
    BBoxHead,
    ConvFCBBoxHead,
    Shared2FCBBoxHead,
    Shared4Conv1FCBBoxHead,
)
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder
from mmdet.models.task_modules.prior_generators import AnchorGenerator
from mmdet.registry import MODELS
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import get_test_pipeline_cfg, register_all_modules
from mmengine.config import Config
from torch import Tensor, nn

from custom.deploy.onnx_ops import OPSET, RoIAlignOp, batched_nms_keep
from custom.deploy.onnx_runtime import METADATA_FORMAT
from custom.engine.checkpoints import check_checkpoint_fits
from custom.engine.runtime import load_config
from custom.errors import ExportError, shortened
from custom.models.fast_mask_rcnn import SeparablePasteMaskHead
from custom.models.roi_align import SparseRoIAlign, SparseRoIExtractor

INPUT = 'image'
OUTPUTS = ('boxes', 'scores', 'labels', 'mask_probs')
# DeltaXYWHBBoxCoder.decode's default, which the RPN and RoI heads use: widths and heights change at most
# by this factor (or its inverse).
WH_RATIO_CLIP = 16 / 1000
# Test pipeline steps the ONNX Runtime side reproduces (loading, one resize) or that do nothing at inference.
PIPELINE_STEPS = {'LoadImageFromFile', 'LoadImageFromNDArray', 'Resize', 'LoadAnnotations', 'PackDetInputs'}


# ---------------------------------------------------------------- what can be exported

def unsupported_parts(model: nn.Module, cfg: Config) -> list[str]:
    """Every part of the model or test pipeline the export cannot reproduce, as 'part (type): reason'."""
    if not isinstance(model, TwoStageDetector) or not model.with_rpn:
        return [f'model ({type(model).__name__}): not a two-stage detector with an RPN; the export covers '
                'Faster R-CNN and Mask R-CNN (TwoStageDetector + RPNHead + StandardRoIHead)']
    problems = []

    def require(part: str, module: object, types: tuple[type, ...]) -> bool:
        if type(module) in types:
            return True
        names = ', '.join(t.__name__ for t in types)
        problems.append(f'{part} ({type(module).__name__}): the export supports {names}')
        return False

    rpn, roi_head = model.rpn_head, model.roi_head
    require('model.rpn_head', rpn, (RPNHead,))
    require('model.rpn_head.prior_generator', rpn.prior_generator, (AnchorGenerator,))
    coder = rpn.bbox_coder
    if require('model.rpn_head.bbox_coder', coder, (DeltaXYWHBBoxCoder,)) and coder.add_ctr_clamp:
        problems.append('model.rpn_head.bbox_coder: add_ctr_clamp=True is not exported')
    if require('model.roi_head', roi_head, (StandardRoIHead,)):
        if roi_head.with_shared_head:
            problems.append('model.roi_head.shared_head: RoI heads with a shared head are not exported')
        bbox_head = roi_head.bbox_head
        if require('model.roi_head.bbox_head', bbox_head,
                   (BBoxHead, ConvFCBBoxHead, Shared2FCBBoxHead, Shared4Conv1FCBBoxHead)):
            if bbox_head.custom_cls_channels:
                problems.append('model.roi_head.bbox_head.loss_cls: custom activations are not exported')
            coder = bbox_head.bbox_coder
            if require('model.roi_head.bbox_head.bbox_coder', coder, (DeltaXYWHBBoxCoder,)) \
                    and coder.add_ctr_clamp:
                problems.append('model.roi_head.bbox_head.bbox_coder: add_ctr_clamp=True is not exported')
        extractors = {'bbox_roi_extractor': roi_head.bbox_roi_extractor}
        if roi_head.with_mask:
            # SeparablePasteMaskHead differs only in its eager pasting, which the export replaces.
            require('model.roi_head.mask_head', roi_head.mask_head, (FCNMaskHead, SeparablePasteMaskHead))
            if not roi_head.share_roi_extractor:
                extractors['mask_roi_extractor'] = roi_head.mask_roi_extractor
        for name, extractor in extractors.items():
            if require(f'model.roi_head.{name}', extractor, (SingleRoIExtractor, SparseRoIExtractor)):
                layer = extractor.roi_layers[0]
                if type(layer) not in (RoIAlign, SparseRoIAlign) or layer.pool_mode != 'avg' \
                        or layer.use_torchvision:
                    problems.append(f'model.roi_head.{name}.roi_layer ({type(layer).__name__}): the export '
                                    "supports mmcv's RoIAlign with pool_mode='avg'")
    for stage in ('rpn', 'rcnn'):
        nms_cfg = model.test_cfg[stage].nms
        if nms_cfg.get('type', 'nms') != 'nms':
            problems.append(f'model.test_cfg.{stage}.nms (type={nms_cfg.type}): only plain NMS is exported')
    compiled_ops: dict[str, list[str]] = {}  # deformable convolutions and other compiled mmcv ops, by type
    for name, module in model.named_modules():
        if type(module).__module__.startswith('mmcv.ops') and '_roi_extractor.' not in name:
            compiled_ops.setdefault(type(module).__name__, []).append(f'model.{name}')
    for op, names in compiled_ops.items():
        problems.append(f'{shortened(names)} ({op}): an mmcv compiled op with no standard ONNX operator')
    for step in get_test_pipeline_cfg(cfg):
        step_type = step['type'].split('.')[-1]
        if step_type not in PIPELINE_STEPS:
            problems.append(f'test pipeline step {step_type}: not reproduced by the ONNX Runtime side, '
                            f'which resizes only (Resize with scale and keep_ratio)')
        elif step_type == 'Resize' and ('scale' not in step
                                        or step.get('interpolation', 'bilinear') != 'bilinear'):
            problems.append('test pipeline Resize: the ONNX Runtime side needs a scale and bilinear '
                            'interpolation')
    return problems


def pipeline_resize(cfg: Config) -> dict:
    """The test pipeline's Resize as {'scale': [w, h], 'keep_ratio': bool}."""
    for step in get_test_pipeline_cfg(cfg):
        if step['type'].split('.')[-1] == 'Resize':
            return {'scale': [int(v) for v in step['scale']],
                    'keep_ratio': bool(step.get('keep_ratio', False))}
    raise ExportError('the test pipeline has no Resize step; the exported model needs one for its input size')


def load_exportable_model(config: str | Path, checkpoint: str | Path, cfg_options: dict | None = None,
                          **data_options) -> tuple[nn.Module, Config]:
    """The detector as tools/infer.py's PyTorch backend builds it (init_detector), after checking that the
    model can be exported and the checkpoint fits it; either problem stops here, before anything is traced.
    ``data_options``: --classes and the other data flags, as ``load_config`` takes them."""
    cfg = load_config(config, cfg_options, **data_options)
    register_all_modules()
    model = MODELS.build(cfg.model)
    problems = unsupported_parts(model, cfg)
    if problems:
        raise ExportError(f'{config}: cannot export this model to ONNX:\n  ' + '\n  '.join(problems))
    check_checkpoint_fits(model, checkpoint, config)
    return init_detector(cfg, str(checkpoint), device='cpu'), cfg


# ---------------------------------------------------------------- the traced graph

def at_most(values: Tensor, k: int) -> Tensor:
    """min(len(values), k) as a tensor, so a trace records it instead of freezing the example's length."""
    return torch.clamp(torch._shape_as_tensor(values)[0], max=k)


def decode_deltas(coder: DeltaXYWHBBoxCoder, anchors: Tensor, deltas: Tensor, image_size: Tensor) -> Tensor:
    """mmdet's delta2bbox, the same arithmetic in the same order, clipped to the image size given as a tensor:
    delta2bbox clamps in place with Python numbers, which a trace would freeze at the example's size."""
    deltas = deltas * deltas.new_tensor(coder.stds) + deltas.new_tensor(coder.means)
    centers = (anchors[:, :2] + anchors[:, 2:]) * 0.5
    sizes = anchors[:, 2:] - anchors[:, :2]
    max_ratio = abs(math.log(WH_RATIO_CLIP))
    centers = centers + sizes * deltas[:, :2]
    sizes = sizes * deltas[:, 2:].clamp(min=-max_ratio, max=max_ratio).exp()
    boxes = torch.cat([centers - sizes * 0.5, centers + sizes * 0.5], dim=-1)
    if coder.clip_border:
        bounds = image_size.flip(0).repeat(2).to(boxes)  # (w, h, w, h)
        boxes = torch.min(boxes.clamp(min=0), bounds)
    return boxes


def extract_rois(extractor: SingleRoIExtractor, feats: tuple[Tensor, ...], rois: Tensor) -> Tensor:
    """SingleRoIExtractor: each RoI pooled from the FPN level its size maps to. Every level pools every RoI
    and the right one is picked, which traces without data-dependent indexing."""
    levels = len(extractor.featmap_strides)

    def pool(level: int) -> Tensor:
        layer = extractor.roi_layers[level]
        return RoIAlignOp.apply(feats[level], rois, layer.output_size, layer.spatial_scale,
                                layer.sampling_ratio, layer.aligned)

    pooled = pool(0)
    if levels > 1:
        target = extractor.map_roi_levels(rois, levels)[:, None, None, None]
        for level in range(1, levels):
            pooled = torch.where(target == level, pool(level), pooled)
    return pooled


def with_batch_index(boxes: Tensor) -> Tensor:
    """bbox2roi for one image: (N, 4) -> (N, 5) with batch index 0."""
    return torch.cat([boxes.new_zeros((boxes.shape[0], 1)), boxes], dim=1)


class DetectorGraph(nn.Module):
    """forward(image: uint8 (H, W, 3) BGR, resized by the test pipeline) -> boxes (N, 4) in that image's
    pixels, scores (N,), labels (N,) int64 and, with a mask head, mask_probs (N, M, M) of each detection's
    class: what ``model.predict(rescale=False)`` computes before masks are pasted into the image."""

    def __init__(self, detector: TwoStageDetector) -> None:
        super().__init__()
        self.detector = detector
        self.with_mask = detector.roi_head.with_mask

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        image_size = torch._shape_as_tensor(image)[:2]  # (h, w): a tensor, so it stays dynamic in the trace
        feats = self.detector.extract_feat(self.preprocess(image))
        boxes, scores, labels = self.detect(feats, self.proposals(feats, image_size), image_size)
        if not self.with_mask:
            return boxes, scores, labels
        return boxes, scores, labels, self.mask_probs(feats, boxes, labels)

    def preprocess(self, image: Tensor) -> Tensor:
        """DetDataPreprocessor on one image: channel order, mean/std, padding to the size divisor."""
        prep = self.detector.data_preprocessor
        x = image.permute(2, 0, 1)[None].float()
        if prep._channel_conversion:
            x = x.flip(1)
        if prep._enable_normalize:
            x = (x - prep.mean) / prep.std
        divisor = prep.pad_size_divisor
        height, width = x.shape[2], x.shape[3]
        return nn.functional.pad(x, [0, (divisor - width % divisor) % divisor,
                                     0, (divisor - height % divisor) % divisor], value=prep.pad_value)

    def proposals(self, feats: tuple[Tensor, ...], image_size: Tensor) -> Tensor:
        """RPNHead.predict for one image: top nms_pre anchors per level, decoded, small boxes dropped, NMS
        within each level, the best max_per_img kept."""
        head, cfg = self.detector.rpn_head, self.detector.test_cfg.rpn
        cls_scores, bbox_preds = head(feats)
        priors = head.prior_generator.grid_priors([score.shape[-2:] for score in cls_scores],
                                                  device=cls_scores[0].device)
        level_scores, level_deltas, level_anchors, level_ids = [], [], [], []
        per_level = zip(cls_scores, bbox_preds, priors, strict=True)
        for level, (cls_score, bbox_pred, anchors) in enumerate(per_level):
            scores = cls_score[0].permute(1, 2, 0).reshape(-1, head.cls_out_channels)
            scores = (scores.sigmoid() if head.use_sigmoid_cls else scores.softmax(-1)[:, :-1]).reshape(-1)
            deltas = bbox_pred[0].permute(1, 2, 0).reshape(-1, head.bbox_coder.encode_size)
            anchors = get_box_tensor(anchors)
            if cfg.get('nms_pre', -1) > 0:
                scores, top = scores.topk(at_most(scores, cfg.nms_pre))
                deltas, anchors = deltas[top], anchors[top]
            level_scores.append(scores)
            level_deltas.append(deltas)
            level_anchors.append(anchors)
            level_ids.append(torch.full_like(scores, level, dtype=torch.long))
        scores, levels = torch.cat(level_scores), torch.cat(level_ids)
        boxes = decode_deltas(head.bbox_coder, torch.cat(level_anchors), torch.cat(level_deltas), image_size)
        if cfg.get('min_bbox_size', -1) >= 0:
            sizes = boxes[:, 2:] - boxes[:, :2]
            valid = ((sizes[:, 0] > cfg.min_bbox_size) & (sizes[:, 1] > cfg.min_bbox_size)).nonzero()[:, 0]
            boxes, scores, levels = boxes[valid], scores[valid], levels[valid]
        keep = batched_nms_keep(boxes, scores, levels, cfg.nms.iou_threshold)[:cfg.max_per_img]
        return boxes[keep]

    def detect(self, feats: tuple[Tensor, ...], proposals: Tensor,
               image_size: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """StandardRoIHead.predict_bbox for one image: class scores and per-class boxes of every proposal,
        those above score_thr, NMS within each class, the best max_per_img kept (multiclass_nms)."""
        roi_head, cfg = self.detector.roi_head, self.detector.test_cfg.rcnn
        head = roi_head.bbox_head
        rois = with_batch_index(proposals)
        cls_score, bbox_pred = head(extract_rois(roi_head.bbox_roi_extractor, feats, rois))
        scores = cls_score.softmax(-1)[:, :-1]  # (K, classes) without background
        classes = head.num_classes
        box_classes = 1 if head.reg_class_agnostic else classes
        anchors = proposals[:, None].expand(-1, box_classes, 4).reshape(-1, 4)
        boxes = decode_deltas(head.bbox_coder, anchors, bbox_pred.reshape(-1, 4), image_size)
        boxes = boxes.reshape(-1, box_classes, 4).expand(-1, classes, 4).reshape(-1, 4)
        labels = torch.arange(classes)[None].expand_as(scores).reshape(-1)
        scores = scores.reshape(-1)
        valid = (scores > cfg.score_thr).nonzero()[:, 0]
        boxes, scores, labels = boxes[valid], scores[valid], labels[valid]
        groups = torch.zeros_like(labels) if cfg.nms.get('class_agnostic', False) else labels
        keep = batched_nms_keep(boxes, scores, groups, cfg.nms.iou_threshold)[:cfg.max_per_img]
        return boxes[keep], scores[keep], labels[keep]

    def mask_probs(self, feats: tuple[Tensor, ...], boxes: Tensor, labels: Tensor) -> Tensor:
        """FCNMaskHead's sigmoid mask of each detection's class, (N, M, M), before pasting."""
        roi_head = self.detector.roi_head
        extractor = roi_head.mask_roi_extractor
        if roi_head.share_roi_extractor:
            extractor = roi_head.bbox_roi_extractor
        logits = roi_head.mask_head(extract_rois(extractor, feats, with_batch_index(boxes)))
        if not roi_head.mask_head.class_agnostic:
            size = logits.shape[-1]
            logits = logits.gather(1, labels[:, None, None, None].expand(-1, 1, size, size))
        return logits[:, 0].sigmoid()


# ---------------------------------------------------------------- export

def example_image(resize: dict) -> np.ndarray:
    """A noise image of the test size to trace with (the exported graph accepts any size)."""
    width, height = resize['scale']
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def metadata(model: nn.Module, cfg: Config, resize: dict, config: str | Path, checkpoint: str | Path) -> dict:
    """What the ONNX Runtime side needs besides the graph, stored as the file's metadata (strings)."""
    items = {'format': METADATA_FORMAT, 'classes': json.dumps(list(model.dataset_meta.get('classes', ()))),
             'resize': json.dumps(resize), 'config': Path(config).name, 'checkpoint': Path(checkpoint).name}
    if model.roi_head.with_mask:
        items['mask_thr_binary'] = str(float(cfg.model.test_cfg.rcnn.mask_thr_binary))
    return items


def export_onnx(config: str | Path, checkpoint: str | Path, out: str | Path, cfg_options: dict | None = None,
                fixed_size: bool = False, **data_options) -> Path:
    """Writes the detector of config + checkpoint to `out` (ONNX, opset 16, dynamic height and width; with
    `fixed_size`, the input's height and width are those of the config's test resize instead)."""
    model, cfg = load_exportable_model(config, checkpoint, cfg_options, **data_options)
    resize = pipeline_resize(cfg)
    graph = DetectorGraph(model).eval()
    outputs = list(OUTPUTS if graph.with_mask else OUTPUTS[:3])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    dynamic_axes = {name: {0: 'detections'} for name in outputs}
    if not fixed_size:
        dynamic_axes[INPUT] = {0: 'height', 1: 'width'}
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter warns that it is deprecated (the dynamo one cannot trace this model, see
        # docs/deploy.md); tracer warnings are about the Python control flow of a fixed model structure.
        warnings.simplefilter('ignore')
        try:
            torch.onnx.export(graph, (torch.from_numpy(example_image(resize)),), str(out), dynamo=False,
                              opset_version=OPSET, input_names=[INPUT], output_names=outputs,
                              dynamic_axes=dynamic_axes)
        except torch.onnx.errors.OnnxExporterError as error:  # an operator of the model has no ONNX export
            raise ExportError(f'{config}: torch.onnx cannot export this model: {error}') from error
    exported = onnx.load(str(out))
    onnx.checker.check_model(exported)
    for key, value in metadata(model, cfg, resize, config, checkpoint).items():
        exported.metadata_props.add(key=key, value=value)
    onnx.save(exported, str(out))
    return out
