# Mask R-CNN R50-FPN with multi-scale training, fine-tuned from MMDetection's multi-scale (3x) COCO
# checkpoint.
_base_ = './pennfudan_maskrcnn.py'

load_from = ('https://download.openmmlab.com/mmdetection/v2.0/mask_rcnn/mask_rcnn_r50_fpn_mstrain-poly_3x_coco/'
             'mask_rcnn_r50_fpn_mstrain-poly_3x_coco_20210524_201154-21b550bb.pth')
# As that checkpoint was trained: the shorter side drawn from 640-800 px (longer side at most 1333); tested at
# 800.
train_pipeline = [dict(type='RandomResize', scale=[(1333, 640), (1333, 800)], keep_ratio=True)
                  if step['type'] == 'Resize' else step for step in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
