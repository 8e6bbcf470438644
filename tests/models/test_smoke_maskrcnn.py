"""The stack works: Mask R-CNN from our config trains one step and predicts on CPU."""

import math

import numpy as np
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.structures import InstanceData

CONFIG = 'configs/pennfudan_maskrcnn.py'


def build_untrained_model() -> torch.nn.Module:
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.init_cfg = None  # no ImageNet download in tests
    register_all_modules()
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def synthetic_sample(height: int = 96, width: int = 128) -> tuple[torch.Tensor, DetDataSample]:
    """A grey image with one bright 'person' rectangle and its box and mask as ground truth."""
    image = np.full((height, width, 3), 90, np.uint8)
    image[20:80, 40:70] = 220
    mask = np.zeros((1, height, width), np.uint8)
    mask[0, 20:80, 40:70] = 1
    sample = DetDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                                         pad_shape=(height, width), scale_factor=(1.0, 1.0),
                                         batch_input_shape=(height, width)))
    sample.gt_instances = InstanceData(bboxes=torch.tensor([[40.0, 20.0, 70.0, 80.0]]),
                                       labels=torch.tensor([0]),
                                       masks=BitmapMasks(mask, height, width))
    return torch.from_numpy(image).permute(2, 0, 1), sample


def test_config_builds_mask_rcnn_with_one_class():
    cfg = Config.fromfile(CONFIG)
    assert cfg.model.type == 'MaskRCNN'
    assert cfg.model.roi_head.bbox_head.num_classes == 1
    assert cfg.model.roi_head.mask_head.num_classes == 1
    model = build_untrained_model()
    assert model.roi_head.bbox_head.fc_cls.out_features == 2  # one class + background
    assert model.roi_head.mask_head.conv_logits.out_channels == 1


def test_one_training_step_gives_finite_losses_and_updates_weights():
    torch.set_num_threads(2)
    model = build_untrained_model()
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    image, sample = synthetic_sample()
    data = model.data_preprocessor({'inputs': [image], 'data_samples': [sample]}, training=True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'loss_mask'} <= set(losses)
    total = sum(v.sum() if isinstance(v, torch.Tensor) else sum(x.sum() for x in v) for v in losses.values())
    assert math.isfinite(total.item()) and total.item() > 0
    before = model.roi_head.mask_head.conv_logits.weight.detach().clone()
    optimizer.zero_grad()
    total.backward()
    optimizer.step()
    assert not torch.equal(before, model.roi_head.mask_head.conv_logits.weight)


def test_inference_outputs_have_documented_shapes_and_masks_pasted_into_their_boxes():
    model = build_untrained_model()
    model.eval()
    image, sample = synthetic_sample()
    with torch.no_grad():
        data = model.data_preprocessor({'inputs': [image], 'data_samples': [sample]}, training=False)
        result = model.predict(data['inputs'], data['data_samples'])[0]
    pred = result.pred_instances
    n = len(pred)
    # Untrained, the classifier scores every RoI about 0.5, over test_cfg.rcnn.score_thr 0.05: detections
    # there must be, so the checks below always run; at most test_cfg.rcnn.max_per_img of them.
    assert 0 < n <= 100
    assert pred.bboxes.shape == (n, 4)
    assert pred.scores.shape == (n,) and pred.labels.shape == (n,)
    assert pred.masks.shape == (n, 96, 128) and pred.masks.dtype == torch.bool
    assert (pred.labels == 0).all()
    assert (pred.scores >= 0.05).all() and (pred.scores <= 1).all()
    boxes = pred.bboxes
    assert (boxes[:, 2:] > boxes[:, :2]).all()
    assert (boxes >= 0).all() and (boxes[:, [0, 2]] <= 128).all() and (boxes[:, [1, 3]] <= 96).all()
    # Each mask is pasted into its own box: some pixels set, none whose centre lies a pixel or more outside.
    assert pred.masks.flatten(1).any(1).all()
    centre_y = torch.arange(96.0)[:, None] + 0.5
    centre_x = torch.arange(128.0)[None, :] + 0.5
    for (x1, y1, x2, y2), mask in zip(boxes.tolist(), pred.masks, strict=True):
        near_box = ((centre_x > x1 - 1) & (centre_x < x2 + 1) & (centre_y > y1 - 1) & (centre_y < y2 + 1))
        outside = int((mask & ~near_box).sum())
        assert outside == 0, f'{outside} mask pixels outside the box {[x1, y1, x2, y2]}'
