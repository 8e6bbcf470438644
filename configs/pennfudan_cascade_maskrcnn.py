# Cascade Mask R-CNN R50-FPN fine-tuned from COCO on Penn-Fudan pedestrians.
_base_ = ['./_base_/models/cascade-mask-rcnn_r50_fpn.py', './_base_/datasets/pennfudan.py',
          './_base_/schedules/finetune_12e.py']

num_classes = len(_base_.classes)
# The box heads of the three stages are a list, so each is given the classes.
stage_heads = [dict(head, num_classes=num_classes) for head in _base_.model.roi_head.bbox_head]
model = dict(roi_head=dict(bbox_head=stage_heads, mask_head=dict(num_classes=num_classes)))
