# PointRend (Mask R-CNN R50-caffe-FPN with point-wise mask refinement) fine-tuned from COCO on Penn-Fudan.
_base_ = ['./_base_/models/point-rend_r50-caffe_fpn.py', './_base_/datasets/pennfudan.py',
          './_base_/schedules/finetune_12e.py']

num_classes = len(_base_.classes)
model = dict(roi_head=dict(bbox_head=dict(num_classes=num_classes), mask_head=dict(num_classes=num_classes),
                           point_head=dict(num_classes=num_classes)))
