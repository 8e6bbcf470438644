# Mask R-CNN X101-32x4d-FPN fine-tuned from COCO on Penn-Fudan pedestrians.
_base_ = ['./_base_/models/mask-rcnn_x101-32x4d_fpn.py', './_base_/datasets/pennfudan.py',
          './_base_/schedules/finetune_12e.py']

num_classes = len(_base_.classes)
model = dict(roi_head=dict(bbox_head=dict(num_classes=num_classes), mask_head=dict(num_classes=num_classes)))
