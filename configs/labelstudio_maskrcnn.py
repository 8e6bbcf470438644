# Mask R-CNN R50-FPN fine-tuned from COCO on a Label Studio JSON export.
_base_ = ['./_base_/models/mask-rcnn_r50_fpn.py', './_base_/datasets/labelstudio.py',
          './_base_/schedules/finetune_12e.py']

num_classes = len(_base_.classes)
model = dict(roi_head=dict(bbox_head=dict(num_classes=num_classes), mask_head=dict(num_classes=num_classes)))
