# Faster R-CNN R50-FPN fine-tuned from COCO on your COCO instances json of boxes only (annotations without
# masks); configs/coco_json_maskrcnn.py is the same data with masks.
_base_ = ['./_base_/models/faster-rcnn_r50_fpn.py', './_base_/datasets/coco_json_boxes.py',
          './_base_/schedules/finetune_12e.py']

model = dict(roi_head=dict(bbox_head=dict(num_classes=len(_base_.classes))))
