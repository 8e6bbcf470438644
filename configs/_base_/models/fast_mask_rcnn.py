# Mask R-CNN that predicts what MMDetection's MaskRCNN predicts, faster on the CPU
# (custom/models/fast_mask_rcnn.py): channels-last convolutions, BatchNorm folded into the backbone for
# inference, RoIAlign as one sparse matrix product (custom/models/roi_align.py), masks pasted by two matrix
# products per box. List it after the model base in `_base_`.
model = dict(type='FastMaskRCNN',
             roi_head=dict(bbox_roi_extractor=dict(type='SparseRoIExtractor'),
                           mask_roi_extractor=dict(type='SparseRoIExtractor'),
                           mask_head=dict(type='SeparablePasteMaskHead')))
