# Mask R-CNN R50-FPN (mask-rcnn_r50_fpn.py, with its COCO checkpoint) that predicts what MMDetection's
# MaskRCNN predicts, faster on the CPU (custom/models/fast_mask_rcnn.py): channels-last convolutions,
# BatchNorm folded into the backbone for inference, RoIAlign as one sparse matrix product
# (custom/models/roi_align.py), masks pasted by two matrix products per box. Put it in a config's `_base_` in
# place of mask-rcnn_r50_fpn.py (beside it, mmengine refuses the `model` both bases set).
_base_ = './mask-rcnn_r50_fpn.py'

model = dict(type='FastMaskRCNN',
             roi_head=dict(bbox_roi_extractor=dict(type='SparseRoIExtractor'),
                           mask_roi_extractor=dict(type='SparseRoIExtractor'),
                           mask_head=dict(type='SeparablePasteMaskHead')))
