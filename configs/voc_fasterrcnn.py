# Faster R-CNN R50-FPN fine-tuned from COCO on VOC-style XML boxes (boxes only).
_base_ = ['./_base_/models/faster-rcnn_r50_fpn.py', './_base_/datasets/voc_xml_boxes.py',
          './_base_/schedules/finetune_12e.py']

model = dict(roi_head=dict(bbox_head=dict(num_classes=len(_base_.classes))))
