# Mask R-CNN R50-FPN fine-tuned from COCO on Penn-Fudan pedestrians (120 train / 50 val images).
_base_ = ['./_base_/models/mask-rcnn_r50_fpn.py', './_base_/datasets/pennfudan.py',
          './_base_/schedules/finetune_12e.py']

# load_from, the COCO checkpoint's URL, comes from the model base. Offline: download the file once and pass
# `--cfg-options load_from=/path/to/file.pth`, or put it where the error message says (see README "Offline
# checkpoints").
num_classes = len(_base_.classes)
model = dict(roi_head=dict(bbox_head=dict(num_classes=num_classes), mask_head=dict(num_classes=num_classes)))
